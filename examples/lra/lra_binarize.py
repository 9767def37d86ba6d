"""Write an ``lra-text`` data folder: plain token files, dictionaries, then ``fairseq-preprocess --only-source``.

Layout produced (what ``--task lra-text`` reads)::

    OUT/src-bin/{dict.txt, train,valid,test .bin/.idx}     first document
    OUT/src1-bin/{dict.txt, ...}                           second document (two-document tasks: AAN), src dictionary
    OUT/label-bin/{dict.txt, ...}                          class labels
    OUT/tokens/{split}.src, .src1, .label                  the plain token files (removed unless keep_tokens)

Token dictionary: every token of the training documents (both documents for AAN), most frequent first, ties in
string order (or a given ``dict.txt``), written as fairseq ``dict.txt`` and passed to fairseq-preprocess with ``--srcdict`` (so ``src`` and
``src1`` share it). Label dictionary: the classes ``0 .. num_classes-1`` in numeric order, so the task's class
index (label-dictionary index - 4 specials) equals the label. fairseq-preprocess appends ``</s>`` to every line.
"""

import collections
import logging
import pathlib
import shutil
from typing import Dict, Iterable, List, Sequence, Tuple

SPLITS = ("train", "valid", "test")
DOCUMENT_SUFFIXES = ("src", "src1")

# one example: (class label, one token list per document)
TextExample = Tuple[int, Sequence[Sequence[str]]]


def write_token_files(tokens_dir: pathlib.Path, splits: Dict[str, Iterable[TextExample]], num_documents: int,
                      num_classes: int):
    """Write ``{split}.src[1]`` / ``{split}.label`` lines; returns (training token counts, label counts per split)."""
    tokens_dir.mkdir(parents=True, exist_ok=True)
    token_counts = collections.Counter()
    label_counts = {}
    for split, examples in splits.items():
        documents = [open(tokens_dir / f"{split}.{DOCUMENT_SUFFIXES[i]}", "w", encoding="utf-8")
                     for i in range(num_documents)]
        labels = collections.Counter()
        with open(tokens_dir / f"{split}.label", "w", encoding="utf-8") as label_file:
            for number, (label, docs) in enumerate(examples, 1):
                if len(docs) != num_documents:
                    raise ValueError(f"{split} example {number}: {len(docs)} documents, expected {num_documents}")
                if not 0 <= label < num_classes:
                    raise ValueError(f"{split} example {number}: label {label} outside 0..{num_classes - 1}")
                for handle, tokens in zip(documents, docs):
                    _check_tokens(tokens, split, number)
                    handle.write(" ".join(tokens) + "\n")
                    if split == "train":
                        token_counts.update(tokens)
                label_file.write(f"{label}\n")
                labels[label] += 1
        for handle in documents:
            handle.close()
        label_counts[split] = [labels[c] for c in range(num_classes)]
    return token_counts, label_counts


def _check_tokens(tokens: Sequence[str], split: str, number: int) -> None:
    for token in tokens:
        if not token or any(c.isspace() for c in token):
            raise ValueError(f"{split} example {number}: token {token!r} is empty or contains white space")


def write_dictionary(path: pathlib.Path, counts: List[Tuple[str, int]]) -> None:
    """A fairseq ``dict.txt``: one ``symbol count`` line per entry, in the given order."""
    with open(path, "w", encoding="utf-8") as handle:
        for symbol, count in counts:
            handle.write(f"{symbol} {count}\n")


def token_dictionary_entries(token_counts: collections.Counter) -> List[Tuple[str, int]]:
    return sorted(token_counts.items(), key=lambda item: (-item[1], item[0]))


def run_preprocess(tokens_dir: pathlib.Path, suffix: str, dictionary: pathlib.Path, dest: pathlib.Path,
                   workers: int = 1) -> None:
    """``fairseq-preprocess --only-source`` of ``tokens_dir/{train,valid,test}.suffix`` into ``dest``.

    Runs fairseq's preprocessing entry point in this process (one fairseq import for all the calls).
    """
    from fairseq import options
    from fairseq_cli import preprocess

    argv = ["--only-source", "--srcdict", str(dictionary), "--destdir", str(dest), "--workers", str(workers),
            "--dataset-impl", "mmap"]
    for split, flag in zip(SPLITS, ("--trainpref", "--validpref", "--testpref")):
        argv += [flag, str(tokens_dir / f"{split}.{suffix}")]
    args = options.get_preprocessing_parser().parse_args(argv)
    logger = logging.getLogger("fairseq_cli.preprocess")
    handlers = list(logger.handlers)
    try:
        preprocess.main(args)
    except Exception as error:
        raise RuntimeError(f"fairseq-preprocess failed for the {suffix} files in {tokens_dir}: {error}") from error
    finally:  # fairseq adds a log file handler per call
        for handler in [h for h in logger.handlers if h not in handlers]:
            logger.removeHandler(handler)
            handler.close()


def read_dictionary(path: pathlib.Path) -> List[Tuple[str, int]]:
    """The ``(symbol, count)`` entries of a fairseq ``dict.txt``."""
    if not path.is_file():
        raise FileNotFoundError(f"no dictionary file {path}")
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if len(fields) != 2 or not fields[1].isdigit():
            raise ValueError(f"{path}:{number}: expected 'symbol count', got {line!r}")
        entries.append((fields[0], int(fields[1])))
    return entries


def write_text_task(out: pathlib.Path, splits: Dict[str, Iterable[TextExample]], num_classes: int,
                    num_documents: int = 1, workers: int = 1, keep_tokens: bool = False,
                    dictionary: pathlib.Path = None) -> dict:
    """Tokens -> dictionaries -> binarized ``src-bin`` / ``src1-bin`` / ``label-bin``; returns a summary dict.

    ``dictionary``: an existing token ``dict.txt`` to use instead of one built from the training split (so that a
    model trained on other data prepared here reads the same token ids); it must hold every training token.
    """
    if set(splits) != set(SPLITS):
        raise ValueError(f"need exactly the splits {SPLITS}, got {sorted(splits)}")
    tokens_dir = out / "tokens"
    token_counts, label_counts = write_token_files(tokens_dir, splits, num_documents, num_classes)
    if not token_counts:
        raise ValueError("the training split has no tokens")
    if dictionary is None:
        entries = token_dictionary_entries(token_counts)
    else:
        entries = read_dictionary(dictionary)
        missing = sorted(set(token_counts) - {symbol for symbol, _ in entries})
        if missing:
            raise ValueError(f"{dictionary} lacks training tokens {missing[:10]}"
                             f"{' ...' if len(missing) > 10 else ''}")
    write_dictionary(tokens_dir / "dict.txt", entries)
    write_dictionary(tokens_dir / "dict.label.txt", [(str(c), label_counts["train"][c]) for c in range(num_classes)])
    for index in range(num_documents):
        suffix = DOCUMENT_SUFFIXES[index]
        run_preprocess(tokens_dir, suffix, tokens_dir / "dict.txt", out / f"{suffix}-bin", workers)
    run_preprocess(tokens_dir, "label", tokens_dir / "dict.label.txt", out / "label-bin", workers)
    if not keep_tokens:
        shutil.rmtree(tokens_dir)
    return {"examples": {split: sum(counts) for split, counts in label_counts.items()},
            "label_counts": label_counts, "vocabulary": len(token_counts), "documents": num_documents}
