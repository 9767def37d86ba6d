"""Field map between fairseq ``mega_lm`` args and HF ``MegaConfig`` (hf-mapping.md section 2).

``FIELDS`` lists (fairseq arg, MegaConfig field) pairs copied as they are; the rest (chunking, FFN, norms,
embedding scale, head) is derived in ``to_hf_config`` / ``to_fairseq_args``, which refuse what the other side cannot
represent with one line naming the field.
"""

from argparse import Namespace

from conversion.errors import ConversionError

FIELDS = [
    ("decoder_embed_dim", "hidden_size"),
    ("decoder_layers", "num_hidden_layers"),
    ("decoder_hidden_dim", "intermediate_size"),
    ("decoder_n_dim", "ema_projection_size"),
    ("decoder_z_dim", "shared_representation_size"),
    ("truncation_length", "truncation"),
    ("normalization_type", "normalization_type"),
    ("activation_fn", "activation"),
    ("attention_activation_fn", "attention_activation"),
    ("rel_pos_bias", "relative_positional_bias"),
    ("dropout", "dropout_prob"),
    ("attention_dropout", "attention_probs_dropout_prob"),
    ("hidden_dropout", "hidden_dropout_prob"),
    ("activation_dropout", "nffn_activation_dropout_prob"),
    ("feature_dropout", "use_feature_dropout"),
]


def to_hf_config(args, vocab_size: int, remote_code: bool) -> dict:
    """MegaConfig keyword arguments for a fairseq ``mega_lm`` model (raises for unrepresentable features)."""
    refusals = [
        (getattr(args, "adaptive_input", False), "adaptive_input"),
        (getattr(args, "adaptive_softmax_cutoff", None) is not None, "adaptive_softmax_cutoff"),
        (getattr(args, "normalize_embedding", False), "normalize_embedding (embed_norm)"),
        (args.decoder_input_dim != args.decoder_embed_dim, "decoder_input_dim (project_in_dim)"),
        (args.normalization_type == "rmsnorm", "normalization_type=rmsnorm (HF's MegaRMSNorm does not normalise)"),
    ]
    for refused, field in refusals:
        if refused:
            raise ConversionError(f"Hugging Face Mega cannot represent {field}")
    has_final_norm = args.normalize_before and not getattr(args, "no_final_norm", False)
    if has_final_norm and not remote_code:
        raise ConversionError(
            "pre-norm fairseq model with a final norm: HF MegaForCausalLM has no final norm; "
            "use --remote-code to write a subclass that adds it"
        )
    config = {hf: getattr(args, fs) for fs, hf in FIELDS}
    chunk = args.decoder_chunk_size
    config.update(
        vocab_size=vocab_size,
        use_chunking=chunk > 0,
        chunk_size=chunk if chunk > 0 else -1,
        max_positions=args.max_target_positions,
        use_normalized_ffn=args.decoder_ffn_embed_dim > 0,
        nffn_hidden_size=args.decoder_ffn_embed_dim if args.decoder_ffn_embed_dim > 0 else args.decoder_hidden_dim,
        normalize_before_mega=args.normalize_before,
        normalize_before_ffn=args.normalize_before,
        norm_affine=True,
        bidirectional=False,
        is_decoder=True,
        add_cross_attention=False,
        add_token_type_embeddings=False,
        add_lm_hidden_dense_layer=False,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        architectures=["MegaForCausalLM"],
    )
    if has_final_norm:
        config["final_norm_affine"] = not args.no_affine_final_norm
    return config


def refuse_hf_only_features(config) -> None:
    """Raise for MegaConfig options that no fairseq Mega model has."""
    refusals = [
        (getattr(config, "add_token_type_embeddings", False), "add_token_type_embeddings"),
        (getattr(config, "add_lm_hidden_dense_layer", False), "add_lm_hidden_dense_layer (dense+tanh before the head)"),
        (config.normalization_type == "rmsnorm", "normalization_type=rmsnorm (HF's MegaRMSNorm does not normalise)"),
        (getattr(config, "add_cross_attention", False), "add_cross_attention"),
    ]
    for refused, field in refusals:
        if refused:
            raise ConversionError(f"fairseq Mega cannot represent {field}")


def to_fairseq_args(config) -> Namespace:
    """fairseq ``mega_lm`` args for an HF ``MegaConfig`` of a causal LM."""
    refuse_hf_only_features(config)
    refusals = [
        (not getattr(config, "is_decoder", False), "is_decoder=False (only MegaForCausalLM converts to mega_lm)"),
        (getattr(config, "bidirectional", True), "bidirectional=True in a causal LM"),
        (not getattr(config, "norm_affine", True), "norm_affine=False"),
        (config.normalize_before_mega != config.normalize_before_ffn, "normalize_before_ffn != normalize_before_mega"),
        (not config.use_chunking and config.chunk_size > 0, "chunk_size > 0 with use_chunking=False"),
        ((config.pad_token_id, config.bos_token_id, config.eos_token_id) != (1, 0, 2),
         "pad/bos/eos token ids other than 1/0/2 (fairseq's dictionary layout)"),
    ]
    for refused, field in refusals:
        if refused:
            raise ConversionError(f"fairseq Mega cannot represent {field}")
    args = {fs: getattr(config, hf) for fs, hf in FIELDS}
    args.update(
        arch="mega_lm",
        task="language_modeling",
        criterion="cross_entropy",
        decoder_input_dim=config.hidden_size,
        decoder_ffn_embed_dim=config.nffn_hidden_size if config.use_normalized_ffn else 0,
        decoder_chunk_size=config.chunk_size if config.use_chunking else -1,
        max_target_positions=config.max_positions,
        tokens_per_sample=config.max_positions,
        normalize_before=config.normalize_before_mega,
        no_final_norm=True,
        no_scale_embedding=True,
        decoder_output_bias=True,
        share_decoder_input_output_embed=bool(getattr(config, "tie_word_embeddings", False)),
        seed=1,
    )
    return Namespace(**args)
