"""Sums of exponentials for the EMA: ``k[e, l] = sum_n w[e, n] * q[e, n] ** (start + l)``.

Forming the Vandermonde tensor ``[E, N, L]`` costs E*N*L exponentials and memory (1 GB for E=256, N=16, L=64K),
and autograd would keep it for the backward pass. ``vandermonde_kernel`` instead splits each lag as
``l = a * S + b`` with ``S ~ sqrt(L)``: ``q ** (start + l) = q ** (start + a S) * q ** b``, so

    k[e, a S + b] = sum_n (w q ** (start + a S))[e, n, a] * (q ** b)[e, n, b]

is one batched matrix product ``[E, A, N] @ [E, N, S]``. That needs E*N*(A + S) ~ 2 E*N*sqrt(L) exponentials,
keeps nothing of size E*N*L (memory O(E * L), backward included: autograd saves only the two small factors)
and runs on the matmul units. ``vandermonde_kernel_reference`` is the plain one-shot formula it is tested against.
``decayed_sum`` (the final state after a prefix) contracts with the powers in bounded-memory blocks of lags.
"""

import math

import torch

BLOCK_ELEMENTS = 1 << 22  # decayed_sum: at most this many powers alive at a time


def _block_size(rows: int, ndim: int) -> int:
    return max(1, BLOCK_ELEMENTS // max(1, rows * ndim))


def _powers(log_q: torch.Tensor, lags: torch.Tensor) -> torch.Tensor:
    """``q ** lag`` for every lag: ``[E, N, len(lags)]``."""
    return torch.exp(lags * log_q.unsqueeze(-1))


def vandermonde_kernel_reference(weights: torch.Tensor, log_q: torch.Tensor, start: int, length: int) -> torch.Tensor:
    lags = torch.arange(start, start + length, device=log_q.device, dtype=log_q.dtype)
    return torch.einsum("en,enl->el", weights, _powers(log_q, lags))


def vandermonde_kernel(weights: torch.Tensor, log_q: torch.Tensor, start: int, length: int) -> torch.Tensor:
    """``[E, length]`` with ``k[e, l] = sum_n weights[e, n] * exp((start + l) * log_q[e, n])``."""
    step = max(1, math.isqrt(length))
    steps = -(-length // step)
    inner = torch.arange(step, device=log_q.device, dtype=log_q.dtype)
    outer = torch.arange(steps, device=log_q.device, dtype=log_q.dtype) * step + start
    low = _powers(log_q, inner)  # [E, N, S]
    high = _powers(log_q, outer) * weights.unsqueeze(-1)  # [E, N, A]
    kernel = torch.bmm(high.transpose(1, 2), low)  # [E, A, S]
    return kernel.reshape(weights.size(0), steps * step)[:, :length]


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
