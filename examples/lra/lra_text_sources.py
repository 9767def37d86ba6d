"""Readers of the text tasks of Long Range Arena: ListOps, IMDB (byte level) and AAN retrieval (byte level).

Each reader yields ``(label, [tokens of document 1, (tokens of document 2)])`` lazily, one split at a time.

* ListOps: ``basic_{train,val,test}.tsv`` (optionally ``.gz``), header ``Source<TAB>Target``. Tokens are the
  ``Source`` tokens without the ``(`` / ``)`` of the written form, cut to ``max_length`` (2000; official sequences
  are 501..1999 tokens long).
* IMDB: an ``aclImdb`` folder (``{train,test}/{neg,pos}/<id>_<rating>.txt``) or ``{train,test}.jsonl.gz`` with
  ``label`` and ``text``. As TFDS ``imdb_reviews`` (what LRA loads), the review bytes are stripped of surrounding
  ASCII white space; labels neg = 0, pos = 1. One token per UTF-8 byte, written as its decimal value, cut to
  ``max_length`` (4000). LRA has no validation split: it validates on the test set, so valid = test here too.
* AAN: ``new_aan_pairs.{train,eval,test}.tsv``, no header, columns ``label id1 id2 text1 text2`` split on tabs
  without quote handling (LRA reads them with ``use_quote_delim=False``); each text field's raw bytes are the
  tokens (decimal byte values), cut to ``max_length`` (4000); the label is a number (``1`` or ``1.0``).
"""

import csv
import gzip
import itertools
import json
import pathlib
import re
import sys
from typing import Iterator, List, Optional, Tuple

from listops_generator import model_tokens

csv.field_size_limit(sys.maxsize)
BYTE_TOKENS = tuple(str(value) for value in range(256))
LISTOPS_FILES = {"train": "basic_train.tsv", "valid": "basic_val.tsv", "test": "basic_test.tsv"}
AAN_FILES = {"train": "new_aan_pairs.train.tsv", "valid": "new_aan_pairs.eval.tsv", "test": "new_aan_pairs.test.tsv"}
Example = Tuple[int, List[List[str]]]


def byte_tokens(data: bytes, max_length: int) -> List[str]:
    """One token per byte (its decimal value), at most ``max_length``."""
    return [BYTE_TOKENS[value] for value in data[:max_length]]


def _limited(examples: Iterator[Example], limit: Optional[int]) -> Iterator[Example]:
    return examples if limit is None else itertools.islice(examples, limit)


