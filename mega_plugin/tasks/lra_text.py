"""``--task lra-text``: ListOps, IMDB (byte level) and AAN retrieval of Long Range Arena, original layout.

``DATA/src-bin`` (and ``DATA/src1-bin`` for two-document retrieval) hold fairseq-binarized token sequences,
``DATA/label-bin`` the class labels. ``<CLS>`` is always appended to the dictionary (the original does, so the
embedding has one extra row) and prepended to every sequence with ``--sen-rep-type cls``. Sequences are cut to
``--max-positions`` tokens.
"""

import os

from fairseq.data import (
    Dictionary,
    IdDataset,
    NestedDictionaryDataset,
    NumelDataset,
    NumSamplesDataset,
    OffsetTokensDataset,
    PrependTokenDataset,
    RightPadDataset,
    StripTokenDataset,
    TruncateDataset,
    data_utils,
)
from fairseq.tasks import register_task

from mega_plugin.tasks.classification_base import ClassificationTask, add_classification_task_args, require


@register_task("lra-text")
class LRATextTask(ClassificationTask):
    @staticmethod
    def add_args(parser):
        add_classification_task_args(parser)
        parser.add_argument("--init-token", type=int, default=None, help="(unused)")
        parser.add_argument("--separator-token", type=int, default=None, help="(unused)")

    def __init__(self, args, dictionary, label_dictionary):
        super().__init__(args)
        self.dictionary = dictionary
        self._label_dictionary = label_dictionary
        self.prepend_cls = getattr(args, "sen_rep_type", "mp") == "cls"

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
        return self.register(split, NestedDictionaryDataset(items, sizes=[src.sizes]))

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary

    @property
    def label_dictionary(self):
        return self._label_dictionary
