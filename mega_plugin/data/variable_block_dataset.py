"""Blocks of whole sentences with sizes drawn from multiples of the model's chunk (original Mega LM training).

Each block gets a target size ``m * chunk`` with m uniform in ``[min_multiple, max_multiple]`` (seeded); sentences
are added while they fit (a longer sentence is cut). Items are ``(source, target, None)`` like fairseq's
``TokenBlockDataset(include_targets=True)``: source = target shifted right by one, starting with ``</s>``.
"""

import numpy as np
import torch
from fairseq.data import FairseqDataset


class VariableBlockDataset(FairseqDataset):
    def __init__(self, dataset, sizes, chunk: int, min_multiple: int, max_multiple: int, eos: int, seed: int):
        if chunk <= 0 or not 1 <= min_multiple <= max_multiple:
            raise ValueError(f"variable blocks need chunk > 0 and 1 <= min <= max multiples, "
                             f"got chunk={chunk}, min={min_multiple}, max={max_multiple}")
        self.dataset, self.eos = dataset, eos
        rng = np.random.RandomState(seed)
        self.spans, current, budget = [], [], None  # spans: (first sentence, last sentence + 1, length)
        first, length = 0, 0
        for index, size in enumerate(sizes):
            if budget is None:
                budget = chunk * rng.randint(min_multiple, max_multiple + 1)
            if length and length + size > budget:
                self.spans.append((first, index, min(length, budget)))
                first, length, budget = index, 0, chunk * rng.randint(min_multiple, max_multiple + 1)
            length += int(size)
        if length:
            self.spans.append((first, len(sizes), min(length, budget)))
        self.sizes = np.array([span[2] for span in self.spans], dtype=np.int64)

    def __getitem__(self, index):
        first, last, length = self.spans[index]
        target = torch.cat([self.dataset[i] for i in range(first, last)])[:length]
        source = torch.cat([target.new_tensor([self.eos]), target[:-1]])
        return source, target, None

    def __len__(self):
        return len(self.spans)

    def num_tokens(self, index):
        return int(self.sizes[index])

    def size(self, index):
        return int(self.sizes[index])
