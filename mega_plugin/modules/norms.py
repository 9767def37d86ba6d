"""Sequence normalisations over the feature dim of time-major ``[L, B, D]`` tensors.

``SequenceNorm`` holds one child ``norm``, so state-dict keys read ``<prefix>.norm.<param>`` as in the original.
Every norm uses eps = 1e-5. BatchNorm statistics run over batch and time (pads included, as in the original; the
original only uses batch norm where there is no padding).
"""

import torch
import torch.nn as nn

NORM_TYPES = ("layernorm", "scalenorm", "rmsnorm", "batchnorm", "syncbatchnorm")


class ScaleNorm(nn.Module):
    """``scalar * x / sqrt(mean(x^2) + eps)`` with one learned scalar (key ``scalar`` [1])."""

    def __init__(self, eps: float = 1e-5, affine: bool = True):
        super().__init__()
        self.eps = eps
        self.scalar = nn.Parameter(torch.ones(1)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return y if self.scalar is None else self.scalar * y


class RMSNorm(nn.Module):
    """``weight * x / sqrt(mean(x^2) + eps)`` (key ``weight`` [D]; no mean subtraction, no bias)."""

    def __init__(self, dim: int, eps: float = 1e-5, affine: bool = True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return y if self.weight is None else self.weight * y


class SequenceNorm(nn.Module):
    """Normalisation chosen by name; input and output ``[L, B, D]``."""

    def __init__(self, norm_type: str, dim: int, eps: float = 1e-5, affine: bool = True):
        super().__init__()
        if norm_type == "layernorm":
            self.norm = nn.LayerNorm(dim, eps=eps, elementwise_affine=affine)
        elif norm_type == "scalenorm":
            self.norm = ScaleNorm(eps=eps, affine=affine)
        elif norm_type == "rmsnorm":
            self.norm = RMSNorm(dim, eps=eps, affine=affine)
        elif norm_type == "batchnorm":
            self.norm = nn.BatchNorm1d(dim, eps=eps, affine=affine)
        elif norm_type == "syncbatchnorm":
            self.norm = nn.SyncBatchNorm(dim, eps=eps, affine=affine)
        else:
            raise ValueError(f"unknown norm type {norm_type!r}; expected one of {', '.join(NORM_TYPES)}")
        self.norm_type = norm_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.norm, nn.modules.batchnorm._BatchNorm):
            # [L, B, D] -> [B, D, L] -> norm -> [L, B, D]
            return self.norm(x.permute(1, 2, 0)).permute(2, 0, 1)
        return self.norm(x)
