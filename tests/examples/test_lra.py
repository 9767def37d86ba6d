"""LRA pipeline: ListOps generator/evaluator, data preparation from the official formats, recipes, results."""

import csv
import gzip
import json
import os
import pathlib
import pickle
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = pathlib.Path(__file__).parents[2]
LRA = ROOT / "examples" / "lra"
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(LRA))

import listops  # noqa: E402
import prepare  # noqa: E402
import results  # noqa: E402


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(2, 5))
def test_generated_values_match_the_independent_evaluator(seed, max_depth, max_args):
    rng = random.Random(seed)
    tree = listops.generate_tree(rng, 1, max_depth, max_args)
    source = listops.to_lra_string(tree)
    assert listops.evaluate(listops.tokens(source)) == listops.tree_value(tree)
    assert source.count("(") == source.count(")")
    assert 0 <= listops.tree_value(tree) <= 9


def test_generate_respects_lengths_and_uniqueness():
    examples = listops.generate(random.Random(1), 20, min_length=30, max_length=120)
    assert len({source for source, _ in examples}) == 20
    assert all(30 <= len(listops.tokens(source)) <= 120 for source, _ in examples)


@pytest.mark.parametrize("expression, value", [
    ("[MAX 2 9 [MIN 4 7 ] 0 ]", 9), ("[MED 1 2 3 4 ]", 2), ("[SM 8 9 5 ]", 2), ("[MIN 3 [MAX 1 8 ] ]", 3), ("7", 7),
])
def test_evaluator_on_hand_made_expressions(expression, value):
    assert listops.evaluate(expression.split()) == value


@pytest.mark.skipif(not (SHARED / "listops").exists(), reason="shared ListOps data not present")
def test_evaluator_reproduces_the_official_generator_labels():
    with gzip.open(SHARED / "listops" / "basic_val.tsv.gz", "rt") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))[:300]
    assert all(listops.evaluate(listops.tokens(r["Source"])) == int(r["Target"]) for r in rows)


def _read_bin(folder, split):
    from fairseq.data import Dictionary, data_utils

    dictionary = Dictionary.load(str(folder / "dict.txt"))
    dataset = data_utils.load_indexed_dataset(str(folder / split), dictionary)
    return [dictionary.string(dataset[i][:-1]) for i in range(len(dataset))]


def _write_tsv(path, header, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        if header:
            writer.writerow(header)
        writer.writerows(rows)


def test_prepare_listops_from_official_tsv(tmp_path):
    src = tmp_path / "listops-1000"
    src.mkdir()
    rows = {"train": [("( ( [MAX 2 ) 9 ] )", 9), ("( ( [MIN 4 ) 7 ] )", 4), ("( ( ( [MED 1 ) 5 ) 3 ] )", 3),
                      ("( ( [SM 5 ) 6 ] )", 1)],
            "val": [("( ( [SM 5 ) 6 ] )", 1)],
            "test": [("( ( ( [MED 1 ) 5 ) 3 ] )", 3)]}
    for split, data in rows.items():
        _write_tsv(src / f"basic_{split}.tsv", ["Source", "Target"], data)
    prepare.main(["listops", str(src), str(tmp_path / "out")])
    assert _read_bin(tmp_path / "out" / "src-bin", "train")[:2] == ["[MAX 2 9 ]", "[MIN 4 7 ]"]
    assert _read_bin(tmp_path / "out" / "src-bin", "test") == ["[MED 1 5 3 ]"]
    assert _read_bin(tmp_path / "out" / "label-bin", "valid") == ["1"]


def test_prepare_imdb_byte_level_from_aclimdb(tmp_path):
    for split in ("train", "test"):
        for polarity, text in (("neg", "bad é"), ("pos", "good")):
            folder = tmp_path / "aclImdb" / split / polarity
            folder.mkdir(parents=True)
            (folder / "0_1.txt").write_text(text, encoding="utf-8")
    prepare.main(["imdb", str(tmp_path / "aclImdb"), str(tmp_path / "out")])
    test = _read_bin(tmp_path / "out" / "src-bin", "test")
    assert test == ["98 97 100 32 195 169", "103 111 111 100"]  # UTF-8 bytes of "bad é", "good"
    assert _read_bin(tmp_path / "out" / "label-bin", "test") == ["0", "1"]


def test_prepare_imdb_from_jsonl(tmp_path):
    for split in ("train", "test"):
        with gzip.open(tmp_path / f"{split}.jsonl.gz", "wt") as handle:
            handle.write(json.dumps({"label": 1, "text": "x" * 5000}) + "\n")
    prepare.main(["imdb", str(tmp_path), str(tmp_path / "out")])
    assert _read_bin(tmp_path / "out" / "src-bin", "test")[0].split() == ["120"] * 4000  # cut to 4000 bytes


def test_prepare_aan_pairs(tmp_path):
    for split in ("train", "eval", "test"):
        _write_tsv(tmp_path / f"new_aan_pairs.{split}.tsv", None,
                   [("1", "a1", "b1", "ab", "c"), ("0", "a2", "b2", "d", "ef")])
    prepare.main(["aan", str(tmp_path), str(tmp_path / "out")])
    assert _read_bin(tmp_path / "out" / "src-bin", "valid") == ["97 98", "100"]
    assert _read_bin(tmp_path / "out" / "src1-bin", "valid") == ["99", "101 102"]
    assert _read_bin(tmp_path / "out" / "label-bin", "test") == ["1", "0"]


def test_prepare_cifar10_from_python_batches(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 3, 32, 32), dtype=np.uint8)
    for index, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        with open(tmp_path / name, "wb") as handle:
            pickle.dump({b"data": images.reshape(20, -1), b"labels": list(range(10)) * 2}, handle)
    prepare.main(["cifar10", str(tmp_path), str(tmp_path / "out")])
    test_rows = (tmp_path / "out" / "input" / "test.src").read_text().splitlines()
    red, green, blue = (images[0, c].astype(np.int64) for c in range(3))
    grey = (299 * red + 587 * green + 114 * blue + 500) // 1000
    assert test_rows[0].split() == [str(v) for v in grey.reshape(-1)]
    assert len((tmp_path / "out" / "input" / "train.src").read_text().splitlines()) == 90
    assert len((tmp_path / "out" / "label" / "valid.label").read_text().splitlines()) == 10


