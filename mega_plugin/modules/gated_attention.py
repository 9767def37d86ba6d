"""Moving-average equipped gated attention (the Mega sub-layer, original name ``MovingAverageGatedAttention``).

For x ``[L, B, D]`` (``x_n = norm(x)`` with pre-norm, else x):

    v = act(v_proj(x_n))                                  [L, B, H]
    m = dropout(EMA(x_n))                                 [L, B, D]   (``move``: silu(y + omega * x_n))
    u, z, r, hx = split(mx_proj(m), [D, Z, H, D])         (four products: see _mx_projections)
    u = sigmoid(u); z = silu(z); r = silu(r)
    q = z * gamma[0] + beta[0];  k = z * gamma[1] + beta[1]
    h = attention(q, k, v) (single head, per chunk, + relative position bias)
    out = x + u * (act(hx + h_proj(h * r)) - x)           (then norm(out) with post-norm)

With gradients, the silu of m, z and r is recomputed in the backward (``recompute``) rather than kept: the
projections, q, k and ``h_proj``'s input are computed from the values before the activation.

Masks at the boundary: ``padding_mask`` bool ``[B, L]`` (True = pad); causality is the ``causal`` flag (default:
causal iff the EMA is unidirectional). With ``chunk_size = C > 0`` attention is block-diagonal over chunks of C
positions (the EMA still spans the whole sequence); any length works (the last chunk is padded internally).
Incremental decoding (causal only) accepts steps of any number of tokens; the cached keys/values are those of the
current, unfinished chunk (or the whole prefix without chunking).
"""

from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mega_plugin.modules.activations import check_attention_activation, get_activation_fn
from mega_plugin.modules.attention import (
    attend_unfused, blocks_replace_sdpa, causal_attention_blocks, fused_softmax_attention, visibility_mask,
)
from mega_plugin.modules.dropout import Dropout, build_dropout
from mega_plugin.modules.ema import MultiHeadEMA
from mega_plugin.modules.incremental import IncrementalStateMixin, State
from mega_plugin.modules.norms import SequenceNorm
from mega_plugin.modules.position_bias import RotaryRelativePositionalBias, build_position_bias
from mega_plugin.modules.recompute import elementwise_recomputed, linear_of, linears_of, linears_of_reference


def gated_update(residual, u, a, activation, dropout) -> torch.Tensor:
    """``residual + u * (dropout(activation(a)) - residual)``, all ``[L, B, D]``; the activation and the difference
    are recomputed in the backward (with the same dropout mask) instead of kept."""

    def update(residual, u, a):
        return torch.addcmul(residual, u, dropout(activation(a)) - residual)

    return elementwise_recomputed(update, residual, u, a)


def shared_query_key(z, gamma, beta) -> torch.Tensor:
    """q and k from the shared representation before its activation: z ``[L, B, Z]`` -> ``[L, B, 2, Z]``."""
    return F.silu(z).unsqueeze(2) * gamma + beta


def times_silu(h, r) -> torch.Tensor:
    """``h * silu(r)``, the input of ``h_proj``."""
    return h * F.silu(r)


def check_padding_mask(padding_mask: Optional[torch.Tensor], batch: int, length: int) -> Optional[torch.Tensor]:
    """Validate a ``[B, L]`` padding mask and return it as bool (None when nothing is padded; under torch.compile
    the mask is kept as is, so that no data-dependent branch breaks the graph)."""
    if padding_mask is None:
        return None
    if padding_mask.shape != (batch, length):
        raise ValueError(
            f"padding_mask must have shape [batch, length] = {[batch, length]}, got {list(padding_mask.shape)}"
        )
    padding_mask = padding_mask.bool()
    if torch.compiler.is_compiling():
        return padding_mask
    return padding_mask if padding_mask.any() else None


