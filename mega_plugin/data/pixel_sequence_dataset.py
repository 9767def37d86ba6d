"""Grey images as pixel sequences (``lra-image``): one image per line of space-separated integers 0..255.

Item i -> float32 ``[L]`` = ``(value / 255 - mean) / std`` (same float32 operations as the original), cut to the
first ``max_positions`` pixels. Batches stack to ``[B, L]``: every image of a batch must have the same length.
Pixels are kept as uint8 in memory and normalised when an item is read.
"""

import numpy as np
import torch
from fairseq.data import FairseqDataset


def read_pixel_rows(path, max_positions=None):
    """Lines of ``path`` -> list of uint8 arrays (one per line, truncated to ``max_positions``)."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            values = np.array(line.split(), dtype=np.int64)
            if values.size and (values.min() < 0 or values.max() > 255):
                raise ValueError(f"{path}, line {number}: pixel values must lie in 0..255")
            rows.append(values[:max_positions].astype(np.uint8))
    return rows


class PixelSequenceDataset(FairseqDataset):
    def __init__(self, path, mean: float, std: float, max_positions=None):
        if std == 0:
            raise ValueError("--pixel-normalization: the standard deviation must not be 0")
        self.mean, self.std = float(mean), float(std)
        self.rows = read_pixel_rows(path, max_positions)
        self.sizes = np.array([len(row) for row in self.rows], dtype=np.int64)

    def __getitem__(self, index):
        pixels = torch.from_numpy(self.rows[index]).to(torch.float32)
        return pixels.div(255.0).sub(self.mean).div(self.std)

    def __len__(self):
        return len(self.rows)

    def num_tokens(self, index):
        return int(self.sizes[index])

    def size(self, index):
        return int(self.sizes[index])

    def collater(self, samples):
        """``[L]`` items -> ``[B, L]``."""
        if len({len(sample) for sample in samples}) > 1:
            lengths = sorted({len(sample) for sample in samples})
            raise ValueError(f"lra-image batches need images of one length, got pixel counts {lengths}")
        return torch.stack(samples)
