"""``--task lra-image``: CIFAR-10, Pathfinder and Path-X as grey pixel sequences, in the original layout.

``DATA/input/<split>.src``: one image per line, space-separated grey values 0..255 (row-major);
``DATA/label/<split>.label``: one integer class per line (optional: no ``target`` without it). Pixels become
``(v / 255 - mean) / std`` with ``--pixel-normalization MEAN STD`` (default 0.5 0.5), cut to ``--max-positions``.

Batch: ``{'id', 'net_input': {'src_tokens' float [B, L], 'src_lengths' [B]}, 'nsentences', 'ntokens',
'target' [B]}``.
"""

import os

from fairseq.data import IdDataset, NestedDictionaryDataset, NumelDataset, NumSamplesDataset, RawLabelDataset
from fairseq.tasks import register_task

from mega_plugin.data.pixel_sequence_dataset import PixelSequenceDataset
from mega_plugin.tasks.classification_base import ClassificationTask, add_classification_task_args, require


def read_labels(path):
    with open(path, encoding="utf-8") as handle:
        return [int(line) for line in handle if line.strip()]


@register_task("lra-image")
class LRAImageTask(ClassificationTask):
    @staticmethod
    def add_args(parser):
        add_classification_task_args(parser)
        parser.add_argument("--pixel-normalization", type=float, nargs="+", default=None,
                            help="mean and std of the pixel normalisation (default: 0.5 0.5)")

    def __init__(self, args):
        super().__init__(args)
        normalization = getattr(args, "pixel_normalization", None)
        normalization = (0.5, 0.5) if normalization is None else tuple(normalization)
        if len(normalization) != 2:
            raise ValueError(f"--pixel-normalization takes two values, MEAN STD; got {list(normalization)}")
        self.normalization = normalization

    @classmethod
    def setup_task(cls, args, **kwargs):
        return cls(args)

    def load_dataset(self, split, combine=False, **kwargs):
        path = require(os.path.join(self.args.data, "input", f"{split}.src"), f"lra-image split {split!r}")
        pixels = PixelSequenceDataset(path, *self.normalization, max_positions=self.max_positions_value)
        items = {
            "id": IdDataset(),
            "net_input": {"src_tokens": pixels, "src_lengths": NumelDataset(pixels, reduce=False)},
            "nsentences": NumSamplesDataset(),
            "ntokens": NumelDataset(pixels, reduce=True),
        }
        label_path = os.path.join(self.args.data, "label", f"{split}.label")
        if os.path.exists(label_path):
            labels = read_labels(label_path)
            if len(labels) != len(pixels):
                raise ValueError(f"{label_path} has {len(labels)} labels for {len(pixels)} images")
            items["target"] = RawLabelDataset(labels)
        dataset = self.shuffled(NestedDictionaryDataset(items, sizes=[pixels.sizes]))
        self.datasets[split] = dataset
        return dataset
