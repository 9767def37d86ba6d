"""Relative position biases added to Mega attention scores.

Both return ``bias[i, j]`` that depends only on ``j - i`` (i = query position, j = key position).

* ``SimpleRelativePositionalBias(max_positions)``: a learned vector ``rel_pos_bias [2M - 1]`` and
  ``bias[i, j] = w[(M - 1) + j - i]``. Sequences longer than ``M`` are an error.
* ``RotaryRelativePositionalBias(z_dim, max_positions)``: learned ``alpha, beta [1, Z]``;
  ``bias[i, j] = rot(alpha, i) . rot(beta, j)`` with half-split rotary rotation
  ``rot(x, m) = [x1 cos(m theta) - x2 sin(m theta), x2 cos(m theta) + x1 sin(m theta)]``,
  ``theta_k = 10000^(-k / (Z/2))``. Works for any length. ``_float_tensor [1]`` is a persistent buffer kept
  only so that original checkpoints load with strict key matching.

``forward(L)`` gives the ``[L, L]`` matrix; ``at(query_pos, key_pos)`` gives the bias for arbitrary integer
positions (broadcasting), which cross-attention and incremental decoding use.
"""

import math
from typing import Tuple

import torch
import torch.nn as nn

REL_POS_BIAS_TYPES = ("simple", "rotary")


class SimpleRelativePositionalBias(nn.Module):
    def __init__(self, max_positions: int):
        super().__init__()
        self.max_positions = max_positions
        self.rel_pos_bias = nn.Parameter(torch.empty(2 * max_positions - 1))
        nn.init.normal_(self.rel_pos_bias, mean=0.0, std=0.02)

    def at(self, query_pos: torch.Tensor, key_pos: torch.Tensor) -> torch.Tensor:
        """``query_pos [..., Lq]``, ``key_pos [..., Lk]`` -> ``[..., Lq, Lk]``."""
        offset = key_pos.unsqueeze(-2) - query_pos.unsqueeze(-1)
        limit = self.max_positions - 1
        checkable = offset.numel() and not torch.compiler.is_compiling()  # a data-dependent check breaks graphs
        if checkable and (offset.max() > limit or offset.min() < -limit):
            raise ValueError(
                f"relative distance {int(offset.abs().max())} exceeds the simple position bias table "
                f"(max_positions={self.max_positions}); use a longer table, chunking or rotary bias"
            )
        return self.rel_pos_bias[offset + limit]

    def forward(self, seq_len: int) -> torch.Tensor:
        if seq_len > self.max_positions:
            raise ValueError(
                f"sequence length {seq_len} exceeds the simple position bias table "
                f"(max_positions={self.max_positions}); use chunking or rotary bias"
            )
        pos = torch.arange(seq_len, device=self.rel_pos_bias.device)
        return self.at(pos, pos)


def sinusoid_angles(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """``positions [...]`` -> angles ``[..., dim/2]`` = ``pos * 10000^(-k/(dim/2))`` in float32."""
    half = dim // 2
    freq = torch.exp(torch.arange(half, dtype=torch.float32, device=positions.device) * -(math.log(10000.0) / half))
    return positions.to(torch.float32)[..., None] * freq


class RotaryRelativePositionalBias(nn.Module):
    def __init__(self, z_dim: int, max_positions: int):
        super().__init__()
        if z_dim % 2 != 0:
            raise ValueError(f"rotary position bias needs an even z_dim, got {z_dim}")
        self.z_dim = z_dim
        self.max_positions = max_positions
        self.alpha = nn.Parameter(torch.empty(1, z_dim))
        self.beta = nn.Parameter(torch.empty(1, z_dim))
        self.register_buffer("_float_tensor", torch.zeros(1))
        nn.init.normal_(self.alpha, mean=0.0, std=0.02)
        nn.init.normal_(self.beta, mean=0.0, std=0.02)

    def rotate(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Rotate each row of ``x [R, Z]`` to every position in ``positions [...]`` -> ``[..., R, Z]``."""
        angles = sinusoid_angles(positions, self.z_dim).unsqueeze(-2)  # [..., 1, Z/2]
        sin, cos = angles.sin().to(x.dtype), angles.cos().to(x.dtype)
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)

    def rotations(self, query_pos: torch.Tensor, key_pos: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``rot(alpha, query_pos) [..., Lq, Z]`` and ``rot(beta, key_pos) [..., Lk, Z]``. Positions passed as one
        tensor for both are rotated once, alpha and beta together (half the small ops, forward and backward)."""
        if query_pos is key_pos:
            both = self.rotate(torch.cat([self.alpha, self.beta]), query_pos)
            return both[..., 0, :], both[..., 1, :]
        return self.rotate(self.alpha, query_pos)[..., 0, :], self.rotate(self.beta, key_pos)[..., 0, :]

    def at(self, query_pos: torch.Tensor, key_pos: torch.Tensor) -> torch.Tensor:
        """``query_pos [..., Lq]``, ``key_pos [..., Lk]`` -> ``[..., Lq, Lk]``."""
        a, b = self.rotations(query_pos, key_pos)
        return a @ b.transpose(-1, -2)

    def forward(self, seq_len: int) -> torch.Tensor:
        pos = torch.arange(seq_len, device=self.alpha.device)
        return self.at(pos, pos)


def build_position_bias(kind: str, z_dim: int, max_positions: int) -> nn.Module:
    if kind == "simple":
        return SimpleRelativePositionalBias(max_positions)
    if kind == "rotary":
        return RotaryRelativePositionalBias(z_dim, max_positions)
    raise ValueError(f"unknown relative position bias {kind!r}; expected one of {', '.join(REL_POS_BIAS_TYPES)}")
