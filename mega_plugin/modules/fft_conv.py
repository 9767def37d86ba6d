"""FFT convolutions of the EMA: sequences ``x [..., L]`` with kernels ``[..., K]`` (K <= L), in float32 or wider.

Both convolutions are the first L outputs of one circular convolution of size ``n >= L + K - 1`` between the
zero-padded input and a kernel buffer ``w [..., n]``: a causal kernel sits at the start of the buffer; the backward
(anti-causal) taps of a two-sided kernel sit at its end (lag -l at index n - l). Every index that wraps around
lands in x's zero padding, so nothing aliases.

``CircularConvolution`` does this with a hand-written backward: it saves only x (in its own dtype, usually a
tensor the layer keeps anyway) and the buffer, where plain autograd through rfft/irfft keeps the padded float32
input and its complex spectrum (4x the input in float32, 8x in bfloat16). The gradients are the adjoint
(correlation) formulas, exact up to rounding; ``circular_conv_reference`` is the plain-autograd formula they are
tested against. With ``time_major`` it takes and returns the layer's ``[L, B, D]`` and does the transposes itself,
forwards and backwards, with the blocked 2-D transpose kernel (``time_last`` / ``time_first``), so that neither
the layer's elementwise ops nor the gradient accumulation around the convolution see strided memory.
"""

import torch


def fft_size(n: int) -> int:
    """Smallest 5-smooth integer >= n (fast sizes for pocketfft/cuFFT)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def circular_conv_reference(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``y[..., t] = sum_s w[..., (t - s) mod n] x[..., s]`` for t < L (x zero-padded to n = w.size(-1))."""
    n = w.size(-1)
    spectrum = torch.fft.rfft(x.to(w.dtype), n=n) * torch.fft.rfft(w, n=n)
    return torch.fft.irfft(spectrum, n=n)[..., : x.size(-1)]


def time_last(x: torch.Tensor) -> torch.Tensor:
    """``[L, *batch]`` -> contiguous ``[*batch, L]``, through the blocked 2-D transpose of ``[L, prod(batch)]`` (a
    general permute-copy of these shapes reads memory with a stride of prod(batch) and is several times slower)."""
    return x.reshape(x.size(0), -1).t().contiguous().view(*x.shape[1:], x.size(0))


def time_first(y: torch.Tensor) -> torch.Tensor:
    """``[*batch, L]`` (e.g. a slice of a longer buffer) -> contiguous ``[L, *batch]``; inverse of ``time_last``."""
    return y.contiguous().view(-1, y.size(-1)).t().contiguous().view(y.size(-1), *y.shape[:-1])


class CircularConvolution(torch.autograd.Function):
    """``circular_conv_reference(x, w)`` (in w's dtype), saving only x and w for the backward.

    With G, X, W the spectra of the zero-padded output gradient, input and buffer:
    ``dx = irfft(G conj(W))[:L]`` (cast to x's dtype) and ``dw = irfft(G conj(X))`` summed over the dims that w
    was broadcast along. ``time_major``: x, the output and their gradients are laid out ``[L, *batch]`` and are
    transposed inside (the FFTs run along the last dim).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor, time_major: bool = False) -> torch.Tensor:
        ctx.save_for_backward(x, w)
        ctx.time_major = time_major
        if time_major:
            return time_first(circular_conv_reference(time_last(x), w))
        return circular_conv_reference(x, w)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, w = ctx.saved_tensors
        if ctx.time_major:
            grad = time_last(grad)
        n = w.size(-1)
        grad_spectrum = torch.fft.rfft(grad.to(w.dtype), n=n)
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.fft.irfft(grad_spectrum * torch.fft.rfft(w, n=n).conj(), n=n)[..., : grad.size(-1)]
            grad_x = (time_first(grad_x) if ctx.time_major else grad_x).to(x.dtype)
        if ctx.needs_input_grad[1]:
            x = time_last(x) if ctx.time_major else x
            cross = grad_spectrum * torch.fft.rfft(x.to(w.dtype), n=n).conj()
            cross = cross.sum_to_size(*w.shape[:-1], cross.size(-1))
            grad_w = torch.fft.irfft(cross, n=n)
        return grad_x, grad_w, None


def circular_conv(x: torch.Tensor, w: torch.Tensor, time_major: bool = False) -> torch.Tensor:
    """First L outputs of the size-``w.size(-1)`` circular convolution (see the module docstring) of x ``[*batch, L]``,
    or of x ``[L, *batch]`` with ``time_major`` (then so is the output)."""
    return CircularConvolution.apply(x, w, time_major)


def causal_buffer(k: torch.Tensor, n: int) -> torch.Tensor:
    """Kernel buffer ``[..., n]`` of the causal convolution with taps ``k [..., K]``."""
    return torch.nn.functional.pad(k, (0, n - k.size(-1)))


def two_sided_buffer(forward_k: torch.Tensor, backward_k: torch.Tensor, n: int) -> torch.Tensor:
    """Kernel buffer ``[..., n]`` of ``y_t = sum_l f_l x_{t-l} + sum_{l>0} b_l x_{t+l} + b_0 x_t`` (f, b ``[..., K]``)."""
    taps = forward_k.size(-1)
    gap = forward_k.new_zeros(*forward_k.shape[:-1], n - 2 * taps + 1)
    return torch.cat([forward_k[..., :1] + backward_k[..., :1], forward_k[..., 1:], gap,
                      backward_k[..., 1:].flip(-1)], dim=-1)


def fft_causal_conv(x: torch.Tensor, k: torch.Tensor, time_major: bool = False) -> torch.Tensor:
    """``y[..., t] = sum_{l < K} k[..., l] x[..., t - l]`` for x ``[..., L]``, k ``[..., K]`` (y in k's dtype); with
    ``time_major`` x and y are ``[L, ...]``."""
    n = fft_size(x.size(0 if time_major else -1) + k.size(-1) - 1)
    return circular_conv(x, causal_buffer(k, n), time_major)


def fft_two_sided_conv(
    x: torch.Tensor, forward_k: torch.Tensor, backward_k: torch.Tensor, time_major: bool = False
) -> torch.Tensor:
    """``y[..., t] = sum_{l < K} f[..., l] x[..., t - l] + sum_{0 < l < K} b[..., l] x[..., t + l] + b[..., 0] x[..., t]``
    for x ``[..., L]`` and the forward/backward kernels f, b ``[..., K]`` (K <= L; y in the kernels' dtype); with
    ``time_major`` x and y are ``[L, ...]``."""
    n = fft_size(x.size(0 if time_major else -1) + forward_k.size(-1) - 1)
    return circular_conv(x, two_sided_buffer(forward_k, backward_k, n), time_major)
