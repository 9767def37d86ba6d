"""prepare.py on tiny copies of the official text layouts (tests/fixtures/lra_formats): ListOps, IMDB, AAN.

The token files and the fairseq-binarized splits (read back with ``data_utils.load_indexed_dataset``) must hold
exactly the expected tokens and labels."""

import gzip
import json
import shutil

import pytest

from lra_helpers import FORMATS, read_binarized, read_labels_binarized, read_lines, utf8_tokens

import prepare  # noqa: E402
from listops_generator import evaluate  # noqa: E402

LISTOPS_TOKENS = {
    "train": ["[MAX 2 9 ]", "[MIN 4 7 ]", "[MED 1 5 3 8 ]", "[SM 5 6 ]", "[MAX 2 9 [MIN 4 7 ] 0 ]"],
    "valid": ["[SM 8 9 5 ]", "[MED 1 4 ]"],
    "test": ["[MIN 3 [MAX 1 8 ] ]", "[MED 0 9 9 ]"],
}
LISTOPS_LABELS = {"train": [9, 4, 4, 1, 9], "valid": [2, 2], "test": [3, 9]}
IMDB_TRAIN = [b"Bad.<br />", "Awful \u00e9".encode(), b"Good!"]  # neg 9_1, neg 10_2 (numeric order), pos 0_9
IMDB_TEST = [b"Meh", b"Fine film"]


def _check_binarized(out, tokens_by_split, labels_by_split, folder="src-bin", vocabulary=None):
    """Token files hold the tokens; binarized splits hold them too, tokens unseen in training as <unk>."""
    vocabulary = vocabulary or {t for line in tokens_by_split["train"] for t in line}
    for split, lines in tokens_by_split.items():
        assert read_lines(out / "tokens" / f"{split}.{folder.split('-')[0]}") == [" ".join(t) for t in lines]
        binarized, _ = read_binarized(out / folder, split, out / "src-bin")
        assert binarized == [[t if t in vocabulary else "<unk>" for t in line] for line in lines]
    for split, labels in labels_by_split.items():
        assert read_lines(out / "tokens" / f"{split}.label") == [str(v) for v in labels]
        assert read_labels_binarized(out / "label-bin", split) == labels


def test_listops_from_the_official_tsv(tmp_path):
    out = tmp_path / "listops"
    summary = prepare.main(["listops", str(FORMATS / "listops-1000"), str(out), "--keep-tokens"])
    tokens = {split: [line.split() for line in lines] for split, lines in LISTOPS_TOKENS.items()}
    _check_binarized(out, tokens, LISTOPS_LABELS)
    # the label dictionary lists the ten classes in numeric order: class index == label
    assert [line.split()[0] for line in read_lines(out / "label-bin" / "dict.txt")] == [str(c) for c in range(10)]
    assert summary["examples"] == {"train": 5, "valid": 2, "test": 2}
    assert json.loads((out / "summary.json").read_text())["label_counts"]["train"][9] == 2
    assert not (out / "src1-bin").exists()
    # the evaluator recomputes every label from the prepared tokens
    for split in LISTOPS_TOKENS:
        values = [evaluate(line) for line in read_lines(out / "tokens" / f"{split}.src")]
        assert values == LISTOPS_LABELS[split]


