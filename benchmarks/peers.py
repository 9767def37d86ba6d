"""Peers for the benchmarks: HF transformers' MegaBlock with our weights, and torch's TransformerEncoderLayer."""

import torch

from conversion.key_map import BLOCK_RENAMES
from mega_plugin.modules import MegaLayerConfig



def hf_block(cfg: MegaLayerConfig, ours: torch.nn.Module, causal: bool, seq_len: int):
    """An HF ``MegaBlock`` with the same configuration and weights as our layer (None without transformers)."""
    try:
        from transformers import MegaConfig
        from transformers.models.deprecated.mega.modeling_mega import MegaBlock
    except ImportError:
        return None
    config = MegaConfig(
        hidden_size=cfg.embed_dim, intermediate_size=cfg.hidden_dim, nffn_hidden_size=cfg.ffn_hidden_dim,
        shared_representation_size=cfg.z_dim, ema_projection_size=cfg.n_dim, activation=cfg.activation,
        attention_activation=cfg.attention_activation, use_chunking=cfg.chunk_size > 0, chunk_size=cfg.chunk_size,
        truncation=cfg.truncation, normalization_type=cfg.norm_type, normalize_before_mega=cfg.prenorm,
        normalize_before_ffn=cfg.prenorm, relative_positional_bias=cfg.rel_pos_bias,
        max_positions=max(seq_len, cfg.max_positions), bidirectional=not causal, is_decoder=causal,
        dropout_prob=0.0, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        nffn_activation_dropout_prob=0.0, use_normalized_ffn=cfg.ffn_hidden_dim > 0,
    )
    block = MegaBlock(config)
    state = {BLOCK_RENAMES.get(key, key): value for key, value in ours.state_dict().items()}
    block.load_state_dict(state, strict=True)
    return block


def transformer_layer(dim: int, ffn: int, heads: int) -> torch.nn.Module:
    return torch.nn.TransformerEncoderLayer(
        dim, heads, ffn, dropout=0.0, activation="gelu", batch_first=False, norm_first=True
    )
