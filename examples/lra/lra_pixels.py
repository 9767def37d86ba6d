"""Grey pixels for the ``lra-image`` tasks: RGB -> grey, image decoding, seeded splits, ``.src`` / ``.label`` files.

Layout written (what ``--task lra-image`` reads)::

    OUT/input/{train,valid,test}.src      one image per line: grey values 0..255, row-major, space-separated
    OUT/label/{train,valid,test}.label    one class per line

Grey conversion: ITU-R 601-2 luma, L = 299/1000 R + 587/1000 G + 114/1000 B, computed exactly as PIL's
``convert("L")`` (which torchvision's ``Grayscale`` calls in the original preprocessing): in 16-bit fixed point,
``(19595 R + 38470 G + 7471 B + 32768) >> 16``. The original then writes ``int(ToTensor(x) * 255)``; in float32
that gives back ``x`` for every byte, so the written values are the grey bytes themselves.

Splits: ``torch.randperm(n, generator=torch.Generator().manual_seed(seed))`` cut into consecutive pieces, which is
what ``torch.utils.data.random_split`` (used by the original with seed 42) does.
"""

import io
import pathlib
from typing import Dict, Iterable, List, Sequence, Tuple

import numpy as np

SPLITS = ("train", "valid", "test")
PIXEL_TEXT = tuple(str(value) for value in range(256))
LUMA_WEIGHTS = np.array([19595, 38470, 7471], dtype=np.int64)  # sum 65536


def rgb_to_grey(rgb: np.ndarray) -> np.ndarray:
    """uint8 ``[..., 3]`` RGB -> uint8 ``[...]`` luma, bit-identical to PIL ``convert("L")``."""
    if rgb.dtype != np.uint8 or rgb.shape[-1] != 3:
        raise ValueError(f"expected uint8 RGB [..., 3], got {rgb.dtype} {rgb.shape}")
    return ((rgb.astype(np.int64) @ LUMA_WEIGHTS + 32768) >> 16).astype(np.uint8)


def decode_grey(data: bytes, name: str) -> np.ndarray:
    """Decode a PNG/JPEG (bytes) to a uint8 ``[H, W]`` grey array with PIL ``convert("L")``."""
    if not data:
        raise ValueError(f"image file is empty: {name}")
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("decoding PNG/JPEG images needs Pillow: pip install pillow") from None
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L"), dtype=np.uint8)


def split_indices(count: int, lengths: Sequence[int], seed: int) -> List[List[int]]:
    """Consecutive pieces of a seeded permutation of ``range(count)`` (``random_split`` semantics)."""
    import torch

    if sum(lengths) != count or min(lengths) < 0:
        raise ValueError(f"split lengths {list(lengths)} do not add up to {count}")
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).tolist()
    pieces, start = [], 0
    for length in lengths:
        pieces.append(order[start : start + length])
        start += length
    return pieces


class ImageSplitWriter:
    """Appends images of one split to ``input/{split}.src`` and ``label/{split}.label``."""

    def __init__(self, out: pathlib.Path, split: str, num_classes: int):
        (out / "input").mkdir(parents=True, exist_ok=True)
        (out / "label").mkdir(parents=True, exist_ok=True)
        self.split, self.num_classes = split, num_classes
        self.pixels = open(out / "input" / f"{split}.src", "w")
        self.labels = open(out / "label" / f"{split}.label", "w")
        self.size = None
        self.counts = [0] * num_classes

    def add(self, image: np.ndarray, label: int, name: str = "") -> None:
        flat = np.asarray(image, dtype=np.uint8).reshape(-1)
        if self.size is None:
            self.size = flat.size
        elif flat.size != self.size:
            raise ValueError(f"{name or self.split}: {flat.size} pixels, earlier images have {self.size}")
        if not 0 <= label < self.num_classes:
            raise ValueError(f"{name or self.split}: label {label} outside 0..{self.num_classes - 1}")
        self.pixels.write(" ".join([PIXEL_TEXT[v] for v in flat.tolist()]) + "\n")
        self.labels.write(f"{label}\n")
        self.counts[label] += 1

    def close(self) -> None:
        self.pixels.close()
        self.labels.close()


def write_image_task(out: pathlib.Path, splits: Dict[str, Iterable[Tuple[np.ndarray, int, str]]],
                     num_classes: int) -> dict:
    """``splits``: split -> iterable of (uint8 image, label, name); returns a summary dict."""
    if set(splits) != set(SPLITS):
        raise ValueError(f"need exactly the splits {SPLITS}, got {sorted(splits)}")
    summary = {"examples": {}, "label_counts": {}, "pixels": None}
    for split in SPLITS:
        writer = ImageSplitWriter(out, split, num_classes)
        try:
            for image, label, name in splits[split]:
                writer.add(image, label, name)
        finally:
            writer.close()
        summary["examples"][split] = sum(writer.counts)
        summary["label_counts"][split] = writer.counts
        summary["pixels"] = summary["pixels"] or writer.size
    return summary
