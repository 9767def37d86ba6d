"""Training blocks of whole sentences whose sizes are random multiples of the model's chunk (original Mega LM).

Every block draws its own size ``m * chunk``, m uniform in ``[min_multiple, max_multiple]``, and takes sentences
while they fit (``complete``); a sentence longer than the block makes a block of its own and is never cut.
``complete_doc`` also closes a block at a document separator (a sentence of ``document_sep_len`` tokens, which is
dropped); ``complete_doc_with_boundary`` keeps that separator at the end of the block. Sizes are redrawn every
epoch from ``RandomState([42, seed, epoch])``.

Items are ``(source, target, past_target)`` like fairseq's ``TokenBlockDataset(include_targets=True)``:
target = the block's tokens ``[T]``, source = ``[eos] + target[:-1]``, past_target = ``[pad, eos] + target[:-2]``.
"""

import numpy as np
import torch
from fairseq.data import FairseqDataset, MonolingualDataset

BREAK_MODES = ("complete", "complete_doc", "complete_doc_with_boundary")


def plan_blocks(sizes, block_sizes, break_mode="complete", document_sep_len=1):
    """Group sentences into blocks. ``block_sizes`` yields the size limit of each new block.

    Returns a list of ``(first, end)`` sentence ranges (end exclusive) in order.
    """
    if break_mode not in BREAK_MODES:
        raise ValueError(f"variable blocks need --sample-break-mode in {BREAK_MODES}, got {break_mode!r}")
    respect_documents = break_mode != "complete"
    blocks, first, length, limit = [], 0, 0, next(block_sizes)
    for index, size in enumerate(int(s) for s in sizes):
        separator = respect_documents and size == document_sep_len
        if not separator and (length == 0 or length + size <= limit):
            length += size
            continue
        keep = length > 1 if respect_documents else length > 0
        if keep:
            blocks.append((first, index + 1 if separator and break_mode.endswith("boundary") else index))
        first, length, limit = index, 0, next(block_sizes)
        if separator:
            first = index + 1
        else:
            length = size
    if length > (1 if respect_documents else 0):
        blocks.append((first, len(sizes)))
    return blocks


class VariableBlockDataset(FairseqDataset):
    def __init__(self, dataset, sizes, chunk: int, min_multiple: int, max_multiple: int, eos: int, seed: int,
                 break_mode: str = "complete", pad: int = 1, document_sep_len: int = 1):
        if chunk <= 0:
            raise ValueError(f"variable training blocks need a chunked model (--decoder-chunk-size > 0), got {chunk}")
        if not 1 <= min_multiple <= max_multiple:
            raise ValueError(f"need 1 <= --variant-block-multiple-min <= --variant-block-multiple-max, "
                             f"got {min_multiple} and {max_multiple}")
        if break_mode not in BREAK_MODES:
            raise ValueError(f"variable blocks need --sample-break-mode in {BREAK_MODES}, got {break_mode!r}")
        if len(dataset) != len(sizes) or len(sizes) == 0:
            raise ValueError("variable blocks need a non-empty dataset with one size per sentence")
        self.dataset, self.input_sizes = dataset, np.asarray(sizes, dtype=np.int64)
        self.chunk, self.min_multiple, self.max_multiple = chunk, min_multiple, max_multiple
        self.eos, self.pad, self.seed = eos, pad, seed
        self.break_mode, self.document_sep_len = break_mode, document_sep_len
        self.epoch = None
        self.set_epoch(1)

    def _block_sizes(self, rng):
        while True:
            yield self.chunk * int(rng.randint(self.min_multiple, self.max_multiple + 1))

    def set_epoch(self, epoch):
        """Redraw the block sizes for ``epoch`` (deterministic in seed and epoch)."""
        if epoch == self.epoch or (self.epoch is not None and self.min_multiple == self.max_multiple):
            return  # fixed-size blocks do not change with the epoch
        self.epoch = epoch
        rng = np.random.RandomState([42, self.seed % 2**32, epoch])
        spans = plan_blocks(self.input_sizes, self._block_sizes(rng), self.break_mode, self.document_sep_len)
        self.spans = np.array(spans, dtype=np.int64).reshape(-1, 2)
        ends = np.concatenate([[0], np.cumsum(self.input_sizes)])
        self.sizes = ends[self.spans[:, 1]] - ends[self.spans[:, 0]]

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        return self.min_multiple == self.max_multiple  # otherwise the batches change with the epoch

    def __getitem__(self, index):
        first, end = self.spans[index]
        target = torch.cat([self.dataset[i] for i in range(first, end)])
        source = torch.cat([target.new_tensor([self.eos]), target[:-1]])
        past_target = torch.cat([target.new_tensor([self.pad, self.eos]), target[:-2]])[: len(target)]
        return source, target, past_target

    def __len__(self):
        return len(self.spans)

    def num_tokens(self, index):
        return int(self.sizes[index])

    def size(self, index):
        return int(self.sizes[index])


class EpochBlocksMonolingualDataset(MonolingualDataset):
    """``MonolingualDataset`` whose sizes follow its block dataset (they change with the epoch)."""

    @property
    def sizes(self):
        return self.dataset.sizes

    @sizes.setter
    def sizes(self, value):
        pass  # MonolingualDataset stores a copy at construction; the blocks' current sizes are read instead

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        return self.dataset.can_reuse_epoch_itr_across_epochs

    def set_epoch(self, epoch):
        super().set_epoch(epoch)
        self.dataset.set_epoch(epoch)
