"""Images as pixel sequences for ``lra-image``: one image per line of space-separated grey values 0..255.

Item i -> float32 ``[L]`` with ``(value / 255 - mean) / std``, truncated to ``max_positions``.
"""

import numpy as np
import torch
from fairseq.data import FairseqDataset


class PixelSequenceDataset(FairseqDataset):
    def __init__(self, path, mean: float, std: float, max_positions=None):
        with open(path, encoding="utf-8") as handle:
            rows = [np.array(line.split(), dtype=np.int64) for line in handle if line.strip()]
        if max_positions is not None:
            rows = [row[:max_positions] for row in rows]
        self.pixels = [torch.from_numpy(((row / 255.0 - mean) / std).astype(np.float32)) for row in rows]
        self.sizes = np.array([len(row) for row in rows], dtype=np.int64)

    def __getitem__(self, index):
        return self.pixels[index]

    def __len__(self):
        return len(self.pixels)

    def num_tokens(self, index):
        return int(self.sizes[index])

    def size(self, index):
        return int(self.sizes[index])

    def collater(self, samples):
        if len({len(s) for s in samples}) > 1:
            raise ValueError("lra-image batches need images of equal length (pixel counts differ)")
        return torch.stack(samples)


class LabelDataset(FairseqDataset):
    """One integer class per line -> ``torch.long`` scalar items, collated to ``[B]``."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as handle:
            self.labels = torch.tensor([int(line) for line in handle if line.strip()], dtype=torch.long)

    def __getitem__(self, index):
        return self.labels[index]

    def __len__(self):
        return len(self.labels)

    def collater(self, samples):
        return torch.stack(samples)
