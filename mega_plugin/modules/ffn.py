"""Normalized feed-forward network of a Mega block (original name ``NormalizedFeedForwardNetwork``).

``out = x + dropout(fc2(hidden_dropout(act(fc1(norm(x))))))`` with pre-norm, or ``norm(x + ...)`` (without the
inner norm) with post-norm. x ``[L, B, D]``; fc1 ``D -> F``, fc2 ``F -> D``.
"""

import torch
import torch.nn as nn

from mega_plugin.modules.activations import get_activation_fn
from mega_plugin.modules.dropout import build_dropout
from mega_plugin.modules.norms import SequenceNorm
from mega_plugin.modules.recompute import linear_of


class NormalizedFeedForwardNetwork(nn.Module):
    def __init__(
        self,
        embed_dim: int,
        ffn_hidden_dim: int,
        dropout: float = 0.0,
        hidden_dropout: float = 0.0,
        activation: str = "silu",
        norm_type: str = "layernorm",
        prenorm: bool = True,
        norm_affine: bool = True,
        feature_dropout: bool = False,
    ):
        super().__init__()
        self.activation = get_activation_fn(activation)
        self.prenorm = prenorm
        self.dropout = build_dropout(dropout, feature_dropout)
        self.hidden_dropout = build_dropout(hidden_dropout, feature_dropout)
        self.norm = SequenceNorm(norm_type, embed_dim, affine=norm_affine)
        self.fc1 = nn.Linear(embed_dim, ffn_hidden_dim)
        self.fc2 = nn.Linear(ffn_hidden_dim, embed_dim)
        for linear in (self.fc1, self.fc2):
            nn.init.normal_(linear.weight, mean=0.0, std=0.02)
            nn.init.zeros_(linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x
        if self.prenorm:
            x = self.norm(x)
        if self.hidden_dropout.active:  # a recomputed activation would need the same dropout mask
            x = self.fc2(self.hidden_dropout(self.activation(self.fc1(x))))
        else:  # keeps fc1's output only, not also the activation's
            x = linear_of(self.activation, (self.fc1(x),), self.fc2)
        x = self.dropout(x) + residual
        return x if self.prenorm else self.norm(x)
