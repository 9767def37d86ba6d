"""Memory-lean sums of exponentials for the EMA: ``k[e, l] = sum_n w[e, n] * q[e, n] ** (start + l)``.

Forming the Vandermonde tensor ``[E, N, L]`` at once costs E*N*L memory (1 GB for E=256, N=16, L=64K) and
autograd would keep it for the backward pass. Here it is built in blocks of lags, and the backward pass rebuilds
the blocks instead of storing them, so memory stays O(E * L). ``vandermonde_kernel_reference`` is the plain
one-shot formula the blocked version is tested against.
"""

import torch

BLOCK_ELEMENTS = 1 << 22  # at most this many Vandermonde entries alive at a time


def _block_size(rows: int, ndim: int) -> int:
    return max(1, BLOCK_ELEMENTS // max(1, rows * ndim))


def _powers(log_q: torch.Tensor, lags: torch.Tensor) -> torch.Tensor:
    """``q ** lag`` for every lag: ``[E, N, len(lags)]``."""
    return torch.exp(lags * log_q.unsqueeze(-1))


def vandermonde_kernel_reference(weights: torch.Tensor, log_q: torch.Tensor, start: int, length: int) -> torch.Tensor:
    lags = torch.arange(start, start + length, device=log_q.device, dtype=log_q.dtype)
    return torch.einsum("en,enl->el", weights, _powers(log_q, lags))


class _BlockedVandermonde(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weights, log_q, start, length):
        ctx.save_for_backward(weights, log_q)
        ctx.start, ctx.length = start, length
        out = weights.new_empty(weights.size(0), length)
        step = _block_size(*weights.shape)
        for first in range(0, length, step):
            lags = torch.arange(start + first, start + min(first + step, length), device=log_q.device,
                                dtype=log_q.dtype)
            out[:, first : first + lags.numel()] = torch.einsum("en,enl->el", weights, _powers(log_q, lags))
        return out

    @staticmethod
    def backward(ctx, grad):
        weights, log_q = ctx.saved_tensors
        grad_weights = torch.zeros_like(weights)
        grad_log_q = torch.zeros_like(log_q)
        step = _block_size(*weights.shape)
        for first in range(0, ctx.length, step):
            lags = torch.arange(ctx.start + first, ctx.start + min(first + step, ctx.length), device=log_q.device,
                                dtype=log_q.dtype)
            powers = _powers(log_q, lags)
            block = grad[:, first : first + lags.numel()]
            grad_weights += torch.einsum("el,enl->en", block, powers)
            grad_log_q += torch.einsum("el,enl->en", block * lags, powers)
        return grad_weights, grad_log_q * weights, None, None


def vandermonde_kernel(weights: torch.Tensor, log_q: torch.Tensor, start: int, length: int) -> torch.Tensor:
    """``[E, length]`` with ``k[e, l] = sum_n weights[e, n] * exp((start + l) * log_q[e, n])``."""
    if weights.size(0) * weights.size(1) * length <= BLOCK_ELEMENTS:
        return vandermonde_kernel_reference(weights, log_q, start, length)
    return _BlockedVandermonde.apply(weights, log_q, start, length)


def decayed_sum(x: torch.Tensor, weights: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """Final EMA state after x ``[B, D, n]``: ``h[b, d, k] = sum_j weights[d, k] q[d, k]^(n-1-j) x[b, d, j]``."""
    n = x.size(-1)
    out = x.new_zeros(x.size(0), *weights.shape)
    step = _block_size(*weights.shape)
    for first in range(0, n, step):
        last = min(first + step, n)
        lags = torch.arange(n - 1 - first, n - 1 - last, -1, device=x.device, dtype=log_q.dtype)
        out = out + torch.einsum("bdl,dkl->bdk", x[..., first:last], _powers(log_q, lags))
    return out * weights
