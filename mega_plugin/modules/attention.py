"""Single-head attention kernels of Mega (reference path, plain PyTorch).

Shapes: q ``[B, K, Cq, Z]``, k ``[B, K, Ck, Z]``, v ``[B, K, Ck, H]`` (K chunks), bias broadcastable to
``[B, K, Cq, Ck]``. Masks are booleans, True = masked: ``key_padding_mask [B, K, Ck]`` and, for causal attention,
key position > query position where query row i sits at position ``q_offset + i`` and key column j at j.

* softmax: ``softmax(q k^T * Z^-1/2 + bias)`` in (at least) float32 with masked keys at -inf; a row with no visible key
  gets all-zero weights (instead of NaN).
* relu2 / laplace ("element" attention): ``act(q k^T / n + bias) * visible`` where n is the number of visible
  keys of the row (non-pad and, when causal, not in the future), at least 1. For right padding this equals the
  original's ``i + 1`` (causal) and "non-pad keys in the chunk" (bidirectional) normalisers.

``element_attention`` computes ``attention_weights(...) @ v`` for relu2 / laplace a block of query rows at a time
(never more than ``ELEMENT_BLOCK_ELEMENTS`` weights alive, in the forward or saved for the backward).
``causal_attention_blocks`` does so for causal softmax over square chunks, each block of rows multiplying only the
keys up to its last row; ``fused_softmax_attention`` goes through ``scaled_dot_product_attention``.
"""

from typing import Optional

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from mega_plugin.modules.activations import laplace, relu2
from mega_plugin.modules.recompute import grad_needed


def visibility_mask(
    key_padding_mask: Optional[torch.Tensor], causal: bool, num_queries: int, num_keys: int, q_offset: int,
    device: torch.device,
) -> Optional[torch.Tensor]:
    """Bool mask broadcastable to ``[B, K, Cq, Ck]``, True = hidden; None when nothing is hidden."""
    hidden = None
    if causal:
        if num_keys > q_offset + 1:  # the last key lies after the first query: some key is in the future
            query_pos = torch.arange(q_offset, q_offset + num_queries, device=device)
            hidden = torch.arange(num_keys, device=device)[None, :] > query_pos[:, None]
    if key_padding_mask is not None:
        pads = key_padding_mask.unsqueeze(-2)  # [B, K, 1, Ck]
        hidden = pads if hidden is None else (pads | hidden)
    return hidden


def attention_weights(
    q: torch.Tensor,
    k: torch.Tensor,
    bias: torch.Tensor,
    hidden: Optional[torch.Tensor],
    kind: str,
) -> torch.Tensor:
    """Attention weights ``[B, K, Cq, Ck]`` in q's dtype for ``kind`` in softmax / relu2 / laplace."""
    if kind == "softmax":
        scores = torch.matmul(q * q.size(-1) ** -0.5, k.transpose(-1, -2)) + bias
        if hidden is not None:
            scores = scores.masked_fill(hidden, float("-inf"))
        weights = torch.softmax(scores, dim=-1, dtype=torch.promote_types(scores.dtype, torch.float32))
        if hidden is not None:
            weights = weights.masked_fill(hidden.all(-1, keepdim=True), 0.0)
        return weights.type_as(q)
    if hidden is None:
        lengths = k.size(-2)
    else:
        lengths = (~hidden).sum(-1, keepdim=True).clamp(min=1).to(q.dtype)
    scores = torch.matmul(q, k.transpose(-1, -2)) / lengths + bias
    weights = relu2(scores) if kind == "relu2" else laplace(scores)
    if hidden is not None:
        weights = weights.masked_fill(hidden, 0.0)
    return weights


# Weights formed at once by element_attention (8 MiB in float32). Measured on CPU (one laplace layer, full
# attention, D 128, fwd+bwd, 8192 tokens, 1K-2K keys): 2M takes 0.80-0.85x the time of 4M in the decoder (more
# causal blocks skip more future keys; blocks stay in cache) and 0.94-0.99x in the encoder; 1M is no faster.
ELEMENT_BLOCK_ELEMENTS = 1 << 21


