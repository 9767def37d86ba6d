"""Causal softmax attention in blocks of query rows (``causal_attention_blocks``, the CPU path where SDPA would
form every weight) against the weights formed at once, and the choice of path (``blocks_replace_sdpa``)."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mega_plugin.modules import attention
from mega_plugin.modules.attention import (
    attention_weights, blocks_replace_sdpa, causal_attention_blocks, visibility_mask,
)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(1, 13), st.integers(1, 14), st.booleans(), st.integers(0, 4),
       st.integers(0, 2**16))
def test_blocks_equal_the_whole_weight_matrix(chunks, length, rows, with_bias, pad_from, seed):
    """Values and gradients (q, k, v, bias) equal softmax over every weight, for any block size, with padding
    (pad_from 0: the second sequence is all padding, so its rows see no key and must come out zero)."""
    generator = torch.Generator().manual_seed(seed)
    q, k = (torch.randn(2, chunks, length, 3, dtype=torch.float64, generator=generator) for _ in range(2))
    v = torch.randn(2, chunks, length, 5, dtype=torch.float64, generator=generator)
    bias = torch.randn(length, length, dtype=torch.float64, generator=generator) if with_bias else None
    pads = None
    if pad_from < 4:
        pads = torch.zeros(2, chunks, length, dtype=torch.bool)
        pads[1, :, pad_from:] = True
    tensors = [t.requires_grad_() for t in (q, k, v, bias) if t is not None]

    def reference(q, k, v, bias=None):
        hidden = visibility_mask(pads, True, length, length, 0, q.device)
        return attention_weights(q, k, 0.0 if bias is None else bias, hidden, "softmax") @ v

    def blocks(q, k, v, bias=None):
        return causal_attention_blocks(q, k, v, bias, pads, block_rows=rows)

    results = []
    for fn in (blocks, reference):
        out = fn(*tensors)
        results.append((out, torch.autograd.grad((out * torch.cos(out)).sum(), tensors)))
    (got, got_grads), (expected, expected_grads) = results
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
    if pads is not None and pad_from == 0:
        assert got[1].abs().max() == 0
    for got_grad, expected_grad in zip(got_grads, expected_grads):
        torch.testing.assert_close(got_grad, expected_grad, rtol=0, atol=1e-11)


def saved_weight_elements(fn):
    """Elements of the distinct float ``[B, K, rows, keys]`` tensors autograd keeps (q, k, v have 3 or 5 columns)."""
    kept = {}

    def pack(t):
        if t.is_floating_point() and t.dim() == 4 and min(t.shape[-2:]) > 5:
            kept[t.data_ptr()] = t.numel()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(kept.values())


def test_blocks_keep_no_weights_for_the_backward():
    """Several blocks: each is recomputed in the backward, so no weights are kept; one block keeps its 32 x 32
    weights once (the softmax output is also the input the product with v keeps)."""
    q, k = (torch.randn(2, 1, 32, 3, requires_grad=True) for _ in range(2))
    v = torch.randn(2, 1, 32, 5, requires_grad=True)
    assert saved_weight_elements(lambda: causal_attention_blocks(q, k, v, None, None, block_rows=8)) == 0
    assert saved_weight_elements(lambda: causal_attention_blocks(q, k, v, None, None, block_rows=32)) == 2 * 32 * 32


def test_recomputed_blocks_draw_the_same_dropout_masks(monkeypatch):
    """Gradients under checkpointing equal those of the blocks kept whole with the same seed: the backward
    recomputes each block with the dropout mask of its forward."""
    q, k = (torch.randn(2, 1, 20, 3, dtype=torch.float64, requires_grad=True) for _ in range(2))
    v = torch.randn(2, 1, 20, 5, dtype=torch.float64, requires_grad=True)
    results = []
    for recompute in (True, False):
        if not recompute:
            monkeypatch.setattr(attention, "checkpoint", lambda fn, *args, **kwargs: fn(*args))
        torch.manual_seed(3)
        out = causal_attention_blocks(q, k, v, None, None, dropout=0.5, block_rows=6)
        results.append((out, torch.autograd.grad(out.square().sum(), (q, k, v))))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=0, atol=0)
    for recomputed, kept in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(recomputed, kept, rtol=0, atol=1e-14)
    without_dropout = causal_attention_blocks(q, k, v, None, None, block_rows=6)
    assert not torch.allclose(results[0][0], without_dropout)


@pytest.mark.parametrize("device, q_width, v_width, keys, expected", [
    ("cpu", 128, 256, 512, True),     # SDPA: math kernel (widths differ), no slices below the threshold
    ("cpu", 128, 256, 1 << 20, False),  # long rows: values in slices (flash kernel, memory linear in L)
    ("cpu", 64, 256, 512, True),
    ("cpu", 128, 128, 512, False),    # equal widths: SDPA's flash kernel
    ("cuda", 128, 256, 512, False),   # CUDA: the memory-efficient kernel takes unequal widths
])
def test_blocks_replace_sdpa_only_where_it_would_form_every_weight(device, q_width, v_width, keys, expected):
    assert blocks_replace_sdpa(torch.device(device), q_width, v_width, keys) == expected


def test_blocks_replace_sdpa_below_the_value_slice_threshold(monkeypatch):
    monkeypatch.setitem(attention.VALUE_SLICE_MIN_KEYS, ("cpu", True), 100)
    assert blocks_replace_sdpa(torch.device("cpu"), 8, 16, 99)
    assert not blocks_replace_sdpa(torch.device("cpu"), 8, 16, 100)
    monkeypatch.setitem(attention.VALUE_SLICE_MIN_KEYS, ("cpu", True), None)
    assert blocks_replace_sdpa(torch.device("cpu"), 8, 16, 1 << 20)
