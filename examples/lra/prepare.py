"""Prepare Long Range Arena data in the layout of the ``lra-text`` / ``lra-image`` tasks (original Mega layout).

    python examples/lra/prepare.py listops SRC OUT      # SRC: lra_release/listops-1000 or a folder of basic_*.tsv(.gz)
    python examples/lra/prepare.py imdb SRC OUT         # SRC: aclImdb/ (train|test/pos|neg/*.txt) or {train,test}.jsonl.gz
    python examples/lra/prepare.py aan SRC OUT          # SRC: lra_release/tsv_data (new_aan_pairs.{train,eval,test}.tsv)
    python examples/lra/prepare.py cifar10 SRC OUT      # SRC: cifar-10-batches-py/ or {train,test}.tar.gz of class/*.jpg
    python examples/lra/prepare.py pathfinder SRC OUT   # SRC: lra_release/pathfinder32 (or pathfinder128) or {train,val,test}.npz

Text tasks write ``OUT/{src,src1,label}-bin`` with fairseq-preprocess (``src1`` for AAN's second document); image
tasks write ``OUT/input/{split}.src`` (grey values 0..255, row-major) and ``OUT/label/{split}.label``.
Byte-level text (IMDB, AAN) uses one token per UTF-8 byte (its value), cut to 4000 bytes as LRA does. Grey images
use ITU-R 601-2 luma (PIL's ``convert("L")``), as torchvision's ``Grayscale`` in the original preprocessing.
Splits: CIFAR-10 train -> 90 % train / 10 % valid with a fixed seed (42); Pathfinder from the official metadata ->
80/10/10 with seed 42; sets that come split (ListOps, AAN, npz files) keep their splits.
"""

import argparse
import csv
import gzip
import io
import json
import pathlib
import pickle
import random
import subprocess
import sys
import tarfile

import numpy as np

csv.field_size_limit(sys.maxsize)
TEXT_SPLITS = ("train", "valid", "test")


class MissingData(FileNotFoundError):
    pass


def need(path: pathlib.Path, what: str) -> pathlib.Path:
    if not path.exists():
        raise MissingData(f"{what} not found: {path}")
    return path


