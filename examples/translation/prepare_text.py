"""Multi30k En-De as text for fairseq-preprocess: plain splits, then one joint SentencePiece BPE over both languages.

    python prepare_text.py DATA WORK [--train-lines N] [--eval-lines N] [--vocab-size 8000]

DATA is the Multi30k folder with ``raw/{train,val,test_2016_flickr}.{en,de}.gz``. Writes
- ``WORK/text/{train,valid,test}.{en,de}``: UTF-8, one sentence a line, original case and punctuation. ``--train-lines``
  keeps the first N training pairs and ``--eval-lines`` the first N pairs of valid and test (0, the default: all).
  The German test file is the reference BLEU is computed against.
- ``WORK/spm/spm.{model,vocab}``: joint BPE learned on train.en + train.de, and ``WORK/spm/{split}.{lang}``: the same
  six files as space-separated pieces (``▁`` marks a word start). Decoding a hypothesis joins the pieces and turns
  ``▁`` back into spaces (``fairseq-generate --post-process sentencepiece``); SentencePiece folds runs of spaces.
"""

import argparse
import gzip
import pathlib

import sentencepiece

SPLITS = {"train": "train", "valid": "val", "test": "test_2016_flickr"}  # our name -> Multi30k file stem
LANGUAGES = ("en", "de")


def read_gzip_lines(path: pathlib.Path) -> list:
    if not path.is_file():
        raise FileNotFoundError(f"missing Multi30k file {path}")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return handle.read().splitlines()


def extract(data: pathlib.Path, out: pathlib.Path, train_lines: int = 0, eval_lines: int = 0) -> dict:
    """Write every split's head to OUT; returns {split: number of sentence pairs written}."""
    if train_lines < 0 or eval_lines < 0:
        raise ValueError(f"line limits must be >= 0 (0 = all), got {train_lines} and {eval_lines}")
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split, stem in SPLITS.items():
        limit = train_lines if split == "train" else eval_lines
        sides = {lang: read_gzip_lines(data / "raw" / f"{stem}.{lang}.gz") for lang in LANGUAGES}
        if len(sides["en"]) != len(sides["de"]):
            raise ValueError(f"{stem}: {len(sides['en'])} English but {len(sides['de'])} German lines")
        for lang, lines in sides.items():
            kept = lines[:limit] if limit else lines
            if any(not line.strip() for line in kept):
                raise ValueError(f"{stem}.{lang}: empty line in the data")
            (out / f"{split}.{lang}").write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        counts[split] = len(kept)
    return counts


def train_model(text: pathlib.Path, out: pathlib.Path, vocab_size: int) -> pathlib.Path:
    """Joint BPE on train.en + train.de; returns the path of the model file."""
    if vocab_size < 10:
        raise ValueError(f"--vocab-size must be at least 10, got {vocab_size}")
    inputs = [text / f"train.{lang}" for lang in LANGUAGES]
    for path in inputs:
        if not path.is_file():
            raise FileNotFoundError(f"missing training text {path} (extract the splits first)")
    out.mkdir(parents=True, exist_ok=True)
    sentencepiece.SentencePieceTrainer.train(
        input=[str(path) for path in inputs],
        model_prefix=str(out / "spm"),
        model_type="bpe",
        vocab_size=vocab_size,
        character_coverage=1.0,  # keep every character of the (small) corpus: umlauts, accents, ß
        bos_id=-1, eos_id=-1,  # fairseq adds its own </s>; only <unk> is reserved
        num_threads=1,
        minloglevel=2,
    )
    return out / "spm.model"


def encode_splits(model: pathlib.Path, text: pathlib.Path, out: pathlib.Path) -> dict:
    """Write OUT/{split}.{lang} as pieces; returns {file name: number of lines}."""
    processor = sentencepiece.SentencePieceProcessor(model_file=str(model))
    counts = {}
    for split in SPLITS:
        for lang in LANGUAGES:
            lines = (text / f"{split}.{lang}").read_text(encoding="utf-8").splitlines()
            pieces = processor.encode(lines, out_type=str)
            (out / f"{split}.{lang}").write_text("".join(" ".join(p) + "\n" for p in pieces), encoding="utf-8")
            counts[f"{split}.{lang}"] = len(lines)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=pathlib.Path, help="Multi30k folder (with raw/)")
    parser.add_argument("work", type=pathlib.Path, help="work folder: receives text/ and spm/")
    parser.add_argument("--train-lines", type=int, default=0, help="keep the first N training pairs (0: all)")
    parser.add_argument("--eval-lines", type=int, default=0, help="keep the first N valid/test pairs (0: all)")
    parser.add_argument("--vocab-size", type=int, default=8000, help="joint BPE vocabulary size")
    args = parser.parse_args()
    text, pieces = args.work / "text", args.work / "spm"
    counts = extract(args.data, text, args.train_lines, args.eval_lines)
    print(" ".join(f"{split}={count}" for split, count in counts.items()))
    encode_splits(train_model(text, pieces, args.vocab_size), text, pieces)


if __name__ == "__main__":
    main()
