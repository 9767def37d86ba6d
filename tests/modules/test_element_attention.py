"""Blockwise relu2 / laplace attention (``element_attention``) against the plain path that forms every weight:
values and gradients, what is kept for the backward, and dropout recomputed with the same mask."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mega_plugin.modules import attention
from mega_plugin.modules.attention import attention_weights, element_attention, visibility_mask


def inputs(batch, chunks, rows, keys, causal, seed):
    torch.manual_seed(seed)
    q = torch.randn(batch, chunks, rows, 4, dtype=torch.float64, requires_grad=True)
    k = torch.randn(batch, chunks, keys, 4, dtype=torch.float64, requires_grad=True)
    v = torch.randn(batch, chunks, keys, 5, dtype=torch.float64, requires_grad=True)
    bias = (0.1 * torch.randn(rows, keys, dtype=torch.float64)).requires_grad_(True)
    pads = torch.zeros(batch, chunks, keys, dtype=torch.bool)
    pads[0, :, keys // 2 + 1 :] = True
    hidden = visibility_mask(pads, causal, rows, keys, keys - rows, q.device)
    return q, k, v, bias, hidden


def reference(q, k, v, bias, hidden, kind):
    return torch.matmul(attention_weights(q, k, bias, hidden, kind), v)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["relu2", "laplace"]), st.integers(1, 3), st.integers(1, 9), st.integers(0, 4),
       st.booleans(), st.booleans(), st.integers(1, 200), st.integers(0, 2**16))
def test_blocks_equal_the_full_matrix(kind, chunks, rows, extra_keys, causal, skip_future, max_elements, seed):
    """Any block size, with and without padding and causality; causal blocks that skip the future keys too."""
    tensors = inputs(2, chunks, rows, rows + extra_keys, causal, seed)
    offset = extra_keys if causal and skip_future else None
    outputs, grads = [], []
    for fn in (lambda *t: element_attention(*t, kind, max_elements=max_elements, causal_offset=offset),
               lambda *t: reference(*t, kind)):
        out = fn(*tensors)
        outputs.append(out)
        grads.append(torch.autograd.grad(out.square().sum(), tensors[:4]))
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=1e-12)
    for got, expected in zip(*grads):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-11)


def test_causal_blocks_multiply_only_the_keys_up_to_their_last_row(monkeypatch):
    seen = []
    real_block = attention._element_block

    def spy(q, k, *rest):
        seen.append((q.size(-2), k.size(-2)))
        return real_block(q, k, *rest)

    monkeypatch.setattr(attention, "_element_block", spy)
    q, k, v, bias, hidden = inputs(1, 1, 8, 10, True, 0)  # 8 queries at key positions 2..9
    element_attention(q, k, v, bias, hidden, "laplace", max_elements=30, causal_offset=2)  # 3 rows a block
    assert seen == [(3, 5), (3, 8), (2, 10)]


def largest_saved(fn):
    """numel of the largest tensor autograd keeps for the backward while ``fn()`` runs (and its result)."""
    sizes = []

    def pack(t):
        sizes.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return max(sizes), out


@pytest.mark.parametrize("kind", ["relu2", "laplace"])
def test_no_full_weight_matrix_is_kept_for_the_backward(kind):
    q, k, v, bias, hidden = inputs(2, 3, 16, 16, True, 0)
    full = 2 * 3 * 16 * 16  # the [B, K, C, C] weights
    largest_plain, _ = largest_saved(lambda: reference(q, k, v, bias, hidden, kind))
    assert largest_plain >= full  # the probe sees the weights of the plain path
    largest, out = largest_saved(lambda: element_attention(q, k, v, bias, hidden, kind, max_elements=200))
    assert largest <= max(t.numel() for t in (q, k, v, bias)) < full
    out.sum().backward()  # the recomputing backward runs
    assert q.grad is not None and bias.grad is not None


@pytest.mark.parametrize("kind", ["relu2", "laplace"])
def test_dropout_mask_is_the_same_in_the_recomputed_backward(kind):
    """With a fixed seed per call the blockwise dropout is a deterministic function; gradcheck then proves the
    backward (recomputing each block) differentiates the same masked weights the forward used."""
    q, k, v, bias, hidden = inputs(1, 2, 6, 6, False, 1)

    def fn(q, k, v, bias):
        torch.manual_seed(3)
        return element_attention(q, k, v, bias, hidden, kind, dropout=0.5, max_elements=12)

    assert torch.autograd.gradcheck(fn, (q, k, v, bias))
    torch.manual_seed(3)
    dropped = element_attention(q, k, v, bias, hidden, kind, dropout=0.5, max_elements=12)
    assert not torch.allclose(dropped, reference(q, k, v, bias, hidden, kind))


def test_softmax_is_refused():
    q, k, v, bias, hidden = inputs(1, 1, 2, 2, False, 0)
    with pytest.raises(ValueError, match="relu2 / laplace"):
        element_attention(q, k, v, bias, hidden, "softmax")
