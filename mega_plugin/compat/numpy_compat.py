"""Run fairseq 0.12's numpy-1-only code under numpy 2.

1. numpy 2 removed ``numpy.compat``; fairseq reads ``np.compat.long`` (numpy 1.x: ``int``) in ``TokenBlockDataset``
   with ``--sample-break-mode eos`` (also in every ``build_dataset_for_inference`` of ``language_modeling``: the
   hub's ``sample``/``score`` and ``fairseq-interactive``) and in ``LanguagePairDataset`` with
   ``--num-batch-buckets``. The alias is added only when numpy lacks ``compat``, and holds only ``long``.
2. numpy 2.4 removed ``np.percentile(..., interpolation=)`` (renamed ``method=`` in 1.22); fairseq's
   ``data_utils.get_buckets`` (``--num-batch-buckets``, bucketed padding) still passes it. Where numpy refuses the
   old keyword, ``get_buckets`` is replaced by the same computation with ``method="lower"``.
"""

import types

import numpy as np
from fairseq.data import bucket_pad_length_dataset, data_utils

if not hasattr(np, "compat"):
    np.compat = types.SimpleNamespace(long=int)


def get_buckets(sizes, num_buckets):
    """Distinct lower percentiles of ``sizes`` at num_buckets even steps (the 0th left out): bucket boundaries."""
    percentiles = np.percentile(sizes, np.linspace(0, 100, num_buckets + 1), method="lower")
    return np.unique(percentiles[1:])


def _percentile_takes_interpolation() -> bool:
    try:
        np.percentile([1, 2], 50, interpolation="lower")
    except TypeError:
        return False
    return True


if not _percentile_takes_interpolation():
    data_utils.get_buckets = get_buckets
    bucket_pad_length_dataset.get_buckets = get_buckets