def test_listops_source_dictionary_is_frequency_ordered(tmp_path):
    prepare.main(["listops", str(FORMATS / "listops-1000"), str(tmp_path), "--keep-tokens"])
    entries = [line.split() for line in read_lines(tmp_path / "src-bin" / "dict.txt")]
    counts = {}
    for line in LISTOPS_TOKENS["train"]:
        for token in line.split():
            counts[token] = counts.get(token, 0) + 1
    assert entries == [[t, str(c)] for t, c in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def test_listops_with_a_given_dictionary_keeps_its_token_ids(tmp_path):
    """--dictionary reuses another folder's dict.txt (e.g. to fine-tune on data prepared elsewhere)."""
    given = tmp_path / "dict.txt"
    symbols = ["[SM", "9", "8", "7", "6", "5", "4", "3", "2", "1", "0", "]", "[MIN", "[MED", "[MAX", "extra"]
    given.write_text("".join(f"{symbol} 1\n" for symbol in symbols))
    out = tmp_path / "out"
    prepare.main(["listops", str(FORMATS / "listops-1000"), str(out), "--dictionary", str(given), "--keep-tokens"])
    assert [line.split()[0] for line in read_lines(out / "src-bin" / "dict.txt")] == symbols
    tokens = {split: [line.split() for line in lines] for split, lines in LISTOPS_TOKENS.items()}
    _check_binarized(out, tokens, LISTOPS_LABELS)
    given.write_text("[SM 1\n9 1\n")
    with pytest.raises(SystemExit):
        prepare.main(["listops", str(FORMATS / "listops-1000"), str(tmp_path / "bad"), "--dictionary", str(given)])


def test_listops_from_an_lra_release_root_with_gzip_and_truncation(tmp_path):
    release = tmp_path / "lra_release" / "listops-1000"
    shutil.copytree(FORMATS / "listops-1000", release)
    data = (release / "basic_train.tsv").read_bytes()
    (release / "basic_train.tsv").unlink()
    with gzip.open(release / "basic_train.tsv.gz", "wb") as handle:
        handle.write(data)
    prepare.main(["listops", str(tmp_path / "lra_release"), str(tmp_path / "out"), "--keep-tokens",
                  "--max-length", "3", "--limit", "4"])
    assert read_lines(tmp_path / "out" / "tokens" / "train.src") == ["[MAX 2 9", "[MIN 4 7", "[MED 1 5", "[SM 5 6"]
    assert read_labels_binarized(tmp_path / "out" / "label-bin", "train") == [9, 4, 4, 1]


def test_imdb_from_aclimdb_is_byte_level_stripped_and_validates_on_test(tmp_path):
    out = tmp_path / "imdb"
    prepare.main(["imdb", str(FORMATS / "aclImdb"), str(out), "--keep-tokens"])
    tokens = {"train": [utf8_tokens(t) for t in IMDB_TRAIN], "valid": [utf8_tokens(t) for t in IMDB_TEST],
              "test": [utf8_tokens(t) for t in IMDB_TEST]}
    _check_binarized(out, tokens, {"train": [0, 0, 1], "valid": [0, 1], "test": [0, 1]})
    assert read_lines(out / "tokens" / "train.src")[1].split()[-2:] == ["195", "169"]  # UTF-8 bytes of é


def test_imdb_from_jsonl_matches_aclimdb_and_truncates(tmp_path):
    reviews = {"train": [(0, "Bad.<br />"), (0, "Awful \u00e9\n"), (1, "  Good!\n")],
               "test": [(0, "Meh"), (1, "Fine film")]}
    source = tmp_path / "imdb_jsonl"
    source.mkdir()
    for split, rows in reviews.items():
        with gzip.open(source / f"{split}.jsonl.gz", "wt", encoding="utf-8") as handle:
            for number, (label, text) in enumerate(rows):
                handle.write(json.dumps({"id": number, "rating": 1, "label": label, "text": text}) + "\n")
    prepare.main(["imdb", str(source), str(tmp_path / "a"), "--keep-tokens"])
    prepare.main(["imdb", str(FORMATS / "aclImdb"), str(tmp_path / "b"), "--keep-tokens"])
    for split in ("train", "valid", "test"):
        for kind in ("src", "label"):
            name = f"tokens/{split}.{kind}"
            assert read_lines(tmp_path / "a" / name) == read_lines(tmp_path / "b" / name)
    prepare.main(["imdb", str(source), str(tmp_path / "c"), "--keep-tokens", "--max-length", "4"])
    assert read_lines(tmp_path / "c" / "tokens" / "train.src") == [" ".join(utf8_tokens(t[:4])) for t in IMDB_TRAIN]


def test_aan_pairs_keep_raw_field_bytes_and_share_one_dictionary(tmp_path):
    out = tmp_path / "aan"
    prepare.main(["aan", str(FORMATS / "tsv_data"), str(out), "--keep-tokens"])
    first = {"train": [b"b'Mega: moving average'", "caf\u00e9".encode(), b'"quoted'], "valid": [b"ab"],
             "test": [b"q"]}
    second = {"train": [b"b'gated \"attention\"'", b"x", b"z"], "valid": [b"cd"], "test": [b""]}
    labels = {"train": [1, 0, 1], "valid": [0], "test": [1]}
    first = {s: [utf8_tokens(t) for t in docs] for s, docs in first.items()}
    second = {s: [utf8_tokens(t) for t in docs] for s, docs in second.items()}
    vocabulary = {t for line in first["train"] + second["train"] for t in line}
    _check_binarized(out, first, labels, vocabulary=vocabulary)
    _check_binarized(out, second, labels, "src1-bin", vocabulary=vocabulary)
    assert (out / "src1-bin" / "dict.txt").read_text() == (out / "src-bin" / "dict.txt").read_text()
    # one dictionary built from both training documents: "x" only occurs in the second one
    assert str(ord("x")) in [line.split()[0] for line in read_lines(out / "src-bin" / "dict.txt")]


def test_tokens_folder_is_removed_unless_kept(tmp_path):
    prepare.main(["listops", str(FORMATS / "listops-1000"), str(tmp_path)])
    assert not (tmp_path / "tokens").exists() and (tmp_path / "src-bin" / "train.bin").exists()


@pytest.mark.parametrize("task, remove, named", [
    ("listops", "listops-1000/basic_val.tsv", "basic_val.tsv"),
    ("aan", "tsv_data/new_aan_pairs.eval.tsv", "new_aan_pairs.eval.tsv"),
    ("imdb", "aclImdb/test/pos", "test/pos"),
])
def test_missing_release_parts_are_named(tmp_path, capsys, task, remove, named):
    folder = remove.split("/")[0]
    shutil.copytree(FORMATS / folder, tmp_path / folder)
    target = tmp_path / remove
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(SystemExit) as exit_info:
        prepare.main([task, str(tmp_path / folder), str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match=named.replace("/", ".")):
        prepare.prepare(task, tmp_path / folder, tmp_path / "out")


def test_missing_source_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        prepare.prepare("listops", tmp_path / "nowhere", tmp_path / "out")


def test_malformed_rows_are_reported_with_file_and_line(tmp_path):
    shutil.copytree(FORMATS / "tsv_data", tmp_path / "tsv")
    with open(tmp_path / "tsv" / "new_aan_pairs.test.tsv", "ab") as handle:
        handle.write(b"1\tonly\tfour\tcolumns\n")
    with pytest.raises(ValueError, match=r"new_aan_pairs.test.tsv:2: expected 5"):
        prepare.prepare("aan", tmp_path / "tsv", tmp_path / "out")
    shutil.copytree(FORMATS / "listops-1000", tmp_path / "listops")
    (tmp_path / "listops" / "basic_test.tsv").write_text("Input\tLabel\n[MAX 1 ]\t1\n")
    with pytest.raises(ValueError, match="Source<TAB>Target"):
        prepare.prepare("listops", tmp_path / "listops", tmp_path / "out2")
    (tmp_path / "listops" / "basic_test.tsv").write_text("Source\tTarget\n[MAX 1 ]\t12\n")
    with pytest.raises(ValueError, match="label 12 outside 0..9"):
        prepare.prepare("listops", tmp_path / "listops", tmp_path / "out3")
