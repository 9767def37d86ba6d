"""Token and real-number embeddings of the Mega models (original parameter names and initialisation)."""

import torch
import torch.nn as nn


def token_embedding(num_embeddings: int, dim: int, padding_idx: int) -> nn.Embedding:
    """``nn.Embedding`` with ``N(0, dim^-1/2)`` weights and a zero padding row (NMT / LM)."""
    embedding = nn.Embedding(num_embeddings, dim, padding_idx=padding_idx)
    nn.init.normal_(embedding.weight, mean=0.0, std=dim**-0.5)
    nn.init.zeros_(embedding.weight[padding_idx])
    return embedding


class LRATokenEmbedding(nn.Module):
    """LRA text embedding: the weight lives at ``embed.weight`` (the original wraps ``nn.Embedding``)."""

    def __init__(self, num_embeddings: int, dim: int, padding_idx: int):
        super().__init__()
        self.embed = nn.Embedding(num_embeddings, dim, padding_idx=padding_idx)
        nn.init.normal_(self.embed.weight, mean=0.0, std=dim**-0.5)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.embed(tokens)


class RealNumberEmbedding(nn.Module):
    """Scalar inputs (pixels, audio samples) ``[B, L]`` -> ``x * weight + bias`` ``[B, L, D]``."""

    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(dim))
        self.bias = nn.Parameter(torch.empty(dim))
        nn.init.normal_(self.weight, mean=0.0, std=1.0)
        nn.init.normal_(self.bias, mean=0.0, std=0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(-1) * self.weight + self.bias
