"""Gated cross-attention of the Mega NMT decoder (original name ``GatedCrossAttention``).

For decoder states ``query [Lq, B, D]`` and encoder states ``key [Lk, B, D]``:

    u, r, q = split(q_proj(norm(query) or query), [D, D, Z]);  u = sigmoid(u), r = silu(r) (recomputed: see recompute)
    k = k_proj(key);  v = act(v_proj(key))
    h = attention(q, k, v) + relative position bias(target position i, source position j)
    out = query + u * (act(h_proj(h * r)) - query)        (then norm(out) with post-norm)

``key_padding_mask`` bool ``[B, Lk]`` (True = pad). The original indexes the position bias by the *padded*
source index, so a left-padded source changes the outputs (original bug). ``pad_invariant_positions=True``
(default) counts source positions over real tokens only; set it False to reproduce original checkpoints exactly.

Incremental decoding caches the encoder keys/values and the number of target tokens seen; steps may hold any
number of tokens.

``init``: ``"normal"`` (the original: every projection N(0, 0.02), biases 0) or ``"xavier"`` (xavier-uniform
weights, biases 0). With N(0, 0.02) the attention logits are a product of two small projections and the output is
scaled by two more, so a narrow decoder (D 128) learns to use the source slowly; xavier is much faster there
(examples/translation/README.md). Only training from scratch is affected: loaded weights replace the init.
"""

from typing import Optional, Tuple

import torch
import torch.nn as nn

from mega_plugin.modules.activations import check_attention_activation, get_activation_fn
from mega_plugin.modules.attention import attend_unfused, fused_softmax_attention
from mega_plugin.modules.dropout import Dropout, build_dropout
from mega_plugin.modules.gated_attention import check_padding_mask, gated_update, times_silu
from mega_plugin.modules.incremental import IncrementalStateMixin, State
from mega_plugin.modules.norms import SequenceNorm
from mega_plugin.modules.position_bias import build_position_bias
from mega_plugin.modules.recompute import linear_of

CROSS_ATTENTION_INITS = ("normal", "xavier")


class GatedCrossAttention(nn.Module, IncrementalStateMixin):
    _state_names = ("attn_state",)

    def __init__(
        self,
        embed_dim: int,
        zdim: int,
        ndim: int = 2,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        hidden_dropout: float = 0.0,
        activation: str = "silu",
        attention_activation: str = "softmax",
        norm_type: str = "layernorm",
        prenorm: bool = True,
        norm_affine: bool = True,
        feature_dropout: bool = False,
        rel_pos_bias: str = "simple",
        max_positions: int = 1024,
        pad_invariant_positions: bool = True,
        init: str = "normal",
        fast_attention: bool = True,
    ):
        super().__init__()
        if init not in CROSS_ATTENTION_INITS:
            raise ValueError(f"unknown cross-attention init {init!r}; expected one of {CROSS_ATTENTION_INITS}")
        self.init = init
        self.fast_attention = fast_attention  # attention without forming all weights; False = reference path
        self.embed_dim, self.zdim = embed_dim, zdim
        self.activation = get_activation_fn(activation)
        self.attention_activation = check_attention_activation(attention_activation)
        self.prenorm = prenorm
        self.pad_invariant_positions = pad_invariant_positions
        self.dropout = build_dropout(dropout, feature_dropout)
        self.hidden_dropout = build_dropout(hidden_dropout, feature_dropout)
        self.attention_dropout = Dropout(attention_dropout)
        self.norm = SequenceNorm(norm_type, embed_dim, affine=norm_affine)
        self.k_proj = nn.Linear(embed_dim, zdim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, 2 * embed_dim + zdim)
        self.h_proj = nn.Linear(embed_dim, embed_dim)
        self.rel_pos_bias = build_position_bias(rel_pos_bias, zdim, max_positions)
        self._init_incremental_state()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for linear in (self.k_proj, self.v_proj, self.q_proj, self.h_proj):
            if self.init == "xavier":
                nn.init.xavier_uniform_(linear.weight)
            else:
                nn.init.normal_(linear.weight, mean=0.0, std=0.02)
            nn.init.zeros_(linear.bias)

    def forward(
        self,
        query: torch.Tensor,
        key: Optional[torch.Tensor],
        key_padding_mask: Optional[torch.Tensor] = None,
        incremental_state: Optional[State] = None,
        need_weights: bool = False,
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """query ``[Lq, B, D]``, key ``[Lk, B, D]`` -> (``[Lq, B, D]``, weights ``[B, Lq, Lk]`` if need_weights).

        In incremental mode ``key`` may be None after the first step (the cached projections are used).
        """
        num_queries, batch, _ = query.shape
        saved = self.get_incremental_state(incremental_state, "attn_state") or {}
        if "prev_key" in saved:
            k, v, key_padding_mask = saved["prev_key"], saved["prev_value"], saved["prev_key_padding_mask"]
            first_step = saved["num_steps"]
        else:
            if key is None:
                raise ValueError("cross-attention needs the encoder output (key) on its first call")
            key_padding_mask = check_padding_mask(key_padding_mask, batch, key.size(0))
            k = self.k_proj(key).transpose(0, 1)  # [B, Lk, Z]
            v = self.activation(self.v_proj(key)).transpose(0, 1)  # [B, Lk, D]
            first_step = 0
        if incremental_state is not None:
            self.set_incremental_state(
                incremental_state,
                "attn_state",
                {"prev_key": k, "prev_value": v, "prev_key_padding_mask": key_padding_mask,
                 "num_steps": first_step + num_queries},
            )

        residual = query
        x = self.norm(query) if self.prenorm else query
        u, r, q = torch.split(self.q_proj(x), [self.embed_dim, self.embed_dim, self.zdim], dim=-1)
        u = torch.sigmoid(u)
        q = q.transpose(0, 1)  # [B, Lq, Z]

        query_pos = torch.arange(first_step, first_step + num_queries, device=q.device)
        bias = self.rel_pos_bias.at(query_pos, self._source_positions(k, key_padding_mask))
        hidden = None if key_padding_mask is None else key_padding_mask.unsqueeze(1)  # [B, 1, Lk]
        v = self.hidden_dropout(v, batch_first=True)
        form_weights = need_weights or not self.fast_attention
        if self.attention_activation == "softmax" and not form_weights:
            dropout = self.attention_dropout.p if self.training else 0.0
            h, weights = fused_softmax_attention(q, k, v, bias, hidden, False, dropout), None
        else:
            h, weights = attend_unfused(q, k, v, bias, hidden, self.attention_activation, self.attention_dropout,
                                        form_weights)
        h = h.transpose(0, 1)  # [Lq, B, D]

        out = gated_update(residual, u, linear_of(times_silu, (h, r), self.h_proj), self.activation, self.dropout)
        if not self.prenorm:
            out = self.norm(out)
        return out, (weights if need_weights else None)

    def _source_positions(self, k: torch.Tensor, key_padding_mask: Optional[torch.Tensor]) -> torch.Tensor:
        """Source positions ``[Lk]`` (padded index) or ``[B, Lk]`` (count of real tokens before each one)."""
        if key_padding_mask is None or not self.pad_invariant_positions:
            return torch.arange(k.size(1), device=k.device)
        return ((~key_padding_mask).long().cumsum(-1) - 1).clamp(min=0)
