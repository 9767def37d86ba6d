"""Keep the last mini-batch in ``fairseq.data.data_utils.batch_by_size``.

Root cause: fairseq-fixed (the 0.12 line patched for Python 3.11) added, after the Cython batching,
``if bsz_mult > 1 and len(b[-1]) % bsz_mult != 0: b = b[:-1]``, which drops the final batch whenever its size
is not a multiple of ``--required-batch-size-multiple`` (default 8). Training silently loses the tail of every
epoch, and ``fairseq-generate`` loses sentences: 5 sentences at ``--batch-size 5`` form one batch of 5, which is
dropped, so nothing is translated and the BLEU/throughput report divides by zero. The Cython kernels themselves are
correct (upstream fairseq 0.12.2 returns their result unchanged), so the fix calls them directly.

The patch is applied only when the installed function is detectably broken (probed at import).
"""

import numpy as np
from fairseq.data import data_utils

_original_batch_by_size = data_utils.batch_by_size


def batch_by_size(
    indices,
    num_tokens_fn,
    num_tokens_vec=None,
    max_tokens=None,
    max_sentences=None,
    required_batch_size_multiple=1,
    fixed_shapes=None,
):
    """fairseq's ``batch_by_size`` without dropping the last batch (same arguments and result type)."""
    if fixed_shapes is not None:
        return _original_batch_by_size(
            indices, num_tokens_fn, num_tokens_vec, max_tokens, max_sentences, required_batch_size_multiple,
            fixed_shapes,
        )
    from fairseq.data.data_utils_fast import batch_by_size_fn, batch_by_size_vec

    max_tokens = int(max_tokens) if max_tokens is not None else -1
    max_sentences = max_sentences if max_sentences is not None else -1
    if not isinstance(indices, np.ndarray):
        indices = np.fromiter(indices, dtype=np.int64, count=-1)
    if num_tokens_vec is None:
        return batch_by_size_fn(indices, num_tokens_fn, max_tokens, max_sentences, required_batch_size_multiple)
    if not isinstance(num_tokens_vec, np.ndarray):
        num_tokens_vec = np.fromiter(num_tokens_vec, dtype=np.int64, count=-1)
    return batch_by_size_vec(indices, num_tokens_vec, max_tokens, max_sentences, required_batch_size_multiple)


def drops_last_batch() -> bool:
    """True if the installed ``batch_by_size`` loses sentences (5 items, batch size 5, multiple 8)."""
    batches = _original_batch_by_size(
        np.arange(5), lambda i: 10, max_tokens=None, max_sentences=5, required_batch_size_multiple=8
    )
    return sum(len(b) for b in batches) != 5


if drops_last_batch():
    data_utils.batch_by_size = batch_by_size
