"""Readers of the image tasks of Long Range Arena: grey CIFAR-10, Pathfinder-32 and Path-X (Pathfinder-128).

Each ``*_splits`` function returns ``{"train"|"valid"|"test": iterable of (uint8 [H, W] grey image, label, name)}``;
images are decoded lazily, while they are written.

CIFAR-10 (10 classes, 32x32):
* ``cifar-10-batches-py``: ``data_batch_1..5`` and ``test_batch`` pickles (rows of 3072 bytes, R then G then B
  planes), grey by ``lra_pixels.rgb_to_grey``;
* JPEG class folders (``train/<class>/*.jpg``, ``test/<class>/*.jpg``) or the same as ``train.tar.gz`` /
  ``test.tar.gz``; decoded with PIL ``convert("L")``; images in (class, file name) order.
The training images are split 90 % / 10 % into train / valid with a seeded permutation (the original: 45,000 /
5,000, ``random_split`` seed 42; identical here for the pickles, whose order is torchvision's); test is the test set.

Pathfinder (2 classes, R x R with R = 32 or 128):
* LRA release ``pathfinder{R}/<difficulty>/metadata/<n>.npy`` (text; per line: image folder, file name, ...,
  label in column 4) + the PNGs; files in integer ``<n>`` order, lines in file order; the original's blacklist
  entry (``pathfinder32/curv_baseline/imgs/0/sample_172.png``, an empty file) is skipped, which only matters for
  ``curv_baseline``; split 80/10/10 as ``random_split`` with seed 42 (valid and test ``int(0.1 n)`` each);
* ``{train,val,test}.npz`` with ``images`` uint8 [N, R, R] and ``labels`` [N]: splits kept as they are.
"""

import pathlib
import pickle
import tarfile
from typing import Iterator, List, Optional, Tuple

import numpy as np

from lra_pixels import decode_grey, rgb_to_grey, split_indices

CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
PATHFINDER_BLACKLIST = frozenset({"pathfinder32/curv_baseline/imgs/0/sample_172.png"})
PATHFINDER_DIFFICULTIES = ("curv_baseline", "curv_contour_length_9", "curv_contour_length_14")


def _train_valid(items: list, valid_fraction: float, seed: int) -> Tuple[list, list]:
    train_size = int(len(items) * (1 - valid_fraction))
    train, valid = split_indices(len(items), (train_size, len(items) - train_size), seed)
    return [items[i] for i in train], [items[i] for i in valid]


