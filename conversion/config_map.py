"""Field map between fairseq ``mega_lm`` / ``mega_mlm`` args and HF ``MegaConfig`` (hf-mapping.md section 2).

``FIELDS`` lists (fairseq arg, MegaConfig field) pairs copied as they are (``{side}`` is ``decoder`` for the causal
LM, ``encoder`` for the masked LM); the rest (chunking, FFN, norms,
embedding scale, head) is derived in ``to_hf_config`` / ``to_fairseq_args``, which refuse what the other side cannot
represent with one line naming the field.
"""

from argparse import Namespace

from conversion.errors import ConversionError

FIELDS = [
    ("{side}_embed_dim", "hidden_size"),
    ("{side}_layers", "num_hidden_layers"),
    ("{side}_hidden_dim", "intermediate_size"),
    ("{side}_n_dim", "ema_projection_size"),
    ("{side}_z_dim", "shared_representation_size"),
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


def to_hf_config(args, vocab_size: int, remote_code: bool, causal: bool = True) -> dict:
    """MegaConfig keyword arguments for a fairseq ``mega_lm`` (causal) or ``mega_mlm`` model."""
    side = "decoder" if causal else "encoder"
    refusals = [
        (getattr(args, "adaptive_input", False), "adaptive_input"),
        (getattr(args, "adaptive_softmax_cutoff", None) is not None, "adaptive_softmax_cutoff"),
        (getattr(args, "normalize_embedding", False), "normalize_embedding (embed_norm)"),
        (causal and args.decoder_input_dim != args.decoder_embed_dim, "decoder_input_dim (project_in_dim)"),
        (args.normalization_type == "rmsnorm", "normalization_type=rmsnorm (HF's MegaRMSNorm does not normalise)"),
    ]
    for refused, field in refusals:
        if refused:
            raise ConversionError(f"Hugging Face Mega cannot represent {field}")
    has_final_norm = args.normalize_before and not getattr(args, "no_final_norm", False)
    if has_final_norm and not causal:
        raise ConversionError("pre-norm masked LM with a final norm: HF MegaForMaskedLM has no final norm")
    if has_final_norm and not remote_code:
        raise ConversionError(
            "pre-norm fairseq model with a final norm: HF MegaForCausalLM has no final norm; "
            "use --remote-code to write a subclass that adds it"
        )
    config = {hf: getattr(args, fs.format(side=side)) for fs, hf in FIELDS}
    chunk = getattr(args, f"{side}_chunk_size")
    ffn = getattr(args, f"{side}_ffn_embed_dim")
    config.update(
        vocab_size=vocab_size,
        use_chunking=chunk > 0,
        chunk_size=chunk if chunk > 0 else -1,
        max_positions=args.max_target_positions if causal else args.max_source_positions,
        use_normalized_ffn=ffn > 0,
        nffn_hidden_size=ffn if ffn > 0 else getattr(args, f"{side}_hidden_dim"),
        normalize_before_mega=args.normalize_before,
        normalize_before_ffn=args.normalize_before,
        norm_affine=True,
        bidirectional=not causal,
        is_decoder=causal,
        add_cross_attention=False,
        add_token_type_embeddings=False,
        add_lm_hidden_dense_layer=False,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        architectures=["MegaForCausalLM" if causal else "MegaForMaskedLM"],
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


def to_fairseq_args(config, causal: bool = True) -> Namespace:
    """fairseq ``mega_lm`` (causal) or ``mega_mlm`` (masked) args for an HF ``MegaConfig``."""
    refuse_hf_only_features(config)
    side = "decoder" if causal else "encoder"
    refusals = [
        (causal and not getattr(config, "is_decoder", False), "a causal LM with is_decoder=False"),
        (causal and getattr(config, "bidirectional", True), "bidirectional=True in a causal LM"),
        (not causal and not getattr(config, "bidirectional", True), "a masked LM with bidirectional=False"),
        (not getattr(config, "norm_affine", True), "norm_affine=False"),
        (config.normalize_before_mega != config.normalize_before_ffn, "normalize_before_ffn != normalize_before_mega"),
        (not config.use_chunking and config.chunk_size > 0, "chunk_size > 0 with use_chunking=False"),
        ((config.pad_token_id, config.bos_token_id, config.eos_token_id) != (1, 0, 2),
         "pad/bos/eos token ids other than 1/0/2 (fairseq's dictionary layout)"),
    ]
    for refused, field in refusals:
        if refused:
            raise ConversionError(f"fairseq Mega cannot represent {field}")
    args = {fs.format(side=side): getattr(config, hf) for fs, hf in FIELDS}
    args.update({
        f"{side}_ffn_embed_dim": config.nffn_hidden_size if config.use_normalized_ffn else 0,
        f"{side}_chunk_size": config.chunk_size if config.use_chunking else -1,
        "tokens_per_sample": config.max_positions,
        "normalize_before": config.normalize_before_mega,
        "no_final_norm": True,
        "no_scale_embedding": True,
        "seed": 1,
    })
    tied = bool(getattr(config, "tie_word_embeddings", False))
    if causal:
        args.update(arch="mega_lm", task="language_modeling", criterion="cross_entropy",
                    decoder_input_dim=config.hidden_size, max_target_positions=config.max_positions,
                    decoder_output_bias=True, share_decoder_input_output_embed=tied)
    else:
        args.update(arch="mega_mlm", task="masked_lm", criterion="masked_lm", max_source_positions=config.max_positions,
                    share_encoder_input_output_embed=tied)
    return Namespace(**args)
