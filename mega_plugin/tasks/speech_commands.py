"""``--task speech_commands``: 10-class Speech Commands on raw 16 kHz waveforms (original layout).

Reads preprocessed tensors ``DATA/processed_data/<variant>/{train,val,test}_{X,y}.pt`` with X float
``[N, 1, 16000]`` (already normalised) and y long ``[N]``; ``<variant>`` is ``raw`` (``mfcc`` with --mfcc),
plus ``_dropped<rate>`` with --sc-dropped-rate and ``_all_classes`` with --sc-all-classes. Nothing is downloaded.
"""

import os

import numpy as np
import torch
from fairseq.data import FairseqDataset
from fairseq.tasks import register_task

from mega_plugin.tasks.classification_base import ClassificationTask, add_classification_task_args

SPLIT_NAMES = {"train": "train", "valid": "val", "test": "test"}


class SpeechCommandsDataset(FairseqDataset):
    def __init__(self, inputs: torch.Tensor, labels: torch.Tensor):
        if inputs.dim() != 3 or inputs.size(0) != labels.size(0):
            raise ValueError(f"expected X [N, channels, length] and y [N], got {list(inputs.shape)}, {list(labels.shape)}")
        self.inputs = inputs.transpose(1, 2).contiguous()  # [N, length, channels]
        self.labels = labels.long()
        self.sizes = np.full(len(labels), inputs.size(-1), dtype=np.int64)

    def __getitem__(self, index):
        return {"id": index, "source": self.inputs[index], "target": self.labels[index]}

    def __len__(self):
        return len(self.labels)

    def num_tokens(self, index):
        return int(self.sizes[index])

    def size(self, index):
        return int(self.sizes[index])

    def collater(self, samples):
        if not samples:
            return {}
        sources = torch.stack([s["source"][:, 0] for s in samples])  # [B, length] (first channel)
        return {
            "id": torch.tensor([s["id"] for s in samples], dtype=torch.long),
            "nsentences": len(samples),
            "ntokens": int(sources.numel()),
            "net_input": {"src_tokens": sources,
                          "src_lengths": torch.full((len(samples),), sources.size(1), dtype=torch.long)},
            "target": torch.stack([s["target"] for s in samples]),
        }


@register_task("speech_commands")
class SpeechCommandsTask(ClassificationTask):
    @staticmethod
    def add_args(parser):
        add_classification_task_args(parser)
        parser.add_argument("--sc-all-classes", action="store_true", default=False, help="use all 35 classes")
        parser.add_argument("--sc-dropped-rate", type=float, default=0.0, help="rate of dropped samples")
        parser.add_argument("--mfcc", action="store_true", default=False, help="MFCC features instead of raw audio")

    @classmethod
    def setup_task(cls, args, **kwargs):
        return cls(args)

    def variant_dir(self) -> str:
        name = "mfcc" if self.args.mfcc else "raw"
        if self.args.sc_dropped_rate:
            name += f"_dropped{self.args.sc_dropped_rate}"
        if self.args.sc_all_classes:
            name += "_all_classes"
        return os.path.join(self.args.data, "processed_data", name)

    def load_dataset(self, split, combine=False, **kwargs):
        folder, part = self.variant_dir(), SPLIT_NAMES.get(split, split)
        paths = [os.path.join(folder, f"{part}_{kind}.pt") for kind in ("X", "y")]
        for path in paths:
            if not os.path.exists(path):
                raise FileNotFoundError(
                    f"speech_commands data not found: {path} (expected preprocessed tensors "
                    f"processed_data/<variant>/{{train,val,test}}_{{X,y}}.pt; nothing is downloaded)"
                )
        return self.register(split, SpeechCommandsDataset(*(torch.load(path, weights_only=True) for path in paths)))