def _open_text(path: pathlib.Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def _find(folder: pathlib.Path, stem: str) -> pathlib.Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.exists():
            return candidate
    raise MissingData(f"{stem}(.gz) not found in {folder}")


def byte_tokens(text: str, limit: int = 4000) -> str:
    return " ".join(str(b) for b in text.encode("utf-8")[:limit])


# -- text tasks ------------------------------------------------------------------------------------------------
def write_text_task(out: pathlib.Path, splits: dict) -> None:
    """``splits``: split -> list of (labels, [documents]); binarizes with fairseq-preprocess."""
    raw = out / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    documents = max(len(docs) for rows in splits.values() for _, docs in rows)
    for split, rows in splits.items():
        for index in range(documents):
            (raw / f"{split}.src{index or ''}").write_text("\n".join(docs[index] for _, docs in rows) + "\n")
        (raw / f"{split}.label").write_text("\n".join(str(label) for label, _ in rows) + "\n")
    if documents > 1:  # one dictionary for both documents, built from both training sides
        both = raw / "train.both"
        both.write_text((raw / "train.src").read_text() + (raw / "train.src1").read_text())
        subprocess.run([sys.executable, "-m", "fairseq_cli.preprocess", "--only-source", "--dict-only",
                        "--trainpref", str(both), "--destdir", str(raw / "dict"), "--workers", "1"],
                       check=True, capture_output=True)
        _preprocess(raw, "src", out / "src-bin", srcdict=raw / "dict" / "dict.txt")
        _preprocess(raw, "src1", out / "src1-bin", srcdict=raw / "dict" / "dict.txt")
    else:
        _preprocess(raw, "src", out / "src-bin")
    _preprocess(raw, "label", out / "label-bin")


def _preprocess(raw: pathlib.Path, kind: str, dest: pathlib.Path, srcdict=None) -> None:
    command = [sys.executable, "-m", "fairseq_cli.preprocess", "--only-source", "--destdir", str(dest),
               "--workers", "1", "--trainpref", str(raw / f"train.{kind}"), "--validpref", str(raw / f"valid.{kind}"),
               "--testpref", str(raw / f"test.{kind}")]
    if srcdict is not None:
        command += ["--srcdict", str(srcdict)]
    subprocess.run(command, check=True, capture_output=True)


def listops(src: pathlib.Path, out: pathlib.Path) -> None:
    from listops import tokens

    splits = {}
    for split, stem in zip(TEXT_SPLITS, ("basic_train.tsv", "basic_val.tsv", "basic_test.tsv")):
        with _open_text(_find(need(src, "ListOps folder"), stem)) as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        splits[split] = [(int(row["Target"]), [" ".join(tokens(row["Source"]))]) for row in rows]
    write_text_task(out, splits)


def imdb(src: pathlib.Path, out: pathlib.Path, seed: int = 42) -> None:
    need(src, "IMDB folder")
    data = {}
    for split in ("train", "test"):
        if (src / f"{split}.jsonl.gz").exists():
            with gzip.open(src / f"{split}.jsonl.gz", "rt", encoding="utf-8") as handle:
                data[split] = [(int(row["label"]), row["text"]) for row in map(json.loads, handle)]
        else:
            data[split] = [(label, path.read_text(encoding="utf-8"))
                           for label, polarity in ((0, "neg"), (1, "pos"))
                           for path in sorted(need(src / split / polarity, f"aclImdb {split}/{polarity}").glob("*.txt"))]
    rows = {split: [(label, [byte_tokens(text)]) for label, text in data[split]] for split in data}
    random.Random(seed).shuffle(rows["train"])
    # LRA evaluates on the test set and has no separate validation split: the original Mega data uses test as valid
    write_text_task(out, {"train": rows["train"], "valid": rows["test"], "test": rows["test"]})


def aan(src: pathlib.Path, out: pathlib.Path) -> None:
    splits = {}
    for split, stem in zip(TEXT_SPLITS, ("new_aan_pairs.train.tsv", "new_aan_pairs.eval.tsv", "new_aan_pairs.test.tsv")):
        with _open_text(_find(need(src, "AAN folder"), stem)) as handle:
            rows = list(csv.reader(handle, delimiter="\t"))
        splits[split] = [(int(float(r[0])), [byte_tokens(r[3]), byte_tokens(r[4])]) for r in rows if len(r) >= 5]
    write_text_task(out, splits)


# -- image tasks -----------------------------------------------------------------------------------------------
def write_image_task(out: pathlib.Path, splits: dict) -> None:
    """``splits``: split -> (uint8 images [N, H, W], labels [N])."""
    for folder in ("input", "label"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    for split, (images, labels) in splits.items():
        flat = images.reshape(len(images), -1)
        (out / "input" / f"{split}.src").write_text("\n".join(" ".join(map(str, row)) for row in flat) + "\n")
        (out / "label" / f"{split}.label").write_text("\n".join(str(int(label)) for label in labels) + "\n")


def _grey(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma of uint8 RGB ``[..., 3]``, rounded like PIL's ``convert("L")``."""
    weights = np.array([299, 587, 114], dtype=np.int64)
    return ((rgb.astype(np.int64) @ weights + 500) // 1000).astype(np.uint8)


def _decode_image(data: bytes) -> np.ndarray:
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError("decoding JPEG/PNG images needs Pillow: pip install pillow") from error
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"))


def _split_off(images, labels, fraction, seed):
    order = np.random.default_rng(seed).permutation(len(images))
    cut = int(round(len(images) * (1 - fraction)))
    return (images[order[:cut]], labels[order[:cut]]), (images[order[cut:]], labels[order[cut:]])


def cifar10(src: pathlib.Path, out: pathlib.Path, seed: int = 42) -> None:
    need(src, "CIFAR-10 folder")
    if (src / "data_batch_1").exists():
        def load(names):
            batches = [pickle.load(open(need(src / name, "CIFAR-10 batch"), "rb"), encoding="bytes") for name in names]
            data = np.concatenate([b[b"data"] for b in batches]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            return _grey(data), np.concatenate([np.array(b[b"labels"]) for b in batches])
        train = load([f"data_batch_{i}" for i in range(1, 6)])
        test = load(["test_batch"])
    else:
        classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

        def load(name):
            images, labels = [], []
            with tarfile.open(need(src / name, "CIFAR-10 JPEG archive")) as archive:
                for member in sorted(archive.getmembers(), key=lambda m: m.name):
                    parts = pathlib.PurePosixPath(member.name).parts
                    if member.isfile() and len(parts) >= 3 and parts[-2] in classes:
                        images.append(_decode_image(archive.extractfile(member).read()))
                        labels.append(classes.index(parts[-2]))
            return np.stack(images), np.array(labels)
        train, test = load("train.tar.gz"), load("test.tar.gz")
    train, valid = _split_off(*train, fraction=0.1, seed=seed)
    write_image_task(out, {"train": train, "valid": valid, "test": test})


def pathfinder(src: pathlib.Path, out: pathlib.Path, seed: int = 42) -> None:
    need(src, "Pathfinder folder")
    if (src / "train.npz").exists():
        splits = {}
        for split, stem in zip(TEXT_SPLITS, ("train", "val", "test")):
            data = np.load(need(src / f"{stem}.npz", "Pathfinder npz"))
            splits[split] = (data["images"], data["labels"])
        write_image_task(out, splits)
        return
    metadata = need(src / "curv_contour_length_14" / "metadata", "Pathfinder metadata folder")
    blacklist = {"curv_baseline/imgs/0/sample_172.png"}
    images, labels = [], []
    for path in sorted(metadata.glob("*.npy"), key=lambda p: int(p.stem)):
        for line in path.read_text().splitlines():
            fields = line.split()
            relative = f"{fields[0]}/{fields[1]}"
            if len(fields) < 4 or any(relative.endswith(b) for b in blacklist):
                continue
            image = need(src / "curv_contour_length_14" / relative, "Pathfinder image")
            images.append(_decode_image(image.read_bytes()))
            labels.append(int(fields[3]))
    images, labels = np.stack(images), np.array(labels)
    order = np.random.default_rng(seed).permutation(len(images))
    cut1, cut2 = int(0.8 * len(order)), int(0.9 * len(order))
    parts = {"train": order[:cut1], "valid": order[cut1:cut2], "test": order[cut2:]}
    write_image_task(out, {split: (images[idx], labels[idx]) for split, idx in parts.items()})


TASKS = {"listops": listops, "imdb": imdb, "aan": aan, "cifar10": cifar10, "pathfinder": pathfinder}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("src", type=pathlib.Path)
    parser.add_argument("out", type=pathlib.Path)
    args = parser.parse_args(argv)
    try:
        TASKS[args.task](args.src, args.out)
    except MissingData as error:
        parser.exit(2, f"prepare.py: error: {error}\n")
    print(f"prepared {args.task} in {args.out}")


if __name__ == "__main__":
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    main()
