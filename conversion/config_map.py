"""Field map between fairseq ``mega_lm`` / ``mega_mlm`` args and HF ``MegaConfig`` (hf-mapping.md section 2).

``FIELDS`` lists (fairseq arg, MegaConfig field) pairs copied as they are in both directions (``{side}`` is
``decoder`` for the causal LM, ``encoder`` for the masked LM). ``to_hf_config`` / ``to_fairseq_args`` derive the
rest (chunking, FFN, norms, embedding scale, head, token ids) and refuse what the other side cannot represent with
one line naming every such field.
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

RMSNORM = "normalization_type=rmsnorm (HF's MegaRMSNorm does not normalise)"


def _refuse(checks, side: str) -> None:
    fields = [field for refused, field in checks if refused]
    if fields:
        raise ConversionError(f"{side} cannot represent {'; '.join(fields)}")


def has_final_norm(args) -> bool:
    return bool(args.normalize_before) and not getattr(args, "no_final_norm", False)


def hf_use_cache(config: dict) -> bool:
    """False where HF's cached path is wrong or crashes (hf-mapping.md 6.6, 6.7, 6.19): element attention
    (laplace/relu2 normalise by 1), chunking (no cached decoding), EMA truncation (ignored by the cached path)."""
    return (config["attention_activation"] == "softmax" and not config["use_chunking"]
            and config["truncation"] is None)


def refuse_fairseq_only_features(args, causal: bool, remote_code: bool) -> None:
    """Raise for fairseq args that HF Mega cannot represent (the final norm: only with ``remote_code``)."""
    _refuse([
        (getattr(args, "adaptive_input", False), "adaptive_input"),
        (getattr(args, "adaptive_softmax_cutoff", None) is not None, "adaptive_softmax_cutoff"),
        (getattr(args, "normalize_embedding", False), "normalize_embedding (embed_norm)"),
        (causal and getattr(args, "decoder_input_dim", args.decoder_embed_dim) != args.decoder_embed_dim,
         "decoder_input_dim != decoder_embed_dim (project_in_dim)"),
        (getattr(args, "output_dictionary_size", -1) not in (-1, None), "output_dictionary_size (a head smaller "
         "than the embedding)"),
        (args.normalization_type == "rmsnorm", RMSNORM),
        (has_final_norm(args) and not remote_code,
         "normalize_before=True with a final norm, which HF Mega lacks (pass --remote-code to write a subclass "
         "that adds it)"),
    ], "Hugging Face Mega")


def to_hf_config(args, vocab_size: int, causal: bool = True) -> dict:
    """MegaConfig keyword arguments for the args of a fairseq ``mega_lm`` (causal) or ``mega_mlm`` (masked) model."""
    refuse_fairseq_only_features(args, causal, remote_code=True)
    side = "decoder" if causal else "encoder"
    config = {hf: getattr(args, fs.format(side=side)) for fs, hf in FIELDS}
    chunk = getattr(args, f"{side}_chunk_size")
    ffn = getattr(args, f"{side}_ffn_embed_dim")
    config.update(
        vocab_size=vocab_size,
        use_chunking=chunk > 0,
        chunk_size=chunk if chunk > 0 else -1,  # HF's position biases test chunk_size, not use_chunking
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
    config["use_cache"] = hf_use_cache(config)
    if has_final_norm(args):
        config["final_norm_affine"] = not getattr(args, "no_affine_final_norm", False)
    return config


def refuse_hf_only_features(config) -> None:
    """Raise for MegaConfig options that no fairseq Mega model has."""
    _refuse([
        (getattr(config, "add_token_type_embeddings", False), "add_token_type_embeddings"),
        (getattr(config, "add_lm_hidden_dense_layer", False), "add_lm_hidden_dense_layer (dense+tanh before the head)"),
        (config.normalization_type == "rmsnorm", RMSNORM),
        (getattr(config, "add_cross_attention", False), "add_cross_attention"),
    ], "fairseq Mega")


def to_fairseq_args(config, causal: bool = True, final_norm: bool = False) -> Namespace:
    """fairseq ``mega_lm`` (causal) or ``mega_mlm`` (masked) args for an HF ``MegaConfig`` (``final_norm``: the
    folder holds the --remote-code class that adds a final norm)."""
    refuse_hf_only_features(config)
    side = "decoder" if causal else "encoder"
    _refuse([
        (causal and not getattr(config, "is_decoder", False), "a causal LM with is_decoder=False"),
        (causal and getattr(config, "bidirectional", True), "bidirectional=True in a causal LM"),
        (not causal and getattr(config, "is_decoder", False), "a masked LM with is_decoder=True"),
        (not causal and not getattr(config, "bidirectional", True), "a masked LM with bidirectional=False"),
        (not getattr(config, "norm_affine", True), "norm_affine=False"),
        (config.normalize_before_mega != config.normalize_before_ffn, "normalize_before_ffn != normalize_before_mega"),
        (not config.use_chunking and config.chunk_size > 0, "chunk_size > 0 with use_chunking=False"),
        (config.use_chunking and config.chunk_size <= 0, "use_chunking=True with chunk_size <= 0"),
        ((config.pad_token_id, config.bos_token_id, config.eos_token_id) != (1, 0, 2),
         "pad/bos/eos token ids other than 1/0/2 (fairseq's dictionary layout)"),
    ], "fairseq Mega")
    args = {fs.format(side=side): getattr(config, hf) for fs, hf in FIELDS}
    args.update({
        f"{side}_ffn_embed_dim": config.nffn_hidden_size if config.use_normalized_ffn else 0,
        f"{side}_chunk_size": config.chunk_size if config.use_chunking else -1,
        "tokens_per_sample": config.max_positions,
        "normalize_before": config.normalize_before_mega,
        "normalize_embedding": False,
        "no_final_norm": not final_norm,
        "no_affine_final_norm": not getattr(config, "final_norm_affine", True),
        "no_scale_embedding": True,
        "seed": 1,
    })
    tied = bool(getattr(config, "tie_word_embeddings", False))
    if causal:
        args.update(arch="mega_lm", task="language_modeling", criterion="cross_entropy",
                    decoder_input_dim=config.hidden_size, max_target_positions=config.max_positions,
                    decoder_output_bias=True, share_decoder_input_output_embed=tied, adaptive_input=False,
                    adaptive_softmax_cutoff=None)
    else:
        args.update(arch="mega_mlm", task="masked_lm", criterion="masked_lm", max_source_positions=config.max_positions,
                    share_encoder_input_output_embed=tied)
    return Namespace(**args)
