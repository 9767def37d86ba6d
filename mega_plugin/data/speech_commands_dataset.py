"""Speech Commands from the original's preprocessed tensors (``speech_commands``); nothing is downloaded.

``DATA/processed_data/<variant>/{train,val,test}_{X,y}.pt``: X float ``[N, C, L]`` (raw audio: C = 1, L = 16000,
already normalised; ``_dropped`` variants add a mask channel, C = 2), y long ``[N]``.
Item i -> ``{'id': i, 'source': [L, C], 'target': scalar}``; a batch ->
``{'id' [B], 'nsentences' B, 'ntokens' B*L, 'net_input': {'src_tokens' [B, L] (or [B, L, C] for C > 1),
'src_lengths' [B] (= L)}, 'target' [B]}``. The order is the stored one (the original does not reshuffle it).
"""

import os

import numpy as np
import torch
from fairseq.data import FairseqDataset

SPLIT_FILES = {"train": "train", "valid": "val", "val": "val", "test": "test"}


def variant_name(mfcc: bool, dropped_rate: float, all_classes: bool) -> str:
    """Folder name under ``processed_data`` (``raw``, ``raw_dropped50.0``, ``raw_all_classes``, ``mfcc``, ...)."""
    name = "mfcc" if mfcc else "raw"
    if not mfcc and dropped_rate != 0:
        name += f"_dropped{dropped_rate}"
    if all_classes:
        name += "_all_classes"
    return name


def load_split(folder: str, split: str):
    """``(X [N, C, L], y [N])`` of ``split`` (``train``, ``valid``/``val``, ``test``) from ``folder``."""
    if split not in SPLIT_FILES:
        raise ValueError(f"speech_commands has splits train, valid and test, not {split!r}")
    paths = [os.path.join(folder, f"{SPLIT_FILES[split]}_{kind}.pt") for kind in ("X", "y")]
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"speech_commands data not found: {path}. Expected the original preprocessed tensors "
                f"DATA/processed_data/<variant>/{{train,val,test}}_{{X,y}}.pt (X float [N, 1, 16000], y long [N]); "
                f"this plugin never downloads or processes raw audio"
            )
    return tuple(torch.load(path, map_location="cpu", weights_only=True) for path in paths)


class SpeechCommandsDataset(FairseqDataset):
    def __init__(self, inputs: torch.Tensor, labels: torch.Tensor):
        if inputs.dim() != 3 or labels.dim() != 1 or inputs.size(0) != labels.size(0):
            raise ValueError(f"expected X [N, channels, length] and y [N], got {list(inputs.shape)} and "
                             f"{list(labels.shape)}")
        self.src = inputs.transpose(1, 2)  # [N, L, C] view, no copy
        self.tgt = labels.long()
        self.sizes = np.full(len(labels), self.src.size(1), dtype=np.int64)

    def __getitem__(self, index):
        return {"id": index, "source": self.src[index], "target": self.tgt[index]}

    def __len__(self):
        return len(self.tgt)

    def num_tokens(self, index):
        return int(self.sizes[index])

    def size(self, index):
        return int(self.sizes[index])

    def collater(self, samples):
        if not samples:
            return {}
        lengths = torch.tensor([len(s["source"]) for s in samples], dtype=torch.long)
        return {
            "id": torch.tensor([s["id"] for s in samples], dtype=torch.long),
            "nsentences": len(samples),
            "ntokens": int(lengths.sum()),
            "net_input": {"src_tokens": torch.stack([s["source"] for s in samples]).squeeze(-1),
                          "src_lengths": lengths},
            "target": torch.stack([s["target"] for s in samples]),
        }