def _block_of(t: Optional[torch.Tensor], start: int, stop: int, keys: int) -> Optional[torch.Tensor]:
    """Query rows ``start:stop`` and keys ``:keys`` of a bias or mask broadcast to ``[..., Cq, Ck]`` (an axis of
    size 1 is broadcast and stays whole)."""
    if t is None:
        return t
    if t.dim() >= 2 and t.size(-2) > 1:
        t = t[..., start:stop, :]
    return t[..., :keys] if t.dim() >= 1 and t.size(-1) > 1 else t


def _weighted_values(weights: torch.Tensor, v: torch.Tensor, dropout: float) -> torch.Tensor:
    """``dropout(weights) @ v``: the last step of every block function below."""
    if dropout > 0.0:
        weights = F.dropout(weights, dropout)
    return torch.matmul(weights, v)


def _row_blocks(rows: int, block: int):
    """``(start, stop)`` of consecutive blocks of at most ``block`` of ``rows`` query rows."""
    return [(start, min(start + block, rows)) for start in range(0, rows, block)]


def _cat_blocks(block_fn, blocks, recompute: bool) -> torch.Tensor:
    """``block_fn(*args)`` for each ``args`` of ``blocks`` (blocks of query rows), joined along the query axis;
    with ``recompute`` each runs under activation checkpointing (its weights, and the dropout mask with them,
    recomputed in the backward instead of kept)."""
    outputs = [checkpoint(block_fn, *args, use_reentrant=False) if recompute else block_fn(*args) for args in blocks]
    return torch.cat(outputs, dim=-2)


def _element_block(q, k, v, bias, hidden, kind: str, dropout: float) -> torch.Tensor:
    return _weighted_values(attention_weights(q, k, bias, hidden, kind), v, dropout)


