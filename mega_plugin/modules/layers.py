"""Mega encoder and decoder layers: gated attention (+ cross-attention) followed by a normalized FFN.

Both take ``[L, B, D]`` activations and a bool ``padding_mask [B, L]`` (True = pad). The encoder layer has a
bidirectional EMA and unmasked attention; the decoder layer a causal EMA and causal attention, optional gated
cross-attention over an encoder output, and incremental decoding through a caller-owned ``incremental_state``.
"""

from dataclasses import dataclass
from typing import Optional, Tuple

import torch
import torch.nn as nn

from mega_plugin.modules.cross_attention import GatedCrossAttention
from mega_plugin.modules.ffn import NormalizedFeedForwardNetwork
from mega_plugin.modules.gated_attention import MovingAverageGatedAttention
from mega_plugin.modules.incremental import State


@dataclass
class MegaLayerConfig:
    """Hyper-parameters of one Mega layer (names follow the original constructor arguments)."""

    embed_dim: int = 512
    hidden_dim: int = 1024
    ffn_hidden_dim: int = 1024
    z_dim: int = 128
    n_dim: int = 16
    dropout: float = 0.0
    attention_dropout: float = 0.0
    hidden_dropout: float = 0.0
    activation_dropout: float = 0.0  # dropout after the FFN activation
    activation: str = "silu"
    attention_activation: str = "softmax"
    chunk_size: int = -1
    truncation: Optional[int] = None
    norm_type: str = "layernorm"
    prenorm: bool = False
    feature_dropout: bool = False
    rel_pos_bias: str = "simple"
    max_positions: int = 1024
    truncate_incremental: bool = True  # False reproduces the original's incremental EMA (ignores truncation)
    cross_max_positions: int = 1024  # cross-attention position table (decoder only)
    pad_invariant_cross_positions: bool = True  # False reproduces the original's padded-index cross bias
    cross_attention_init: str = "normal"  # "normal" (original N(0, 0.02)) or "xavier" (cross-attention projections)
    fast_attention: bool = True  # attention without forming all weights at once (False: plain reference path)

    def gated_attention(self, bidirectional: bool) -> MovingAverageGatedAttention:
        return MovingAverageGatedAttention(
            embed_dim=self.embed_dim, zdim=self.z_dim, hdim=self.hidden_dim, ndim=self.n_dim,
            dropout=self.dropout, attention_dropout=self.attention_dropout, hidden_dropout=self.hidden_dropout,
            activation=self.activation, attention_activation=self.attention_activation,
            bidirectional=bidirectional, chunk_size=self.chunk_size, truncation=self.truncation,
            norm_type=self.norm_type, prenorm=self.prenorm, feature_dropout=self.feature_dropout,
            rel_pos_bias=self.rel_pos_bias, max_positions=self.max_positions,
            truncate_incremental=self.truncate_incremental, fast_attention=self.fast_attention,
        )

    def ffn(self) -> Optional[NormalizedFeedForwardNetwork]:
        if self.ffn_hidden_dim <= 0:
            return None
        return NormalizedFeedForwardNetwork(
            self.embed_dim, self.ffn_hidden_dim, dropout=self.dropout, hidden_dropout=self.activation_dropout,
            activation=self.activation, norm_type=self.norm_type, prenorm=self.prenorm,
            feature_dropout=self.feature_dropout,
        )

    def cross_attention(self) -> GatedCrossAttention:
        return GatedCrossAttention(
            embed_dim=self.embed_dim, zdim=self.z_dim, ndim=self.n_dim, dropout=self.dropout,
            attention_dropout=self.attention_dropout, hidden_dropout=self.hidden_dropout,
            activation=self.activation, attention_activation=self.attention_activation,
            norm_type=self.norm_type, prenorm=self.prenorm, feature_dropout=self.feature_dropout,
            rel_pos_bias=self.rel_pos_bias, max_positions=self.cross_max_positions,
            pad_invariant_positions=self.pad_invariant_cross_positions, init=self.cross_attention_init,
            fast_attention=self.fast_attention,
        )


class MegaEncoderLayer(nn.Module):
    """Bidirectional Mega block (keys ``mega_layer.*``, ``nffn.*``)."""

    def __init__(self, cfg: MegaLayerConfig):
        super().__init__()
        self.mega_layer = cfg.gated_attention(bidirectional=True)
        self.nffn = cfg.ffn()

    def forward(self, x: torch.Tensor, padding_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        x, _ = self.mega_layer(x, padding_mask)
        return x if self.nffn is None else self.nffn(x)


class MegaDecoderLayer(nn.Module):
    """Causal Mega block with optional gated cross-attention (keys ``mega_layer.*``, ``cross_attn.*``, ``nffn.*``)."""

    def __init__(self, cfg: MegaLayerConfig, cross_attention: bool = False):
        super().__init__()
        self.mega_layer = cfg.gated_attention(bidirectional=False)
        self.cross_attn = cfg.cross_attention() if cross_attention else None
        self.nffn = cfg.ffn()

    def forward(
        self,
        x: torch.Tensor,
        padding_mask: Optional[torch.Tensor] = None,
        encoder_out: Optional[torch.Tensor] = None,
        encoder_padding_mask: Optional[torch.Tensor] = None,
        incremental_state: Optional[State] = None,
        need_attn: bool = False,
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """x ``[L, B, D]``, encoder_out ``[Ls, B, D]`` -> (``[L, B, D]``, cross-attention weights or None)."""
        x, attn = self.mega_layer(x, padding_mask, incremental_state)
        if self.cross_attn is not None:
            x, attn = self.cross_attn(x, encoder_out, encoder_padding_mask, incremental_state, need_attn)
        if self.nffn is not None:
            x = self.nffn(x)
        return x, attn


def set_fast_attention(module: nn.Module, fast: bool) -> None:
    """Switch every attention inside ``module`` between its fast path (SDPA softmax, blockwise relu2/laplace) and
    the plain reference path that forms every weight (``fast=False``), e.g. to compare the two."""
    for sub in module.modules():
        if isinstance(sub, (MovingAverageGatedAttention, GatedCrossAttention)):
            sub.fast_attention = fast
