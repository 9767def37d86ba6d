"""Correct ``fairseq.data.data_utils.batch_by_size`` for fairseq-fixed (every index batched exactly once).

Root cause 1 (sentences lost): fairseq-fixed (the 0.12 line patched for Python 3.11) appended, after the Cython
batching, ``if bsz_mult > 1 and len(b[-1]) % bsz_mult != 0: b = b[:-1]``. That drops the final batch whenever its
size is not a multiple of ``--required-batch-size-multiple`` (default 8): training silently loses the tail of
every epoch, and ``fairseq-generate`` loses sentences (5 sentences at ``--batch-size 5`` form one batch of 5, which
is dropped, so nothing is translated and the throughput report divides by zero). On an empty index list the same
line raises ``IndexError``. The compiled kernels ``batch_by_size_vec``/``batch_by_size_fn`` are not at fault:
Cython 3 / numpy 2 did not change their results (they match an independent Python implementation, see the tests),
so the fix calls them directly, as upstream fairseq 0.12.2 does.

Root cause 2 (fixed shapes, ``--num-batch-buckets``): the compiled ``batch_fixed_shapes_fast`` forgets the length
of the sample that opens a new batch, so a batch can be longer than every allowed shape. Those batches are formed
here in Python instead: a batch grows while some ``(max_sentences, max_length)`` shape still holds it.

The patch is applied only when the installed function is detectably broken (probed at import).
"""

import numpy as np
from fairseq.data import data_utils

_installed_batch_by_size = data_utils.batch_by_size


def batch_by_size(
    indices,
    num_tokens_fn,
    num_tokens_vec=None,
    max_tokens=None,
    max_sentences=None,
    required_batch_size_multiple=1,
    fixed_shapes=None,
):
    """Same arguments and result as fairseq's ``batch_by_size``, without losing or misplacing any index.

    indices: (N,) dataset indices in batching order. Returns a list of index arrays (lists for ``fixed_shapes``).
    """
    if not isinstance(indices, np.ndarray):
        indices = np.fromiter(indices, dtype=np.int64, count=-1)
    if fixed_shapes is not None:
        return batches_for_fixed_shapes(indices, num_tokens_fn, fixed_shapes)
    from fairseq.data.data_utils_fast import batch_by_size_fn, batch_by_size_vec

    max_tokens = int(max_tokens) if max_tokens is not None else -1
    max_sentences = max_sentences if max_sentences is not None else -1
    if num_tokens_vec is None:
        return batch_by_size_fn(indices, num_tokens_fn, max_tokens, max_sentences, required_batch_size_multiple)
    if not isinstance(num_tokens_vec, np.ndarray):
        num_tokens_vec = np.fromiter(num_tokens_vec, dtype=np.int64, count=-1)
    return batch_by_size_vec(indices, num_tokens_vec, max_tokens, max_sentences, required_batch_size_multiple)


def batches_for_fixed_shapes(indices, num_tokens_fn, fixed_shapes) -> list:
    """Greedy batches, each fitting at least one ``(max_sentences, max_length)`` row of ``fixed_shapes`` (S, 2).

    A sample longer than every shape gets a batch of its own (fairseq filters such samples beforehand).
    """
    shapes = np.asarray(fixed_shapes, dtype=np.int64).reshape(-1, 2)
    batches, batch, longest = [], [], 0
    for index in indices.tolist():
        length = int(num_tokens_fn(index))
        grown = max(longest, length)
        fits = np.any((shapes[:, 0] >= len(batch) + 1) & (shapes[:, 1] >= grown))
        if batch and not fits:
            batches.append(batch)
            batch, grown = [], length
        batch.append(index)
        longest = grown
    if batch:
        batches.append(batch)
    return batches


def _loses_last_batch() -> bool:
    """5 sentences, batch size 5, required multiple 8: a correct implementation returns them all."""
    batches = _installed_batch_by_size(
        np.arange(5), lambda i: 10, max_tokens=None, max_sentences=5, required_batch_size_multiple=8
    )
    return sum(len(b) for b in batches) != 5


def _exceeds_fixed_shapes() -> bool:
    """Lengths 5, 9, 9, 1, 1 with shapes (1 x 10, 4 x 5): the third sample (9 tokens) cannot share a batch."""
    lengths = [5, 9, 9, 1, 1]
    batches = _installed_batch_by_size(np.arange(5), lambda i: lengths[i], fixed_shapes=[[1, 10], [4, 5]])
    return any(len(b) > 1 and max(lengths[i] for i in b) > 5 for b in batches)


def installed_is_broken() -> bool:
    """True if the installed ``batch_by_size`` drops the last batch or builds batches larger than the fixed shapes."""
    return _loses_last_batch() or _exceeds_fixed_shapes()


if installed_is_broken():
    data_utils.batch_by_size = batch_by_size
