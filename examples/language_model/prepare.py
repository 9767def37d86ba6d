"""Write the text splits of the language-model examples (one token per space, one fairseq line per line).

    python prepare.py wikitext2 DATA_DIR OUT_DIR [--limit LINES] [--heldout 0.05]
    python prepare.py shakespeare DATA_DIR OUT_DIR [--limit CHARS] [--train-fraction 0.9]

wikitext2 (word level; DATA_DIR holds valid.txt.gz and test.txt.gz of WikiText-2 v1, there is no train split):
train = the first lines of WikiText-2 valid, valid = its last ``--heldout`` fraction of lines (rounded), test =
WikiText-2 test. Lines are copied unchanged; fairseq-preprocess adds one end-of-line token per line, which is the
usual WikiText token count (words + one ``<eos>`` per line).

shakespeare (character level; DATA_DIR holds input.txt.gz of tiny Shakespeare): the first ``--train-fraction`` of
the characters is train, the rest is cut in two halves, valid then test. Each split is written as ONE line of
space-separated characters, with a space shown as ``▁`` and a newline as ``¶``, so every character is one token
and fairseq adds a single end token per split.

``python prepare.py encode-chars TEXT`` prints TEXT the way the Shakespeare splits are written (for a prompt).

``--limit`` keeps only the first N lines (wikitext2, of valid and of test each) or characters (shakespeare) for
quick runs. OUT_DIR/splits.json records the sizes: lines, tokens (words or characters) per split.
"""

import argparse
import gzip
import json
import pathlib

SPACE, NEWLINE = "\u2581", "\u00b6"  # ▁ and ¶: visible stand-ins, never in the Shakespeare text


def read_gz(path: pathlib.Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"missing data file {path}")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return handle.read()


def first_lines(text: str, limit: int) -> list:
    lines = text.splitlines()
    return lines[:limit] if limit > 0 else lines


def heldout_cut(num_lines: int, fraction: float) -> int:
    """Index of the first held-out line: the last round(fraction * num_lines) lines (at least one) are held out."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"--heldout must be in (0, 1), got {fraction}")
    held = max(1, round(fraction * num_lines))
    if held >= num_lines:
        raise ValueError(f"{num_lines} lines are too few to hold out {fraction:.0%} and keep some for training")
    return num_lines - held


def wikitext2_splits(data_dir: pathlib.Path, limit: int, heldout: float) -> dict:
    """Split name -> list of lines."""
    source = first_lines(read_gz(data_dir / "valid.txt.gz"), limit)
    cut = heldout_cut(len(source), heldout)
    return {"train": source[:cut], "valid": source[cut:], "test": first_lines(read_gz(data_dir / "test.txt.gz"), limit)}


def char_cuts(num_chars: int, train_fraction: float) -> tuple:
    """(end of train, end of valid): train = [0, a), valid = [a, b), test = [b, num_chars)."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"--train-fraction must be in (0, 1), got {train_fraction}")
    train_end = int(num_chars * train_fraction)
    valid_end = train_end + (num_chars - train_end) // 2
    if not 0 < train_end < valid_end < num_chars:
        raise ValueError(f"{num_chars} characters are too few for three non-empty splits")
    return train_end, valid_end


def char_line(text: str) -> str:
    """'To be,\\nor' -> 'T o ▁ b e , ¶ o r'."""
    if SPACE in text or NEWLINE in text:
        raise ValueError(f"the text already holds {SPACE!r} or {NEWLINE!r}, which stand for space and newline")
    other = sorted({ch for ch in text if ch.isspace() and ch not in " \n"})
    if other:
        raise ValueError(f"whitespace other than space and newline cannot be a token: {other!r}")
    return " ".join(NEWLINE if ch == "\n" else SPACE if ch == " " else ch for ch in text)


def char_text(line: str) -> str:
    """The inverse of char_line: 'T o ▁ b e' -> 'To be' (other tokens, e.g. '</s>', are kept as they are)."""
    return "".join("\n" if tok == NEWLINE else " " if tok == SPACE else tok for tok in line.split())


def shakespeare_splits(data_dir: pathlib.Path, limit: int, train_fraction: float) -> dict:
    text = read_gz(data_dir / "input.txt.gz")
    if limit > 0:
        text = text[:limit]
    train_end, valid_end = char_cuts(len(text), train_fraction)
    pieces = {"train": text[:train_end], "valid": text[train_end:valid_end], "test": text[valid_end:]}
    return {name: [char_line(piece)] for name, piece in pieces.items()}


def write_splits(splits: dict, out_dir: pathlib.Path, unit: str) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name, lines in splits.items():
        (out_dir / f"{name}.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        sizes[name] = {"lines": len(lines), unit: sum(len(line.split()) for line in lines)}
    (out_dir / "splits.json").write_text(json.dumps(sizes, indent=1) + "\n", encoding="utf-8")
    return sizes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="dataset", required=True)
    wiki = sub.add_parser("wikitext2", help="word-level WikiText-2 (train on valid, test on test)")
    wiki.add_argument("--heldout", type=float, default=0.05, help="fraction of valid lines held out for validation")
    chars = sub.add_parser("shakespeare", help="character-level tiny Shakespeare")
    chars.add_argument("--train-fraction", type=float, default=0.9)
    for command in (wiki, chars):
        command.add_argument("data_dir", type=pathlib.Path)
        command.add_argument("out_dir", type=pathlib.Path)
        command.add_argument("--limit", type=int, default=0, help="keep only the first N lines/characters (0: all)")
    encode = sub.add_parser("encode-chars", help="print TEXT as space-separated characters (a prompt)")
    encode.add_argument("text")
    args = parser.parse_args(argv)
    if args.dataset == "encode-chars":
        print(char_line(args.text))
        return
    if args.dataset == "wikitext2":
        sizes = write_splits(wikitext2_splits(args.data_dir, args.limit, args.heldout), args.out_dir, "words")
    else:
        sizes = write_splits(shakespeare_splits(args.data_dir, args.limit, args.train_fraction), args.out_dir,
                             "chars")
    for name, size in sizes.items():
        print(name, " ".join(f"{key}={value}" for key, value in size.items()))


if __name__ == "__main__":
    main()