def find_file(folder: pathlib.Path, name: str, what: str) -> pathlib.Path:
    """``folder/name`` or ``folder/name.gz``; FileNotFoundError naming both if neither exists."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{what} not found: {folder / name} (or {name}.gz)")


def _open_text(path: pathlib.Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def resolve_folder(source: pathlib.Path, probe: str, release_subfolder: str, what: str) -> pathlib.Path:
    """``source`` if it holds ``probe`` (or ``probe.gz``), else ``source/release_subfolder`` (an lra_release root)."""
    if not source.is_dir():
        raise FileNotFoundError(f"{what} folder not found: {source}")
    for folder in (source, source / release_subfolder):
        if (folder / probe).is_file() or (folder / f"{probe}.gz").is_file():
            return folder
    raise FileNotFoundError(f"{what}: {probe} not found in {source} nor in {source / release_subfolder}")


# -- ListOps ---------------------------------------------------------------------------------------------------
def listops_examples(path: pathlib.Path, max_length: int = 2000, limit: Optional[int] = None) -> Iterator[Example]:
    def rows():
        with _open_text(path) as handle:
            reader = csv.reader(handle, delimiter="\t")
            header = next(reader, None)
            if header is None or header[:2] != ["Source", "Target"]:
                raise ValueError(f"{path}: expected the header 'Source<TAB>Target', got {header!r}")
            for line, row in enumerate(reader, 2):
                if len(row) != 2:
                    raise ValueError(f"{path}:{line}: expected 2 tab-separated columns, got {len(row)}")
                yield int(row[1]), [model_tokens(row[0])[:max_length]]

    return _limited(rows(), limit)


def listops_splits(source: pathlib.Path, max_length: int = 2000, limit: Optional[int] = None):
    folder = resolve_folder(source, LISTOPS_FILES["train"], "listops-1000", "ListOps")
    paths = {split: find_file(folder, name, "ListOps split") for split, name in LISTOPS_FILES.items()}
    return {split: listops_examples(path, max_length, limit) for split, path in paths.items()}


# -- IMDB ------------------------------------------------------------------------------------------------------
_REVIEW_NAME = re.compile(r"^(\d+)_(\d+)\.txt$")


def _review_files(folder: pathlib.Path) -> List[pathlib.Path]:
    """``<id>_<rating>.txt`` files in numeric id order."""
    files = [path for path in folder.iterdir() if _REVIEW_NAME.match(path.name)]
    return sorted(files, key=lambda path: tuple(int(g) for g in _REVIEW_NAME.match(path.name).groups()))


def aclimdb_examples(root: pathlib.Path, split: str, max_length: int = 4000,
                     limit: Optional[int] = None) -> Iterator[Example]:
    folders = []
    for label, polarity in enumerate(("neg", "pos")):
        folder = root / split / polarity
        if not folder.is_dir():
            raise FileNotFoundError(f"aclImdb folder not found: {folder}")
        folders.append((label, folder))

    def rows():
        for label, folder in folders:
            for path in _review_files(folder):
                yield label, [byte_tokens(path.read_bytes().strip(), max_length)]

    return _limited(rows(), limit)


def jsonl_examples(path: pathlib.Path, max_length: int = 4000, limit: Optional[int] = None) -> Iterator[Example]:
    def rows():
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line, text in enumerate(handle, 1):
                record = json.loads(text)
                if "label" not in record or "text" not in record:
                    raise ValueError(f"{path}:{line}: a review needs 'label' and 'text'")
                yield int(record["label"]), [byte_tokens(record["text"].encode("utf-8").strip(), max_length)]

    return _limited(rows(), limit)


def imdb_splits(source: pathlib.Path, max_length: int = 4000, limit: Optional[int] = None):
    if not source.is_dir():
        raise FileNotFoundError(f"IMDB folder not found: {source}")
    if (source / "train.jsonl.gz").is_file() or (source / "test.jsonl.gz").is_file():
        paths = {split: source / f"{split}.jsonl.gz" for split in ("train", "test")}
        for path in paths.values():
            if not path.is_file():
                raise FileNotFoundError(f"IMDB reviews not found: {path}")
        read = {split: (lambda p=path: jsonl_examples(p, max_length, limit)) for split, path in paths.items()}
    else:
        root = source / "aclImdb" if (source / "aclImdb").is_dir() else source
        for split in ("train", "test"):
            for polarity in ("neg", "pos"):
                if not (root / split / polarity).is_dir():
                    raise FileNotFoundError(f"aclImdb folder not found: {root / split / polarity} "
                                            f"(expected aclImdb/{{train,test}}/{{neg,pos}} or {{train,test}}.jsonl.gz)")
        read = {split: (lambda s=split: aclimdb_examples(root, s, max_length, limit)) for split in ("train", "test")}
    # LRA validates on the test set (IMDB has no validation split)
    return {"train": read["train"](), "valid": read["test"](), "test": read["test"]()}


# -- AAN retrieval ---------------------------------------------------------------------------------------------
def aan_examples(path: pathlib.Path, max_length: int = 4000, limit: Optional[int] = None) -> Iterator[Example]:
    def rows():
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            for line, raw in enumerate(handle, 1):
                raw = raw.rstrip(b"\r\n")
                if not raw:
                    continue
                fields = raw.split(b"\t")
                if len(fields) != 5:
                    raise ValueError(f"{path}:{line}: expected 5 tab-separated columns "
                                     f"(label, id1, id2, text1, text2), got {len(fields)}")
                try:
                    label = int(float(fields[0]))
                except ValueError:
                    raise ValueError(f"{path}:{line}: label {fields[0][:20]!r} is not a number") from None
                yield label, [byte_tokens(fields[3], max_length), byte_tokens(fields[4], max_length)]

    return _limited(rows(), limit)


def aan_splits(source: pathlib.Path, max_length: int = 4000, limit: Optional[int] = None):
    folder = resolve_folder(source, AAN_FILES["train"], "tsv_data", "AAN")
    paths = {split: find_file(folder, name, "AAN split") for split, name in AAN_FILES.items()}
    return {split: aan_examples(path, max_length, limit) for split, path in paths.items()}
