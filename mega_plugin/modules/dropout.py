"""Dropout modules with the original Mega call signature ``forward(x, batch_first=False)``.

fairseq 0.12's ``FairseqDropout`` has no ``batch_first`` argument and there is no ``FairseqFeatureDropout``.
Both are training-only and parameter-free, so they never affect checkpoint loading or evaluation.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class Dropout(nn.Module):
    """Element-wise dropout; ``batch_first`` is accepted for interface compatibility."""

    def __init__(self, p: float):
        super().__init__()
        self.p = float(p)

    @property
    def active(self) -> bool:
        """Whether forward draws a random mask (training with p > 0)."""
        return self.training and self.p > 0

    def forward(self, x: torch.Tensor, batch_first: bool = False) -> torch.Tensor:
        if self.active:
            return F.dropout(x, p=self.p, training=True)
        return x

    def extra_repr(self) -> str:
        return f"p={self.p}"


class FeatureDropout(Dropout):
    """Drops whole feature channels (the last dim) of each example, shared across time.

    ``batch_first=False``: x is ``[L, B, D]``; ``batch_first=True``: x is ``[B, ..., D]``.
    (The original's ``dropout2d`` on the 4-D value tensor dropped whole chunks instead; that quirk is
    training-only and is not reproduced.)
    """

    def forward(self, x: torch.Tensor, batch_first: bool = False) -> torch.Tensor:
        if not self.active:
            return x
        if batch_first:
            shape = (x.size(0),) + (1,) * (x.dim() - 2) + (x.size(-1),)
        else:
            shape = (1,) * (x.dim() - 2) + (x.size(-2), x.size(-1))
        keep = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)


def build_dropout(p: float, feature: bool = False) -> Dropout:
    return FeatureDropout(p) if feature else Dropout(p)
