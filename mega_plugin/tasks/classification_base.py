"""Shared behaviour of the LRA and speech-commands tasks: flags, length limit, shuffling, no target dictionary."""

import os

import numpy as np
from fairseq.data import SortDataset, data_utils
from fairseq.tasks import LegacyFairseqTask


def add_classification_task_args(parser):
    """Flags of the original classification tasks (several are accepted but unused, as in the original)."""
    parser.add_argument("data", metavar="FILE", help="data directory")
    parser.add_argument("--num-classes", type=int, default=-1, help="(unused)")
    parser.add_argument("--regression-target", action="store_true", default=False, help="(unused)")
    parser.add_argument("--no-shuffle", action="store_true", default=False, help="keep the data order")
    parser.add_argument("--shorten-method", default="none", choices=["none", "truncate", "random_crop"],
                        help="(unused)")
    parser.add_argument("--shorten-data-split-list", default="", help="(unused)")


def require(path: str, what: str) -> str:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


class ClassificationTask(LegacyFairseqTask):
    """Inputs are cut to the model's ``--max-positions`` (also used as ``tokens_per_sample``)."""

    def __init__(self, args):
        super().__init__(args)
        self.max_positions_value = getattr(args, "max_positions", None)
        args.tokens_per_sample = self.max_positions_value

    def register(self, split, dataset):
        """Shuffle once with ``--seed`` (unless ``--no-shuffle``) and keep the dataset for ``split``."""
        if not self.args.no_shuffle:
            with data_utils.numpy_seed(self.args.seed):
                dataset = SortDataset(dataset, sort_order=[np.random.permutation(len(dataset))])
        self.datasets[split] = dataset
        return dataset

    def max_positions(self):
        return self.max_positions_value

    @property
    def source_dictionary(self):
        return None

    @property
    def target_dictionary(self):
        return None
