"""Prepare Long Range Arena data in the layout of the ``lra-text`` / ``lra-image`` tasks (the original Mega layout).

    python examples/lra/prepare.py listops    SOURCE OUT   # lra_release/listops-1000 (basic_*.tsv[.gz])
    python examples/lra/prepare.py imdb       SOURCE OUT   # aclImdb/ or a folder of {train,test}.jsonl.gz
    python examples/lra/prepare.py aan        SOURCE OUT   # lra_release/tsv_data (new_aan_pairs.*.tsv)
    python examples/lra/prepare.py cifar10    SOURCE OUT   # cifar-10-batches-py/, or JPEG class folders / tar.gz
    python examples/lra/prepare.py pathfinder SOURCE OUT   # lra_release/pathfinder32, or {train,val,test}.npz
    python examples/lra/prepare.py pathx      SOURCE OUT   # lra_release/pathfinder128

SOURCE may also be the ``lra_release`` folder itself for listops, aan, pathfinder and pathx.
Text tasks write ``OUT/{src,src1,label}-bin`` (fairseq-preprocess; ``src1`` only for AAN); image tasks write
``OUT/input/{split}.src`` and ``OUT/label/{split}.label``. Every task writes ``OUT/summary.json`` (split sizes,
label counts). ``--limit N`` keeps the first N examples of each source split, for quick runs.
Details of each format: ``lra_text_sources.py``, ``lra_image_sources.py``, ``lra_binarize.py``, ``lra_pixels.py``.
"""

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import lra_image_sources  # noqa: E402
import lra_text_sources  # noqa: E402
from lra_binarize import write_text_task  # noqa: E402
from lra_pixels import write_image_task  # noqa: E402

# text task -> (reader, number of classes, documents per example, default max tokens per document)
TEXT_TASKS = {
    "listops": (lra_text_sources.listops_splits, 10, 1, 2000),
    "imdb": (lra_text_sources.imdb_splits, 2, 1, 4000),
    "aan": (lra_text_sources.aan_splits, 2, 2, 4000),
}
IMAGE_RESOLUTIONS = {"pathfinder": 32, "pathx": 128}


def prepare_text(task: str, source: pathlib.Path, out: pathlib.Path, max_length=None, limit=None, workers=1,
                 keep_tokens=False, dictionary=None) -> dict:
    reader, num_classes, documents, default_length = TEXT_TASKS[task]
    splits = reader(source, max_length or default_length, limit)
    summary = write_text_task(out, splits, num_classes, documents, workers, keep_tokens, dictionary)
    summary["max_length"] = max_length or default_length
    return summary


def prepare_cifar10(source: pathlib.Path, out: pathlib.Path, seed=42, valid_fraction=0.1, limit=None) -> dict:
    splits = lra_image_sources.cifar10_splits(source, seed, valid_fraction, limit)
    return dict(write_image_task(out, splits, 10), seed=seed)


def prepare_pathfinder(source: pathlib.Path, out: pathlib.Path, resolution=32, difficulty="curv_contour_length_14",
                       seed=42, limit=None) -> dict:
    splits = lra_image_sources.pathfinder_splits(source, resolution, difficulty, seed, limit)
    return dict(write_image_task(out, splits, 2), seed=seed, difficulty=difficulty)


def prepare(task: str, source: pathlib.Path, out: pathlib.Path, **options) -> dict:
    """Prepare ``task`` from ``source`` into ``out``; writes and returns the summary."""
    if task in TEXT_TASKS:
        summary = prepare_text(task, source, out, **options)
    elif task == "cifar10":
        summary = prepare_cifar10(source, out, **options)
    elif task in IMAGE_RESOLUTIONS:
        options.setdefault("resolution", IMAGE_RESOLUTIONS[task])
        summary = prepare_pathfinder(source, out, **options)
    else:
        raise ValueError(f"unknown task {task!r}")
    summary = dict(task=task, source=str(source), **summary)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    tasks = parser.add_subparsers(dest="task", required=True)
    for task in (*TEXT_TASKS, "cifar10", *IMAGE_RESOLUTIONS):
        sub = tasks.add_parser(task)
        sub.add_argument("source", type=pathlib.Path, help="folder of the source data")
        sub.add_argument("out", type=pathlib.Path, help="output data folder (DATA of the recipes)")
        sub.add_argument("--limit", type=int, default=None, help="first N examples of each source split")
        if task in TEXT_TASKS:
            sub.add_argument("--max-length", type=int, default=None,
                             help=f"tokens kept per document (default {TEXT_TASKS[task][3]})")
            sub.add_argument("--workers", type=int, default=1, help="fairseq-preprocess workers")
            sub.add_argument("--keep-tokens", action="store_true", help="keep OUT/tokens (plain token files)")
            sub.add_argument("--dictionary", type=pathlib.Path, default=None,
                             help="token dict.txt to reuse (e.g. DATA/src-bin/dict.txt of another prepared folder) "
                                  "instead of building one from the training split")
        else:
            sub.add_argument("--seed", type=int, default=42, help="split seed (original: 42)")
        if task == "cifar10":
            sub.add_argument("--valid-fraction", type=float, default=0.1)
        if task in IMAGE_RESOLUTIONS:
            sub.add_argument("--resolution", type=int, default=IMAGE_RESOLUTIONS[task])
            sub.add_argument("--difficulty", default="curv_contour_length_14",
                             choices=lra_image_sources.PATHFINDER_DIFFICULTIES)
    return parser


def main(argv=None) -> dict:
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    task, source, out = args.pop("task"), args.pop("source"), args.pop("out")
    try:
        summary = prepare(task, source, out, **args)
    except (FileNotFoundError, ValueError, ImportError) as error:
        parser.exit(2, f"prepare.py {task}: error: {error}\n")
    print(f"prepared {task} in {out}: " + ", ".join(f"{k} {v}" for k, v in summary["examples"].items()))
    return summary


if __name__ == "__main__":
    main()
