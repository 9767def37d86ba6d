"""prepare.py on slices of the real datasets kept next to the checkout (../shared/data; skipped when absent):
ListOps from the official generator, IMDB jsonl, Pathfinder-32 npz and the CIFAR-10 JPEG archives."""

import csv
import gzip
import json
import sys

import numpy as np
import pytest

from lra_helpers import SHARED_DATA, read_binarized, read_labels_binarized, read_lines, read_pixels, utf8_tokens

import prepare  # noqa: E402
from listops_generator import evaluate, model_tokens  # noqa: E402

csv.field_size_limit(sys.maxsize)


def needs(folder):
    return pytest.mark.skipif(not (SHARED_DATA / folder).is_dir(), reason=f"shared data {folder}/ not present")


@needs("listops")
def test_listops_slice(tmp_path):
    summary = prepare.main(["listops", str(SHARED_DATA / "listops"), str(tmp_path), "--limit", "20", "--keep-tokens"])
    assert summary["examples"] == {"train": 20, "valid": 20, "test": 20}
    with gzip.open(SHARED_DATA / "listops" / "basic_test.tsv.gz", "rt", newline="") as handle:
        rows = [row for _, row in zip(range(20), csv.DictReader(handle, delimiter="\t"))]
    lines = read_lines(tmp_path / "tokens" / "test.src")
    assert lines == [" ".join(model_tokens(row["Source"])) for row in rows]
    assert [evaluate(line) for line in lines] == [int(row["Target"]) for row in rows]
    assert read_labels_binarized(tmp_path / "label-bin", "test") == [int(row["Target"]) for row in rows]
    binarized, _ = read_binarized(tmp_path / "src-bin", "train")
    assert [" ".join(t) for t in binarized] == read_lines(tmp_path / "tokens" / "train.src")  # 15 symbols, no <unk>


@needs("imdb")
def test_imdb_slice_is_utf8_bytes_cut_at_4000(tmp_path):
    prepare.main(["imdb", str(SHARED_DATA / "imdb"), str(tmp_path), "--limit", "6", "--keep-tokens"])
    with gzip.open(SHARED_DATA / "imdb" / "test.jsonl.gz", "rt", encoding="utf-8") as handle:
        reviews = [json.loads(line) for _, line in zip(range(6), handle)]
    expected = [" ".join(utf8_tokens(r["text"].encode("utf-8").strip()[:4000])) for r in reviews]
    assert read_lines(tmp_path / "tokens" / "test.src") == expected == read_lines(tmp_path / "tokens" / "valid.src")
    assert read_lines(tmp_path / "tokens" / "test.label") == [str(r["label"]) for r in reviews]
    assert max(len(line.split()) for line in read_lines(tmp_path / "tokens" / "train.src")) <= 4000


@needs("pathfinder32")
def test_pathfinder32_npz_slice(tmp_path):
    prepare.main(["pathfinder", str(SHARED_DATA / "pathfinder32"), str(tmp_path), "--limit", "5"])
    with np.load(SHARED_DATA / "pathfinder32" / "val.npz") as data:
        images, labels = data["images"][:5], data["labels"][:5]
    assert read_pixels(tmp_path, "valid") == (images.reshape(5, -1).tolist(), labels.tolist())


@needs("cifar10-jpeg")
def test_cifar10_jpeg_archive_slice(tmp_path):
    pytest.importorskip("PIL")
    summary = prepare.main(["cifar10", str(SHARED_DATA / "cifar10-jpeg"), str(tmp_path), "--limit", "20"])
    assert summary["examples"] == {"train": 18, "valid": 2, "test": 20} and summary["pixels"] == 1024
    images, labels = read_pixels(tmp_path, "test")
    assert labels == [0] * 20  # the first 20 in (class, file) order are airplanes
    assert all(len(row) == 1024 and 0 <= min(row) and max(row) <= 255 for row in images)
    assert len({tuple(row) for row in images}) == 20  # distinct real images
