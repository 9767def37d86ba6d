"""The EMA's FFT convolutions: values against direct sums, the hand-written backward against finite differences and
plain autograd, and what the backward keeps."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mega_plugin.modules.fft_conv import (
    causal_buffer,
    circular_conv,
    circular_conv_reference,
    fft_causal_conv,
    fft_size,
    fft_two_sided_conv,
)


def direct_two_sided(x, forward_k, backward_k):
    """The definition, term by term (backward_k None: causal only)."""
    length, taps = x.size(-1), forward_k.size(-1)
    y = torch.zeros_like(x)
    for t in range(length):
        for lag in range(min(taps, t + 1)):
            y[..., t] += forward_k[..., lag] * x[..., t - lag]
        if backward_k is not None:
            for lag in range(1, min(taps, length - t)):
                y[..., t] += backward_k[..., lag] * x[..., t + lag]
            y[..., t] += backward_k[..., 0] * x[..., t]
    return y


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 24), st.data(), st.booleans(), st.integers(0, 999))
def test_convolutions_equal_their_definition(length, data, two_sided, seed):
    taps = data.draw(st.integers(1, length))
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, length, dtype=torch.float64, generator=generator)
    f, b = torch.randn(2, 3, taps, dtype=torch.float64, generator=generator)
    if two_sided:
        out, expected = fft_two_sided_conv(x, f, b), direct_two_sided(x, f, b)
    else:
        out, expected = fft_causal_conv(x, f), direct_two_sided(x, f, None)
    assert (out - expected).abs().max() < 1e-10


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 12), st.data(), st.booleans(), st.booleans(), st.integers(0, 999))
def test_backward_passes_gradcheck(length, data, two_sided, batched_kernel, seed):
    taps = data.draw(st.integers(1, length))
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, length, dtype=torch.float64, generator=generator, requires_grad=True)
    kernel_shape = (2, 3, taps) if batched_kernel else (3, taps)
    f = torch.randn(kernel_shape, dtype=torch.float64, generator=generator, requires_grad=True)
    b = torch.randn(kernel_shape, dtype=torch.float64, generator=generator, requires_grad=True)
    if two_sided:
        assert torch.autograd.gradcheck(fft_two_sided_conv, (x, f, b))
    else:
        assert torch.autograd.gradcheck(fft_causal_conv, (x, f))


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 40), st.integers(0, 999))
def test_gradients_equal_plain_autograd(length, seed):
    generator = torch.Generator().manual_seed(seed)
    n = fft_size(2 * length - 1)
    x = torch.randn(4, 5, length, generator=generator)
    w = causal_buffer(torch.randn(5, length, generator=generator), n)
    grad = torch.randn(4, 5, length, generator=generator)
    results = []
    for conv in (circular_conv, circular_conv_reference):
        xi, wi = x.clone().requires_grad_(), w.clone().requires_grad_()
        out = conv(xi, wi)
        out.backward(grad)
        results.append((out, xi.grad, wi.grad))
    for ours, reference in zip(*results):
        assert (ours - reference).abs().max() < 1e-5 * max(1.0, reference.abs().max().item())


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 40), st.integers(1, 3), st.booleans(), st.integers(0, 999))
def test_time_major_layout_is_the_transposed_batch_major_convolution(length, batch, two_sided, seed):
    """x ``[L, B, D]`` with ``time_major`` (transposed inside) gives the ``[B, D, L]`` convolution's output and
    gradients, transposed, in any dtype (the bfloat16 input comes back bfloat16). Equal up to rounding: pocketfft
    may vectorise strided and contiguous batches of transforms differently, and a bfloat16 gradient then rounds to
    a neighbouring value."""
    generator = torch.Generator().manual_seed(seed)
    taps = 1 + seed % length
    x = torch.randn(batch, 5, length, generator=generator)
    kernels = torch.randn(2, 5, taps, generator=generator)
    grad = torch.randn(length, batch, 5, generator=generator)
    for dtype in (torch.float64, torch.bfloat16):
        results = []
        for time_major in (False, True):
            xi = (x.permute(2, 0, 1) if time_major else x).to(dtype).contiguous().requires_grad_()
            ks = kernels.double().requires_grad_()
            if two_sided:
                out = fft_two_sided_conv(xi, ks[0], ks[1], time_major=time_major)
            else:
                out = fft_causal_conv(xi, ks[0], time_major=time_major)
            out = out if time_major else out.permute(2, 0, 1)
            out.backward(grad.to(out.dtype))
            x_grad = xi.grad if time_major else xi.grad.permute(2, 0, 1)
            assert x_grad.dtype == dtype and out.shape == (length, batch, 5)
            results.append((out, x_grad, ks.grad))
        for batch_major, time_major in zip(*results):
            tolerance = 1e-12 if batch_major.dtype == torch.float64 else 1e-2
            torch.testing.assert_close(time_major, batch_major, rtol=tolerance,
                                       atol=tolerance * batch_major.abs().max().item())


def test_low_precision_input_is_kept_as_is_and_gets_its_dtype_back():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 64, dtype=torch.bfloat16, requires_grad=True)
    k = torch.randn(4, 64, requires_grad=True)
    out = fft_causal_conv(x, k)
    assert out.dtype == torch.float32
    out.square().sum().backward()
    assert x.grad.dtype == torch.bfloat16 and k.grad.dtype == torch.float32

    x32 = x.detach().float().requires_grad_()
    k32 = k.detach().clone().requires_grad_()
    fft_causal_conv(x32, k32).square().sum().backward()
    assert (x.grad.float() - x32.grad).abs().max() <= 1e-2 * x32.grad.abs().max()
    assert (k.grad - k32.grad).abs().max() <= 1e-5 * k32.grad.abs().max()


@pytest.mark.parametrize("time_major", [False, True])
def test_backward_keeps_only_the_input_and_the_kernel_buffer(time_major):
    x = torch.randn(2, 8, 256, dtype=torch.bfloat16, requires_grad=True)
    w = torch.randn(8, fft_size(511), requires_grad=True)
    kept = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: kept.append(t) or t, lambda t: t):
        circular_conv(x.permute(2, 0, 1) if time_major else x, w, time_major)
    assert len(kept) == 2
    assert kept[1] is w
    if time_major:  # the [L, B, D] view of x itself, not a transposed copy
        assert kept[0].untyped_storage().data_ptr() == x.untyped_storage().data_ptr() and kept[0].shape == (256, 2, 8)
    else:
        assert kept[0] is x
    plain = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: plain.append(t) or t, lambda t: t):
        circular_conv_reference(x, w)
    plain_bytes = sum(t.untyped_storage().nbytes() for t in plain)
    assert plain_bytes > 8 * x.untyped_storage().nbytes()  # what the hand-written backward avoids keeping
