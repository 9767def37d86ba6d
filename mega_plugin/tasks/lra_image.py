"""``--task lra-image``: CIFAR-10, Pathfinder and Path-X as grey pixel sequences, original layout.

``DATA/input/{split}.src``: one image per line, space-separated grey values 0..255; ``DATA/label/{split}.label``:
one class per line (optional). Pixels become ``(v / 255 - mean) / std`` with ``--pixel-normalization MEAN STD``.
"""

import os

from fairseq.data import IdDataset, NestedDictionaryDataset, NumSamplesDataset
from fairseq.data.base_wrapper_dataset import BaseWrapperDataset
from fairseq.tasks import register_task

from mega_plugin.data.pixel_sequence_dataset import LabelDataset, PixelSequenceDataset
from mega_plugin.tasks.classification_base import ClassificationTask, add_classification_task_args, require


class _Lengths(BaseWrapperDataset):
    """Per-item sequence lengths collated to ``[B]`` (``src_lengths``)."""

    def __getitem__(self, index):
        return len(self.dataset[index])

    def collater(self, samples):
        import torch

        return torch.tensor(samples, dtype=torch.long)


class _TotalLength(_Lengths):
    def collater(self, samples):
        return sum(samples)


@register_task("lra-image")
class LRAImageTask(ClassificationTask):
    @staticmethod
    def add_args(parser):
        add_classification_task_args(parser)
        parser.add_argument("--pixel-normalization", type=float, nargs="+", default=None,
                            help="mean and std of the pixel normalisation (default 0.5 0.5)")

    def __init__(self, args):
        super().__init__(args)
        normalization = getattr(args, "pixel_normalization", None) or [0.5, 0.5]
        if len(normalization) != 2:
            raise ValueError(f"--pixel-normalization takes MEAN STD, got {normalization}")
        self.mean, self.std = normalization

    @classmethod
    def setup_task(cls, args, **kwargs):
        require(os.path.join(args.data, "input"), "lra-image input folder")
        return cls(args)

    def load_dataset(self, split, combine=False, **kwargs):
        path = require(os.path.join(self.args.data, "input", f"{split}.src"), f"lra-image split {split!r}")
        pixels = PixelSequenceDataset(path, self.mean, self.std, self.max_positions_value)
        items = {
            "id": IdDataset(),
            "net_input": {"src_tokens": pixels, "src_lengths": _Lengths(pixels)},
            "nsentences": NumSamplesDataset(),
            "ntokens": _TotalLength(pixels),
        }
        label_path = os.path.join(self.args.data, "label", f"{split}.label")
        if os.path.exists(label_path):
            items["target"] = LabelDataset(label_path)
        return self.register(split, NestedDictionaryDataset(items, sizes=[pixels.sizes]))
