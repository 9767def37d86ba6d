"""Translate fairseq ``args`` (original flag names) into :class:`MegaLayerConfig` for each model family."""

from mega_plugin.modules.layers import MegaLayerConfig


def _truncation(args):
    value = getattr(args, "truncation_length", None)
    return None if value is None else int(value)


def _side_config(args, side: str, max_positions: int, **extra) -> MegaLayerConfig:
    """Layers of one side (``encoder`` / ``decoder``) of the NMT and LM models (``--{side}-*`` flags)."""
    return MegaLayerConfig(
        embed_dim=getattr(args, f"{side}_embed_dim"),
        hidden_dim=getattr(args, f"{side}_hidden_dim"),
        ffn_hidden_dim=getattr(args, f"{side}_ffn_embed_dim"),
        z_dim=getattr(args, f"{side}_z_dim"),
        n_dim=getattr(args, f"{side}_n_dim"),
        chunk_size=getattr(args, f"{side}_chunk_size"),
        dropout=args.dropout,
        attention_dropout=args.attention_dropout,
        hidden_dropout=args.hidden_dropout,
        activation_dropout=args.activation_dropout,
        activation=args.activation_fn,
        attention_activation=args.attention_activation_fn,
        truncation=_truncation(args),
        norm_type=args.normalization_type,
        prenorm=args.normalize_before,
        feature_dropout=args.feature_dropout,
        rel_pos_bias=args.rel_pos_bias,
        max_positions=max_positions,
        **extra,
    )


def nmt_encoder_config(args) -> MegaLayerConfig:
    """Encoder layers of the ``mega`` (NMT) model."""
    return _side_config(args, "encoder", args.max_source_positions)


def decoder_config(args) -> MegaLayerConfig:
    """Decoder layers of the ``mega`` (NMT) and ``mega_lm`` models."""
    max_source = getattr(args, "max_source_positions", None) or 0
    return _side_config(args, "decoder", args.max_target_positions,
                        cross_max_positions=max(args.max_target_positions, max_source),
                        cross_attention_init=getattr(args, "cross_attention_init", None) or "normal")


def sentence_encoder_config(args) -> MegaLayerConfig:
    """Encoder layers of the ``lra`` and ``sc_raw`` classifiers (FFN hidden dropout = ``act_dropout``)."""
    return MegaLayerConfig(
        embed_dim=args.encoder_embed_dim,
        hidden_dim=args.encoder_hidden_dim,
        ffn_hidden_dim=args.encoder_ffn_embed_dim,
        z_dim=args.z_dim,
        n_dim=args.n_dim,
        dropout=args.dropout,
        attention_dropout=args.attention_dropout,
        hidden_dropout=args.act_dropout,
        activation_dropout=args.act_dropout,
        activation=args.activation_fn,
        attention_activation=args.attention_activation_fn,
        chunk_size=args.chunk_size,
        truncation=_truncation(args),
        norm_type=args.norm_type,
        prenorm=args.encoder_normalize_before,
        feature_dropout=args.feature_dropout,
        rel_pos_bias=args.rel_pos_bias,
        max_positions=args.max_positions,
    )
