"""``--task lra-text``: ListOps, IMDB (bytes) and AAN retrieval of Long Range Arena, in the original layout.

``DATA/src-bin/{dict.txt,<split>.bin/.idx}``: fairseq-binarized inputs (each line ends with ``</s>``, which counts
in the length); ``DATA/src1-bin/<split>.*`` (AAN only): the second document, same dictionary;
``DATA/label-bin/{dict.txt,<split>.*}``: one label per line. ``<CLS>`` is always appended to the dictionary (so the
embedding has 4 specials + the dict.txt entries + 1 rows) and, with the model flag ``--sen-rep-type cls``,
prepended to every input. Inputs are then cut to ``--max-positions`` tokens.

Batch: ``{'id', 'net_input': {'src_tokens' [B, T] right-padded with <pad>, 'src_lengths' [B]},
['net_input1': same for src1], 'nsentences', 'ntokens' (src only), 'target' [B, 1] = label index - 4}``.
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

CLS = "<CLS>"


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
        self.cls_idx = dictionary.index(CLS)
        self.prepend_cls = getattr(args, "sen_rep_type", "mp") == "cls"

    @classmethod
    def setup_task(cls, args, **kwargs):
        dictionary = Dictionary.load(require(os.path.join(args.data, "src-bin", "dict.txt"), "lra-text dictionary"))
        dictionary.add_symbol(CLS)
        if getattr(args, "regression_target", False):
            labels = dictionary
        else:
            labels = Dictionary.load(require(os.path.join(args.data, "label-bin", "dict.txt"), "lra-text labels"))
        return cls(args, dictionary, labels)

    def _load(self, folder, split, dictionary, combine):
        prefix = os.path.join(self.args.data, folder, split)
        return data_utils.load_indexed_dataset(prefix, dictionary, getattr(self.args, "dataset_impl", None),
                                               combine=combine)

    def _inputs(self, tokens):
        """-> (dataset of cut token sequences, its net_input definition)."""
        if self.prepend_cls:
            tokens = PrependTokenDataset(tokens, self.cls_idx)
        if self.max_positions_value is not None:
            tokens = TruncateDataset(tokens, self.max_positions_value)
        return tokens, {"src_tokens": RightPadDataset(tokens, pad_idx=self.dictionary.pad()),
                        "src_lengths": NumelDataset(tokens, reduce=False)}

    def load_dataset(self, split, combine=False, **kwargs):
        src = self._load("src-bin", split, self.dictionary, combine)
        if src is None:
            raise FileNotFoundError(f"lra-text split {split!r} not found: "
                                    f"{os.path.join(self.args.data, 'src-bin', split)}.bin/.idx")
        src, net_input = self._inputs(src)
        items = {"id": IdDataset(), "net_input": net_input, "nsentences": NumSamplesDataset(),
                 "ntokens": NumelDataset(src, reduce=True)}
        src1 = self._load("src1-bin", split, self.dictionary, combine)
        if src1 is not None:
            items["net_input1"] = self._inputs(src1)[1]
        labels = self._load("label-bin", split, self._label_dictionary, combine)
        if labels is not None:
            items["target"] = OffsetTokensDataset(StripTokenDataset(labels, self._label_dictionary.eos()),
                                                  offset=-self._label_dictionary.nspecial)
        dataset = self.shuffled(NestedDictionaryDataset(items, sizes=[src.sizes]))
        self.datasets[split] = dataset
        return dataset

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary

    @property
    def label_dictionary(self):
        return self._label_dictionary
