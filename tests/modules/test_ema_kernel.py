"""The factored Vandermonde kernel (one batched matmul of two small power tables) equals the one-shot formula,
values and gradients; the blocked decayed sum equals the recurrence."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mega_plugin.modules import ema_kernel
from mega_plugin.modules.ema_kernel import decayed_sum, vandermonde_kernel, vandermonde_kernel_reference


def _inputs(rows=3, ndim=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    weights = torch.randn(rows, ndim, dtype=torch.float64, generator=generator).requires_grad_(True)
    q = torch.rand(rows, ndim, dtype=torch.float64, generator=generator) * 0.999 + 0.0005
    return weights, torch.log(q).requires_grad_(True)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 40), st.integers(1, 200), st.integers(1, 5), st.integers(1, 4), st.integers(0, 99))
def test_factored_kernel_matches_reference(start, length, rows, ndim, seed):
    """Any length (perfect squares or not, shorter than one row of the factorisation), any start lag."""
    weights, log_q = _inputs(rows, ndim, seed)
    got = vandermonde_kernel(weights, log_q, start, length)
    want = vandermonde_kernel_reference(weights, log_q, start, length)
    assert got.shape == (rows, length)
    assert torch.allclose(got, want, atol=1e-12, rtol=1e-12)
    grad = torch.randn_like(got)
    for a, b in zip(torch.autograd.grad(got, (weights, log_q), grad),
                    torch.autograd.grad(want, (weights, log_q), grad)):
        assert torch.allclose(a, b, atol=1e-10, rtol=1e-10)


def test_factored_kernel_gradcheck():
    weights, log_q = _inputs()
    assert torch.autograd.gradcheck(lambda w, lq: vandermonde_kernel(w, lq, 2, 11), (weights, log_q))


def test_float32_kernel_is_as_accurate_as_the_one_shot_formula():
    """Splitting q^(aS+b) into two float32 powers must not lose accuracy against float64 at long lengths."""
    weights, log_q = (t.detach() for t in _inputs(rows=64, ndim=16, seed=3))
    exact = vandermonde_kernel_reference(weights, log_q, 0, 4096)
    factored = vandermonde_kernel(weights.float(), log_q.float(), 0, 4096).double()
    one_shot = vandermonde_kernel_reference(weights.float(), log_q.float(), 0, 4096).double()
    assert (factored - exact).abs().max() <= 2 * (one_shot - exact).abs().max() + 1e-6


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(ema_kernel, "BLOCK_ELEMENTS", 7)  # forces many ragged blocks


def test_decayed_sum_is_the_final_recurrent_state(small_blocks):
    weights, log_q = (t.detach() for t in _inputs(rows=4, ndim=3))
    x = torch.randn(2, 4, 10, dtype=torch.float64)
    h = torch.zeros(2, 4, 3, dtype=torch.float64)
    for t in range(10):
        h = torch.exp(log_q) * h + weights * x[..., t : t + 1]
    assert torch.allclose(decayed_sum(x, weights, log_q), h, atol=1e-12)
