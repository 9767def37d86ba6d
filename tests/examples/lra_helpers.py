"""Shared pieces of the LRA example tests: paths, module import, reading back binarized and image outputs."""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
LRA_DIR = ROOT / "examples" / "lra"
FORMATS = ROOT / "tests" / "fixtures" / "lra_formats"
SHARED_DATA = ROOT.parent / "shared" / "data"  # real datasets next to the checkout, when present
if str(LRA_DIR) not in sys.path:
    sys.path.insert(0, str(LRA_DIR))


def read_binarized(folder: pathlib.Path, split: str, dictionary_folder: pathlib.Path = None):
    """Token strings of every line of a fairseq-binarized split, checking the trailing ``</s>``."""
    from fairseq.data import Dictionary, data_utils

    dictionary = Dictionary.load(str((dictionary_folder or folder) / "dict.txt"))
    dataset = data_utils.load_indexed_dataset(str(folder / split), dictionary)
    assert dataset is not None, f"no binarized split {folder / split}"
    lines = []
    for index in range(len(dataset)):
        ids = dataset[index].tolist()
        assert ids[-1] == dictionary.eos()
        lines.append([dictionary[i] for i in ids[:-1]])
    return lines, dictionary


def read_labels_binarized(folder: pathlib.Path, split: str):
    """Class indices as the lra-text task computes them: label-dictionary index - number of specials."""
    lines, dictionary = read_binarized(folder, split)
    ids = [dictionary.index(tokens[0]) - dictionary.nspecial for tokens in lines]
    assert all(len(tokens) == 1 for tokens in lines)
    return ids


def read_lines(path: pathlib.Path):
    return path.read_text().splitlines()


def read_pixels(out: pathlib.Path, split: str):
    """(images as lists of ints, labels) of an lra-image data folder."""
    images = [[int(v) for v in line.split()] for line in read_lines(out / "input" / f"{split}.src")]
    labels = [int(v) for v in read_lines(out / "label" / f"{split}.label")]
    return images, labels


def utf8_tokens(text) -> list:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return [str(b) for b in data]
