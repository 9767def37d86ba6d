"""What the original classification tasks (``lra-text``, ``lra-image``, ``speech_commands``) share.

They are legacy argparse tasks (``add_args``), so an original checkpoint's ``args`` Namespace passes through
fairseq 0.12 unchanged and the task sees the model flags too. The model flag ``--max-positions`` sets the length
inputs are cut to and ``task.max_positions()``; it is also stored as ``tokens_per_sample`` (as the original).
Without it (an architecture that sets no default and no flag given) inputs are not cut and the task imposes no
length limit.
"""

import os

import numpy as np
from fairseq.data import SortDataset, data_utils
from fairseq.tasks import LegacyFairseqTask


def add_classification_task_args(parser):
    """Flags of every original classification task; several are accepted but unused, as in the original."""
    parser.add_argument("data", metavar="FILE", help="data directory")
    parser.add_argument("--num-classes", type=int, default=-1, help="(unused)")
    parser.add_argument("--regression-target", action="store_true", default=False,
                        help="lra-text: use the token dictionary for the labels; otherwise unused")
    parser.add_argument("--no-shuffle", action="store_true", default=False,
                        help="keep the stored example order (lra-text, lra-image)")
    parser.add_argument("--shorten-method", default="none", choices=["none", "truncate", "random_crop"],
                        help="(unused)")
    parser.add_argument("--shorten-data-split-list", default="", help="(unused)")


def require(path: str, what: str) -> str:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


class ClassificationTask(LegacyFairseqTask):
    def __init__(self, args):
        super().__init__(args)
        self.max_positions_value = getattr(args, "max_positions", None)
        args.tokens_per_sample = self.max_positions_value

    def shuffled(self, dataset):
        """Order by a permutation drawn with ``--seed`` unless ``--no-shuffle`` (the original's ``SortDataset``)."""
        if self.args.no_shuffle:
            return dataset
        with data_utils.numpy_seed(self.args.seed):
            permutation = np.random.permutation(len(dataset))
        return SortDataset(dataset, sort_order=[permutation])

    def max_positions(self):
        return self.max_positions_value

    @property
    def source_dictionary(self):
        return None

    @property
    def target_dictionary(self):
        return None