def element_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    bias: torch.Tensor,
    hidden: Optional[torch.Tensor],
    kind: str,
    dropout: float = 0.0,
    max_elements: Optional[int] = None,
    causal_offset: Optional[int] = None,
) -> torch.Tensor:
    """relu2 / laplace attention ``[..., Cq, H]`` = ``dropout(attention_weights(q, k, bias, hidden, kind)) @ v``.

    Query rows go in blocks of at most ``max_elements`` (default ``ELEMENT_BLOCK_ELEMENTS``) weights; with
    gradients each block runs under activation checkpointing (the weights are recomputed in the backward, the
    dropout mask with them), so memory grows with one block instead of the whole ``[..., Cq, Ck]`` matrix. One
    block: exactly the reference path. ``causal_offset``: query row i sits at key position ``causal_offset + i`` and
    ``hidden`` hides the keys after it, so each block multiplies only the keys up to its last row (for a square
    causal chunk in n blocks, (n + 1) / 2n of the products); the hidden keys it skips count in no normaliser.
    """
    if kind == "softmax":
        raise ValueError("element_attention is for relu2 / laplace; softmax goes through fused_softmax_attention")
    max_elements = ELEMENT_BLOCK_ELEMENTS if max_elements is None else max_elements
    rows, num_keys = q.size(-2), k.size(-2)
    per_row = q[..., 0, 0].numel() * num_keys
    block = max(1, max_elements // max(1, per_row))
    if block >= rows:
        return _element_block(q, k, v, bias, hidden, kind, dropout)
    blocks = []
    for start, stop in _row_blocks(rows, block):
        keys = num_keys if causal_offset is None or hidden is None else min(num_keys, causal_offset + stop)
        blocks.append((q[..., start:stop, :], k[..., :keys, :], v[..., :keys, :], _block_of(bias, start, stop, keys),
                       _block_of(hidden, start, stop, keys), kind, dropout))
    return _cat_blocks(_element_block, blocks, recompute=grad_needed(q, k, v, bias))


def attend_unfused(q, k, v, bias, hidden, kind: str, dropout, form_weights: bool, causal_offset=None):
    """(h ``[..., Cq, H]``, weights or None) without the SDPA softmax path: the reference (every weight formed,
    returned, ``dropout`` the attention-dropout module) when ``form_weights``, else relu2 / laplace blockwise
    (``causal_offset``: see ``element_attention``)."""
    if form_weights:
        weights = attention_weights(q, k, bias, hidden, kind)
        return torch.matmul(dropout(weights), v), weights
    p = dropout.p if dropout.training else 0.0
    return element_attention(q, k, v, bias, hidden, kind, p, causal_offset=causal_offset), None


# Keys from which values wider than the queries are attended in query-wide slices, by (device type, causal);
# None = never. Flash kernels need equal q/k/v widths; without slices CUDA runs its memory-efficient kernel, which
# takes unequal widths, and the CPU forms every weight: causal square chunks in ``causal_attention_blocks`` (a bit
# more than half the products, weights recomputed in the backward), others in SDPA's math kernel (weights kept).
# The blocks' bias is C x C, so long rows go in slices. Measured on CPU (one decoder/encoder layer, D 128, Z 64,
# H 256, fwd+bwd, 8192 tokens): causal slices take 1.2x the time of the blocks at 1024 keys and the same at 2048
# (keeping 125 instead of 132 MB), hence from 2048 keys; bidirectional slices take 1.05-1.2x the time of one call
# at 2048-8192 keys but keep memory linear in L (8192 keys: 137 instead of 385 MB saved), hence from 4096 keys.
# Not measured on CUDA: ``benchmarks/layer.py --cuda-value-slices`` sets the CUDA entries to compare.
VALUE_SLICE_MIN_KEYS = {("cpu", True): 2048, ("cpu", False): 4096, ("cuda", True): None, ("cuda", False): None}


def _slice_values(q, k, v, mask, dropout: float, is_causal: bool) -> bool:
    min_keys = VALUE_SLICE_MIN_KEYS.get((q.device.type, is_causal))
    wider = v.size(-1) > q.size(-1)
    return min_keys is not None and wider and mask is None and dropout == 0.0 and k.size(-2) >= min_keys


def _sdpa(q, k, v, mask, dropout: float, is_causal: bool) -> torch.Tensor:
    """``scaled_dot_product_attention`` with scale 1; values wider than the queries go in query-wide slices where
    ``VALUE_SLICE_MIN_KEYS`` says so (same result; one dropout mask could not be shared, hence none)."""
    if _slice_values(q, k, v, mask, dropout, is_causal):
        width = q.size(-1)
        slices = F.pad(v, (0, -v.size(-1) % width)).split(width, dim=-1)
        out = torch.cat([F.scaled_dot_product_attention(q, k, s, is_causal=is_causal, scale=1.0) for s in slices],
                        dim=-1)
        return out[..., : v.size(-1)]
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=is_causal, scale=1.0)


# Query rows per block of ``causal_attention_blocks``.
CAUSAL_BLOCK_ROWS = 128


def _causal_block(q, k, v, bias, key_padding_mask, start: int, dropout: float) -> torch.Tensor:
    """Query rows ``start:start + q.size(-2)`` (q scaled) over keys ``:k.size(-2)`` of a causal square chunk."""
    future = torch.ones(q.size(-2), k.size(-2), dtype=torch.bool, device=q.device).triu(start + 1)
    # the future goes in with the [rows, keys] bias, not as a masked copy of the [B, K, rows, keys] scores
    scores = torch.matmul(q, k.transpose(-1, -2)) + torch.where(future, float("-inf"), bias)
    if key_padding_mask is not None:
        pads = key_padding_mask.unsqueeze(-2)
        scores = scores.masked_fill(pads, float("-inf"))
    weights = torch.softmax(scores, dim=-1, dtype=torch.promote_types(scores.dtype, torch.float32)).type_as(q)
    if key_padding_mask is not None:  # only padding can hide every key of a row (key 0 is never in the future)
        weights = weights.masked_fill((pads | future).all(-1, keepdim=True), 0.0)
    return _weighted_values(weights, v, dropout)