class MovingAverageGatedAttention(nn.Module, IncrementalStateMixin):
    _state_names = ("attn_state",)

    def __init__(
        self,
        embed_dim: int,
        zdim: int,
        hdim: int,
        ndim: int,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        hidden_dropout: float = 0.0,
        activation: str = "silu",
        attention_activation: str = "softmax",
        bidirectional: bool = False,
        chunk_size: int = -1,
        truncation: Optional[int] = None,
        norm_type: str = "layernorm",
        prenorm: bool = True,
        norm_affine: bool = True,
        feature_dropout: bool = False,
        rel_pos_bias: str = "simple",
        max_positions: int = 1024,
        causal: Optional[bool] = None,
        truncate_incremental: bool = True,
        fast_attention: bool = True,
    ):
        super().__init__()
        self.embed_dim, self.zdim, self.hdim, self.ndim = embed_dim, zdim, hdim, ndim
        self.activation = get_activation_fn(activation)
        self.attention_activation = check_attention_activation(attention_activation)
        self.bidirectional = bidirectional
        self.causal = (not bidirectional) if causal is None else causal
        self.chunk_size = chunk_size
        self.prenorm = prenorm
        self.fast_attention = fast_attention  # SDPA softmax, blockwise relu2/laplace; False = reference path

        self.gamma = nn.Parameter(torch.empty(2, zdim))
        self.beta = nn.Parameter(torch.empty(2, zdim))
        self.dropout = build_dropout(dropout, feature_dropout)
        self.hidden_dropout = build_dropout(hidden_dropout, feature_dropout)
        self.attention_dropout = Dropout(attention_dropout)
        self.norm = SequenceNorm(norm_type, embed_dim, affine=norm_affine)
        self.move = MultiHeadEMA(embed_dim, ndim, bidirectional, truncation, truncate_incremental)
        self.v_proj = nn.Linear(embed_dim, hdim)
        self.mx_proj = nn.Linear(embed_dim, zdim + hdim + 2 * embed_dim)
        self.h_proj = nn.Linear(hdim, embed_dim)
        table = max_positions if chunk_size <= 0 else chunk_size
        self.rel_pos_bias = build_position_bias(rel_pos_bias, zdim, table)
        self._init_incremental_state()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for linear in (self.v_proj, self.mx_proj, self.h_proj):
            nn.init.normal_(linear.weight, mean=0.0, std=0.02)
            nn.init.zeros_(linear.bias)
        nn.init.normal_(self.gamma, mean=0.0, std=0.02)
        nn.init.zeros_(self.beta)

    def forward(
        self,
        x: torch.Tensor,
        padding_mask: Optional[torch.Tensor] = None,
        incremental_state: Optional[State] = None,
        need_weights: bool = False,
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """x ``[L, B, D]`` -> (``[L, B, D]``, weights ``[B, K, Cq, Ck]`` if need_weights)."""
        length, batch, _ = x.shape
        padding_mask = check_padding_mask(padding_mask, batch, length)
        if incremental_state is not None and not self.causal:
            raise ValueError("incremental decoding needs a causal (unidirectional) layer")
        residual = x
        x = self.norm(x) if self.prenorm else x

        v = self.activation(self.v_proj(x))
        u, z, r, hx = self._mx_projections(self.move.pre_activation(x, padding_mask, incremental_state))
        u = torch.sigmoid(u)
        qk = elementwise_recomputed(shared_query_key, z, self.gamma, self.beta)
        q, k = torch.unbind(qk.transpose(0, 1), dim=2)  # [B, L, Z] each
        v = v.transpose(0, 1)  # [B, L, H]

        offset = 0
        if incremental_state is not None:
            k, v, padding_mask, offset = self._extend_cache(incremental_state, k, v, padding_mask, length)
        h, weights = self._attend(q, k, v, padding_mask, offset, need_weights)

        h = hx + linear_of(times_silu, (h.transpose(0, 1), r), self.h_proj)
        out = gated_update(residual, u, h, self.activation, self.dropout)
        if not self.prenorm:
            out = self.norm(out)
        return out, (weights if need_weights else None)

    def _mx_projections(self, ema: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """``split(mx_proj(dropout(silu(ema))), [D, Z, H, D])`` for the EMA's output before its silu, as four products,
        so that each part is its own tensor: what the backward keeps of one part (z and r, for their activations)
        does not hold the whole ``D + Z + H + D`` wide output. The silu is recomputed in the backward instead of
        kept (``recompute.linears_of``; not with dropout, whose mask would differ). Without gradients (decoding)
        one product, one kernel launch."""
        sizes = [self.embed_dim, self.zdim, self.hdim, self.embed_dim]
        if not torch.is_grad_enabled():
            return torch.split(self.mx_proj(self.dropout(F.silu(ema))), sizes, dim=-1)
        if self.dropout.active:
            return linears_of_reference(lambda e: self.dropout(F.silu(e)), (ema,), self.mx_proj, sizes)
        return linears_of(F.silu, (ema,), self.mx_proj, sizes)

    def _extend_cache(self, incremental_state, k, v, padding_mask, length):
        """Prepend cached keys/values; store the part of the new context that later steps need."""
        saved = self.get_incremental_state(incremental_state, "attn_state") or {}
        prev_key, prev_mask = saved.get("prev_key"), saved.get("prev_key_padding_mask")
        offset = 0 if prev_key is None else prev_key.size(1)
        if prev_key is not None:
            k = torch.cat([prev_key, k], dim=1)
            v = torch.cat([saved["prev_value"], v], dim=1)
        if prev_mask is not None or padding_mask is not None:
            if prev_mask is None:
                prev_mask = padding_mask.new_zeros(padding_mask.size(0), offset)
            if padding_mask is None:
                padding_mask = prev_mask.new_zeros(prev_mask.size(0), length)
            padding_mask = torch.cat([prev_mask, padding_mask], dim=1)
        total = k.size(1)
        keep = total if self.chunk_size <= 0 else total % self.chunk_size
        start = total - keep
        self.set_incremental_state(
            incremental_state,
            "attn_state",
            {
                "prev_key": k[:, start:],
                "prev_value": v[:, start:],
                "prev_key_padding_mask": None if padding_mask is None else padding_mask[:, start:],
            },
        )
        return k, v, padding_mask, offset

    def _attend(self, q, k, v, padding_mask, offset, need_weights=False):
        """q ``[B, Lq, Z]`` at positions offset.., k/v ``[B, Lk, *]`` at 0..Lk-1 -> (h ``[B, Lq, H]``, weights)."""
        batch, num_queries, _ = q.shape
        num_keys = k.size(1)
        chunk = self.chunk_size
        if chunk <= 0 or num_keys <= chunk:
            chunk, q_offset = num_keys, offset
        else:  # pad to whole chunks; queries are aligned with keys (offset < chunk rows of padding in front)
            tail = -num_keys % chunk
            if offset or tail:
                q = F.pad(q, (0, 0, offset, tail))
            if tail:
                k, v = F.pad(k, (0, 0, 0, tail)), F.pad(v, (0, 0, 0, tail))
                if padding_mask is not None:
                    padding_mask = F.pad(padding_mask, (0, tail), value=True)
                elif not self.causal:  # causal rows never see the tail, so it needs no mask
                    padding_mask = F.pad(q.new_zeros(batch, num_keys, dtype=torch.bool), (0, tail), value=True)
            q_offset = 0
        chunks = k.size(1) // chunk
        q = q.reshape(batch, chunks, -1, self.zdim)
        k = k.reshape(batch, chunks, chunk, self.zdim)
        v = v.reshape(batch, chunks, chunk, self.hdim)
        key_mask = None if padding_mask is None else padding_mask.reshape(batch, chunks, chunk)

        v = self.hidden_dropout(v, batch_first=True)
        if self.fast_attention and self.attention_activation == "softmax" and not need_weights:
            h, weights = self._fused_softmax(q, k, v, key_mask, q_offset), None
        else:
            bias = self.rel_pos_bias(chunk)[q_offset : q_offset + q.size(2)]
            hidden = visibility_mask(key_mask, self.causal, q.size(2), chunk, q_offset, q.device)
            h, weights = attend_unfused(q, k, v, bias, hidden, self.attention_activation, self.attention_dropout,
                                        form_weights=need_weights or not self.fast_attention,
                                        causal_offset=q_offset if self.causal else None)
        h = h.reshape(batch, -1, self.hdim)
        if q_offset == 0 and h.size(1) != num_queries:  # drop the alignment rows and the tail padding
            h = h[:, offset : offset + num_queries]
        return h, weights

    def _fused_softmax(self, q, k, v, key_mask, q_offset):
        """Softmax attention of ``[B, K, Cq, *]`` chunks via scaled_dot_product_attention (no weights formed), or,
        for causal square chunks where SDPA would form every weight anyway, ``causal_attention_blocks``."""
        num_queries, num_keys = q.size(2), k.size(2)
        rotary = isinstance(self.rel_pos_bias, RotaryRelativePositionalBias)
        dropout = self.attention_dropout.p if self.training else 0.0
        square = self.causal and q_offset == 0 and num_queries == num_keys
        sdpa_q_width = 2 * self.zdim if rotary else self.zdim
        if square and blocks_replace_sdpa(q.device, sdpa_q_width, self.hdim, num_keys):
            return causal_attention_blocks(q, k, v, self.rel_pos_bias(num_keys), key_mask, dropout)
        causal_square = rotary and square and key_mask is None
        hidden = None
        if not causal_square:
            hidden = visibility_mask(key_mask, self.causal, num_queries, num_keys, q_offset, q.device)
        if rotary:
            key_pos = torch.arange(num_keys, device=q.device)
            query_pos = key_pos if q_offset == 0 and num_queries == num_keys else \
                torch.arange(q_offset, q_offset + num_queries, device=q.device)
            extra_q, extra_k = self.rel_pos_bias.rotations(query_pos, key_pos)
            extra_q, extra_k = extra_q.to(q.dtype), extra_k.to(k.dtype)
            return fused_softmax_attention(q, k, v, None, hidden, causal_square, dropout, extra_q, extra_k)
        bias = self.rel_pos_bias(num_keys)[q_offset : q_offset + num_queries]
        return fused_softmax_attention(q, k, v, bias, hidden, False, dropout)
