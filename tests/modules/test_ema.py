"""MultiHeadEMA against an explicit recurrence; dtypes; no stale kernels."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mega_plugin.modules import MultiHeadEMA
from mega_plugin.modules.fft_conv import fft_size


def recurrence(ema: MultiHeadEMA, x: torch.Tensor) -> torch.Tensor:
    """silu(EMA(x) + omega x) by the definition h_t = q h_{t-1} + p beta x_t, truncation as a window."""
    length, batch, dim = x.shape
    b, q, c = (t.double() for t in ema.coefficients())
    taps = length if ema.truncation is None else min(ema.truncation, length)
    xs = x.double()
    y = torch.zeros(length, batch, dim, dtype=torch.float64)
    for t in range(length):
        for lag in range(taps):
            decay = (b * c * q**lag).sum(-1)  # [E]
            if t - lag >= 0:
                y[t] += decay[:dim] * xs[t - lag]
            if ema.bidirectional and t + lag < length:
                y[t] += decay[dim:] * xs[t + lag]
    return F.silu(y + xs * ema.omega.double())


@settings(max_examples=30, deadline=None)
@given(
    st.booleans(), st.sampled_from([None, 0, 1, 4, 40]), st.integers(1, 17), st.integers(1, 4), st.integers(0, 999)
)
def test_matches_explicit_recurrence(bidirectional, truncation, length, ndim, seed):
    torch.manual_seed(seed)
    ema = MultiHeadEMA(3, ndim, bidirectional=bidirectional, truncation=truncation)
    x = torch.randn(length, 2, 3)
    with torch.no_grad():
        assert (ema(x).double() - recurrence(ema, x)).abs().max() < 1e-5


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_inputs_keep_their_dtype_and_accuracy(dtype):
    torch.manual_seed(0)
    ema = MultiHeadEMA(8, 4, truncation=None)
    x = torch.randn(64, 2, 8)
    with torch.no_grad():
        reference = ema(x)
        out = ema.to(dtype)(x.to(dtype))
    assert out.dtype == dtype
    tolerance = 2e-2 if dtype == torch.float16 else 1e-1
    assert (out.float() - reference).abs().max() < tolerance


def test_kernel_follows_load_state_dict_in_eval_mode():
    torch.manual_seed(0)
    a, b = MultiHeadEMA(4, 2).eval(), MultiHeadEMA(4, 2).eval()
    x = torch.randn(10, 1, 4)
    with torch.no_grad():
        a(x)  # a first eval forward must not freeze anything
        a.load_state_dict(b.state_dict())
        assert torch.equal(a(x), b(x))


def test_no_extra_state_entries():
    assert sorted(MultiHeadEMA(4, 2, bidirectional=True).state_dict()) == ["alpha", "beta", "delta", "gamma", "omega"]
    assert MultiHeadEMA(4, 2, bidirectional=True).delta.shape == (8, 2, 1)


@given(st.integers(1, 5000))
def test_fft_size_is_smooth_and_large_enough(n):
    size = fft_size(n)
    assert size >= n
    assert size <= 2 * n  # never worse than the next power of two
    for p in (2, 3, 5):
        while size % p == 0:
            size //= p
    assert size == 1


@pytest.mark.parametrize("truncation", [None, 3])
def test_blocked_decayed_sum_inside_the_ema(monkeypatch, truncation):
    from mega_plugin.modules import ema_kernel

    monkeypatch.setattr(ema_kernel, "BLOCK_ELEMENTS", 5)
    torch.manual_seed(1)
    ema = MultiHeadEMA(3, 2, truncation=truncation).double()
    x = torch.randn(12, 2, 3, dtype=torch.float64)
    with torch.no_grad():
        full = ema(x)
        assert (full - recurrence(ema, x)).abs().max() < 1e-10
        state = {}
        steps = [ema(x[i : i + 5], incremental_state=state) for i in range(0, 12, 5)]
    assert (torch.cat(steps) - full).abs().max() < 1e-10
