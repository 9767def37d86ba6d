"""The blocked Vandermonde kernel and its hand-written backward equal the one-shot formula."""

import pytest
import torch

from mega_plugin.modules import ema_kernel
from mega_plugin.modules.ema_kernel import _BlockedVandermonde, decayed_sum, vandermonde_kernel_reference


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(ema_kernel, "BLOCK_ELEMENTS", 7)  # forces many ragged blocks


def _inputs(rows=3, ndim=2):
    torch.manual_seed(0)
    weights = torch.randn(rows, ndim, dtype=torch.float64, requires_grad=True)
    log_q = torch.log(torch.rand(rows, ndim, dtype=torch.float64) * 0.9 + 0.05).requires_grad_(True)
    return weights, log_q


@pytest.mark.parametrize("start, length", [(0, 1), (0, 13), (5, 9)])
def test_blocked_forward_and_backward_match_reference(small_blocks, start, length):
    weights, log_q = _inputs()
    blocked = _BlockedVandermonde.apply(weights, log_q, start, length)
    reference = vandermonde_kernel_reference(weights, log_q, start, length)
    assert torch.allclose(blocked, reference, atol=1e-12)
    grad = torch.randn_like(blocked)
    got = torch.autograd.grad(blocked, (weights, log_q), grad)
    want = torch.autograd.grad(reference, (weights, log_q), grad)
    for a, b in zip(got, want):
        assert torch.allclose(a, b, atol=1e-10)


def test_blocked_gradcheck(small_blocks):
    weights, log_q = _inputs()
    assert torch.autograd.gradcheck(lambda w, lq: _BlockedVandermonde.apply(w, lq, 2, 11), (weights, log_q))


def test_decayed_sum_is_the_final_recurrent_state(small_blocks):
    weights, log_q = (t.detach() for t in _inputs(rows=4, ndim=3))
    x = torch.randn(2, 4, 10, dtype=torch.float64)
    h = torch.zeros(2, 4, 3, dtype=torch.float64)
    for t in range(10):
        h = torch.exp(log_q) * h + weights * x[..., t : t + 1]
    assert torch.allclose(decayed_sum(x, weights, log_q), h, atol=1e-12)