def causal_attention_blocks(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    bias: Optional[torch.Tensor],
    key_padding_mask: Optional[torch.Tensor],
    dropout: float = 0.0,
    block_rows: Optional[int] = None,
) -> torch.Tensor:
    """Causal softmax attention of square chunks (query i at key position i), ``[B, K, C, H]``, formed explicitly a
    block of ``block_rows`` (default ``CAUSAL_BLOCK_ROWS``) query rows at a time.

    The block of rows ``start:stop`` multiplies only keys ``:stop``, so for n blocks the products cost (n + 1) / 2n
    of the whole matrix's. With gradients and more than one block, each block runs under activation checkpointing
    (its weights are recomputed in the backward, the dropout mask with them), so no weights are kept. q
    ``[B, K, C, Z]`` unscaled; bias ``[C, C]`` or None; ``key_padding_mask [B, K, C]`` or None. Each block equals
    ``attention_weights(..., "softmax") @ v``.
    """
    length = q.size(-2)
    rows = block_rows or CAUSAL_BLOCK_ROWS
    scaled_q = q * q.size(-1) ** -0.5
    bias = scaled_q.new_zeros(length, length) if bias is None else bias
    blocks = [
        (scaled_q[..., start:stop, :], k[..., :stop, :], v[..., :stop, :], _block_of(bias, start, stop, stop),
         None if key_padding_mask is None else key_padding_mask[..., :stop], start, dropout)
        for start, stop in _row_blocks(length, rows)
    ]
    return _cat_blocks(_causal_block, blocks, recompute=len(blocks) > 1 and grad_needed(q, k, v, bias))


def blocks_replace_sdpa(device: torch.device, sdpa_q_width: int, v_width: int, num_keys: int) -> bool:
    """Whether causal softmax attention of a square chunk goes through ``causal_attention_blocks`` instead of
    ``scaled_dot_product_attention``: on CPU where SDPA has no flash kernel for the widths (they differ) and the
    values are not attended in slices (``VALUE_SLICE_MIN_KEYS``). SDPA would then form and keep the whole weight
    matrix in its math kernel; the blocks form a bit more than half of it and, when there are several, keep none.
    Measured on CPU (one decoder layer, full attention, fwd+bwd, 8192 tokens): 0.85x the math kernel's time at 512
    keys, 0.82x the slices' at 1024.
    """
    if device.type != "cpu" or sdpa_q_width == v_width:
        return False
    min_keys = VALUE_SLICE_MIN_KEYS.get(("cpu", True))
    return min_keys is None or num_keys < min_keys


def fused_softmax_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    bias: Optional[torch.Tensor],
    hidden: Optional[torch.Tensor],
    causal_square: bool,
    dropout: float,
    extra_q: Optional[torch.Tensor] = None,
    extra_k: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Softmax attention through ``scaled_dot_product_attention`` (never forms the weights in Python).

    Same result as ``attention_weights(..., "softmax") @ v``. A rotary bias ``a_i . b_j`` is passed as extra
    features (``extra_q [.., Cq, Z]`` appended to the scaled queries, ``extra_k [.., Ck, Z]`` to the keys), so
    flash/memory-efficient kernels can run; any other bias goes in as an additive mask. ``causal_square`` (only
    without ``bias``): the hidden keys are exactly the future of a square block, passed as ``is_causal``.
    """
    scaled_q = q * q.size(-1) ** -0.5
    if extra_q is not None:
        scaled_q = torch.cat([scaled_q, extra_q.expand(*q.shape[:-1], -1)], dim=-1)
        k = torch.cat([k, extra_k.expand(*k.shape[:-1], -1)], dim=-1)
    if causal_square:
        if bias is not None or hidden is not None:
            raise ValueError("causal_square replaces bias and hidden masks")
        return _sdpa(scaled_q, k, v, None, dropout, is_causal=True)
    empty_rows = None
    if hidden is not None:
        empty_rows = hidden.all(-1, keepdim=True)
        hidden = hidden & ~empty_rows  # rows with no visible key attend everywhere, then are zeroed
    if bias is None:
        mask = None if hidden is None else ~hidden
    else:
        mask = bias.to(scaled_q.dtype)
        if hidden is not None:
            mask = mask.masked_fill(hidden, float("-inf"))
    out = _sdpa(scaled_q, k, v, mask, dropout, is_causal=False)
    if empty_rows is not None:
        out = out.masked_fill(empty_rows, 0.0)
    return out
