"""``--task lra-text``: ListOps, IMDB (byte level) and AAN retrieval of Long Range Arena, original layout.

``DATA/src-bin`` (and ``DATA/src1-bin`` for two-document retrieval) hold fairseq-binarized token sequences,
``DATA/label-bin`` the class labels. ``<CLS>`` is always appended to the dictionary (the original does, so the
embedding has one extra row) and prepended to every sequence with ``--sen-rep-type cls``. Sequences are cut to
``--max-positions`` tokens.
"""

import os

import numpy as np
from fairseq.data import (
    Dictionary,
    IdDataset,
    NestedDictionaryDataset,
    NumelDataset,
    NumSamplesDataset,
    OffsetTokensDataset,
    PrependTokenDataset,
    RightPadDataset,
    SortDataset,
    StripTokenDataset,
    TruncateDataset,
    data_utils,
)
from fairseq.tasks import LegacyFairseqTask, register_task


def add_lra_task_args(parser):
    """Flags shared by the LRA / speech-commands tasks (several are accepted but unused, as in the original)."""
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


@register_task("lra-text")
class LRATextTask(LegacyFairseqTask):
    @staticmethod
    def add_args(parser):
        add_lra_task_args(parser)
        parser.add_argument("--init-token", type=int, default=None, help="(unused)")
        parser.add_argument("--separator-token", type=int, default=None, help="(unused)")

    def __init__(self, args, dictionary, label_dictionary):
        super().__init__(args)
        self.dictionary = dictionary
        self._label_dictionary = label_dictionary
        self.max_positions_value = getattr(args, "max_positions", None)
        self.prepend_cls = getattr(args, "sen_rep_type", "mp") == "cls"
        args.tokens_per_sample = self.max_positions_value

    @classmethod
    def setup_task(cls, args, **kwargs):
        dictionary = Dictionary.load(require(os.path.join(args.data, "src-bin", "dict.txt"), "source dictionary"))
        dictionary.add_symbol("<CLS>")
        labels = Dictionary.load(require(os.path.join(args.data, "label-bin", "dict.txt"), "label dictionary"))
        return cls(args, dictionary, labels)

    def _tokens(self, folder, split):
        prefix = os.path.join(self.args.data, folder, split)
        dataset = data_utils.load_indexed_dataset(prefix, self.dictionary, getattr(self.args, "dataset_impl", None))
        if dataset is None:
            raise FileNotFoundError(f"lra-text split {split!r} not found: {prefix}.bin/.idx")
        if self.prepend_cls:
            dataset = PrependTokenDataset(dataset, self.dictionary.index("<CLS>"))
        if self.max_positions_value is not None:
            dataset = TruncateDataset(dataset, self.max_positions_value)
        return dataset

    def load_dataset(self, split, combine=False, **kwargs):
        src = self._tokens("src-bin", split)
        items = {
            "id": IdDataset(),
            "net_input": {"src_tokens": RightPadDataset(src, pad_idx=self.dictionary.pad()),
                          "src_lengths": NumelDataset(src, reduce=False)},
            "nsentences": NumSamplesDataset(),
            "ntokens": NumelDataset(src, reduce=True),
        }
        if os.path.exists(os.path.join(self.args.data, "src1-bin")):
            src1 = self._tokens("src1-bin", split)
            items["net_input1"] = {"src_tokens": RightPadDataset(src1, pad_idx=self.dictionary.pad()),
                                   "src_lengths": NumelDataset(src1, reduce=False)}
        label = data_utils.load_indexed_dataset(os.path.join(self.args.data, "label-bin", split),
                                                self._label_dictionary, getattr(self.args, "dataset_impl", None))
        if label is not None:
            items["target"] = OffsetTokensDataset(StripTokenDataset(label, self._label_dictionary.eos()),
                                                  offset=-self._label_dictionary.nspecial)
        dataset = NestedDictionaryDataset(items, sizes=[src.sizes])
        if not self.args.no_shuffle:
            with data_utils.numpy_seed(self.args.seed):
                dataset = SortDataset(dataset, sort_order=[np.random.permutation(len(dataset))])
        self.datasets[split] = dataset
        return dataset

    def max_positions(self):
        return self.max_positions_value

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary

    @property
    def label_dictionary(self):
        return self._label_dictionary