def test_prepare_pathfinder_from_npz(tmp_path):
    for split in ("train", "val", "test"):
        np.savez(tmp_path / f"{split}.npz", images=np.full((3, 4, 4), 7, dtype=np.uint8), labels=np.array([0, 1, 1]))
    prepare.main(["pathfinder", str(tmp_path), str(tmp_path / "out")])
    assert (tmp_path / "out" / "input" / "valid.src").read_text().splitlines()[0] == " ".join(["7"] * 16)
    assert (tmp_path / "out" / "label" / "test.label").read_text().split() == ["0", "1", "1"]


def test_missing_release_files_are_named(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        prepare.main(["listops", str(tmp_path), str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert "basic_train.tsv(.gz) not found" in capsys.readouterr().err


def test_results_table_and_log_parsing(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("... | valid | epoch 001 | loss 2.1 | accuracy 31.5 | num_updates 10\n"
                   "... | valid | epoch 002 | loss 1.9 | accuracy 37.25 | num_updates 20\n")
    text = results.table(results.parse([f"listops={log}", "image=50"]))
    assert "| this run | 37.25 | - | - | 50.00 | - | - | - |" in text
    assert "| Mega (paper) | 63.14 | 90.43 | 91.25 | 90.44 | 96.01 | 97.98 | 88.21 |" in text


def _tiny_text_data(root, documents=1):
    rng = random.Random(0)
    splits = {split: [(rng.randrange(2), [" ".join(str(rng.randrange(10)) for _ in range(rng.randint(3, 12)))
                                          for _ in range(documents)]) for _ in range(8)]
              for split in ("train", "valid", "test")}
    prepare.write_text_task(root, splits)


SHRINK = ["--encoder-layers", "1", "--encoder-embed-dim", "16", "--encoder-hidden-dim", "32",
          "--encoder-ffn-embed-dim", "32", "--z-dim", "8", "--max-update", "1",
          "--cpu", "--batch-size", "4", "--batch-size-valid", "4", "--warmup-updates", "1", "--total-num-update", "2",
          "--ddp-backend", "legacy_ddp"]


@pytest.mark.parametrize("recipe, kind", [
    ("listops.sh", "text"), ("imdb.sh", "text"), ("aan.sh", "pair"),
    ("cifar10.sh", "image"), ("pathfinder.sh", "image"), ("pathx.sh", "image"),
])
def test_recipes_run_one_update(recipe, kind, tmp_path):
    data = tmp_path / "data"
    if kind == "image":
        rng = np.random.default_rng(0)
        splits = {s: (rng.integers(0, 256, (8, 8, 8), dtype=np.uint8), rng.integers(0, 2, 8)) for s in
                  ("train", "valid", "test")}
        prepare.write_image_task(data, splits)
        extra = ["--max-positions", "64", "--chunk-size", "16"]
        if recipe == "pathx.sh":
            extra += ["--norm-type", "batchnorm"]  # syncbatchnorm needs torch.distributed with GPUs
    else:
        _tiny_text_data(data, documents=2 if kind == "pair" else 1)
        extra = ["--max-positions", "64"]
    env = dict(os.environ, PYTHON=sys.executable)
    result = subprocess.run(["bash", str(LRA / recipe), str(data), str(tmp_path / "save"), *SHRINK, *extra],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "num_updates 1" in result.stdout + result.stderr