# -- CIFAR-10 --------------------------------------------------------------------------------------------------
def _load_cifar_batch(path: pathlib.Path):
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 batch not found: {path}")
    with open(path, "rb") as handle:
        batch = pickle.load(handle, encoding="bytes")
    data, labels = np.asarray(batch[b"data"], dtype=np.uint8), list(batch[b"labels"])
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise ValueError(f"{path}: expected data [N, 3072] and N labels, got {data.shape} and {len(labels)}")
    grey = rgb_to_grey(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return [(grey[i], int(labels[i]), f"{path.name}[{i}]") for i in range(len(labels))]


def _cifar_pickles(folder: pathlib.Path, limit: Optional[int]):
    train = [item for name in CIFAR_TRAIN_BATCHES for item in _load_cifar_batch(folder / name)]
    test = _load_cifar_batch(folder / "test_batch")
    return train[:limit], test[:limit]


def _jpeg_entries(entries, where: str, limit: Optional[int]):
    """(class folder, file name, loader) -> sorted [(loader, label, name)]."""
    items = []
    for class_name, file_name, load in entries:
        if class_name not in CIFAR_CLASSES:
            raise ValueError(f"{where}: unknown CIFAR-10 class folder {class_name!r}")
        items.append((CIFAR_CLASSES.index(class_name), file_name, load))
    if not items:
        raise FileNotFoundError(f"no JPEG images found in {where}")
    items.sort(key=lambda item: (item[0], item[1]))
    return [(load, label, f"{CIFAR_CLASSES[label]}/{name}") for label, name, load in items][:limit]


def _jpeg_folder(folder: pathlib.Path, limit: Optional[int]):
    entries = [(path.parent.name, path.name, path.read_bytes) for path in sorted(folder.glob("*/*.jpg"))]
    return _jpeg_entries(entries, str(folder), limit)


def _jpeg_tar(path: pathlib.Path, limit: Optional[int]):
    entries = []
    with tarfile.open(path) as archive:
        for member in archive:
            parts = pathlib.PurePosixPath(member.name).parts
            if member.isfile() and member.name.endswith(".jpg") and len(parts) >= 2:
                data = archive.extractfile(member).read()
                entries.append((parts[-2], parts[-1], (lambda d=data: d)))
    return _jpeg_entries(entries, str(path), limit)


def _decoded(items) -> Iterator[Tuple[np.ndarray, int, str]]:
    for load, label, name in items:
        image = decode_grey(load(), name)
        if image.shape != (32, 32):
            raise ValueError(f"{name}: CIFAR-10 images are 32x32, got {image.shape}")
        yield image, label, name


def cifar10_splits(source: pathlib.Path, seed: int = 42, valid_fraction: float = 0.1, limit: Optional[int] = None):
    if not source.is_dir():
        raise FileNotFoundError(f"CIFAR-10 folder not found: {source}")
    for folder in (source, source / "cifar-10-batches-py"):
        if (folder / "data_batch_1").exists():
            train, test = _cifar_pickles(folder, limit)
            train, valid = _train_valid(train, valid_fraction, seed)
            return {"train": train, "valid": valid, "test": test}
    if (source / "train.tar.gz").is_file() or (source / "test.tar.gz").is_file():
        for name in ("train.tar.gz", "test.tar.gz"):
            if not (source / name).is_file():
                raise FileNotFoundError(f"CIFAR-10 JPEG archive not found: {source / name}")
        train, test = _jpeg_tar(source / "train.tar.gz", limit), _jpeg_tar(source / "test.tar.gz", limit)
    elif (source / "train").is_dir() or (source / "test").is_dir():
        for name in ("train", "test"):
            if not (source / name).is_dir():
                raise FileNotFoundError(f"CIFAR-10 JPEG folder not found: {source / name}")
        train, test = _jpeg_folder(source / "train", limit), _jpeg_folder(source / "test", limit)
    else:
        raise FileNotFoundError(f"no CIFAR-10 data in {source}: expected cifar-10-batches-py/data_batch_1..5 + "
                                "test_batch, {train,test}.tar.gz or {train,test}/<class>/*.jpg")
    train, valid = _train_valid(train, valid_fraction, seed)
    return {"train": _decoded(train), "valid": _decoded(valid), "test": _decoded(test)}


# -- Pathfinder ------------------------------------------------------------------------------------------------
def pathfinder_samples(folder: pathlib.Path, resolution: int, difficulty: str) -> List[Tuple[str, int]]:
    """(image path relative to ``folder``, label) in the original's order, blacklist removed."""
    metadata = folder / difficulty / "metadata"
    if not metadata.is_dir():
        raise FileNotFoundError(f"Pathfinder metadata folder not found: {metadata}")
    files = list(metadata.glob("*.npy"))
    if not files:
        raise FileNotFoundError(f"no metadata files (*.npy) in {metadata}")
    for path in files:
        if not path.stem.isdigit():
            raise ValueError(f"Pathfinder metadata file names are integers: {path}")
    samples = []
    for path in sorted(files, key=lambda p: int(p.stem)):
        for line_number, line in enumerate(path.read_text().splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 4:
                raise ValueError(f"{path}:{line_number}: expected at least 4 columns, got {len(fields)}")
            relative = f"{difficulty}/{fields[0]}/{fields[1]}"
            if f"pathfinder{resolution}/{relative}" not in PATHFINDER_BLACKLIST:
                samples.append((relative, int(fields[3])))
    return samples


def _pathfinder_images(folder: pathlib.Path, samples, resolution: int):
    for relative, label in samples:
        path = folder / relative
        if not path.is_file():
            raise FileNotFoundError(f"Pathfinder image not found: {path}")
        image = decode_grey(path.read_bytes(), str(path))
        if image.shape != (resolution, resolution):
            raise ValueError(f"{path}: expected {resolution}x{resolution}, got {image.shape}")
        yield image, label, relative


def _npz_split(path: pathlib.Path, resolution: int, limit: Optional[int]):
    if not path.is_file():
        raise FileNotFoundError(f"Pathfinder npz split not found: {path}")
    with np.load(path) as data:
        images, labels = data["images"], data["labels"]
    if images.shape[1:] != (resolution, resolution) or len(labels) != len(images):
        raise ValueError(f"{path}: expected images [N, {resolution}, {resolution}] and N labels, "
                         f"got {images.shape} and {len(labels)}")
    count = len(images) if limit is None else min(limit, len(images))
    return [(images[i], int(labels[i]), f"{path.name}[{i}]") for i in range(count)]


def pathfinder_splits(source: pathlib.Path, resolution: int = 32, difficulty: str = "curv_contour_length_14",
                      seed: int = 42, limit: Optional[int] = None):
    if not source.is_dir():
        raise FileNotFoundError(f"Pathfinder folder not found: {source}")
    if difficulty not in PATHFINDER_DIFFICULTIES:
        raise ValueError(f"unknown Pathfinder difficulty {difficulty!r}; one of {PATHFINDER_DIFFICULTIES}")
    if (source / "train.npz").is_file():
        return {split: _npz_split(source / f"{stem}.npz", resolution, limit)
                for split, stem in (("train", "train"), ("valid", "val"), ("test", "test"))}
    for folder in (source, source / f"pathfinder{resolution}"):
        if (folder / difficulty).is_dir():
            break
    else:
        raise FileNotFoundError(f"no Pathfinder-{resolution} data in {source}: expected {difficulty}/metadata/*.npy "
                                f"(in it or in pathfinder{resolution}/) or {{train,val,test}}.npz")
    samples = pathfinder_samples(folder, resolution, difficulty)[:limit]
    held_out = int(len(samples) * 0.1)
    pieces = split_indices(len(samples), (len(samples) - 2 * held_out, held_out, held_out), seed)
    return {split: _pathfinder_images(folder, [samples[i] for i in piece], resolution)
            for split, piece in zip(("train", "valid", "test"), pieces)}
