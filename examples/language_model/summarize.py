"""Side-by-side table of the two trained language models, from their checkpoints and logs.

    python summarize.py DATASET WORK [--long L]    (DATASET: wikitext2 | shakespeare; needs mega_plugin importable)

Reads WORK/{mega,transformer}/: checkpoints/checkpoint_{best,last}.pt (parameter count of the loaded model, with
tied embeddings counted once; updates; the validation loss the best checkpoint was chosen by), train_seconds,
eval_test.log / eval_mega.log / eval_long.log ("Loss (base 2)" lines) and sample.log (the sampled text, if any).
Every loss is in bits per token; perplexity is 2 ** loss, bits per character (Shakespeare, one token per
character) is the loss itself. Prints a Markdown table and the samples, and writes the numbers to WORK/results.json.
"""

import argparse
import json
import logging
import pathlib
import re
import sys

import torch
from fairseq import checkpoint_utils

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import prepare  # noqa: E402

import mega_plugin  # noqa: E402,F401  (registers mega_lm and linear_decay)

MODELS = ("mega", "transformer")
LOSS = re.compile(r"Loss \(base 2\): ([0-9.]+)")


def read_loss(log: pathlib.Path):
    """The last 'Loss (base 2)' of an eval log, or None when the log does not exist."""
    if not log.is_file():
        return None
    found = LOSS.findall(log.read_text(encoding="utf-8"))
    if not found:
        raise ValueError(f"no 'Loss (base 2)' line in {log}")
    return float(found[-1])


def read_sample(log: pathlib.Path) -> str:
    """The hypothesis tokens of fairseq-interactive's first output line (H-0)."""
    for line in log.read_text(encoding="utf-8").splitlines():
        if line.startswith("H-0\t"):
            return line.split("\t")[2]
    raise ValueError(f"no H-0 line in {log}")


def count_parameters(model: torch.nn.Module) -> int:
    """Trainable parameters, each shared tensor once (model.parameters() skips repeats)."""
    return sum(p.numel() for p in model.parameters())


def model_summary(work: pathlib.Path, name: str) -> dict:
    folder = work / name
    best_path = folder / "checkpoints" / "checkpoint_best.pt"
    models, cfg = checkpoint_utils.load_model_ensemble([str(best_path)],
                                                       arg_overrides={"data": str(work / "data-bin")})
    best = checkpoint_utils.load_checkpoint_to_cpu(str(best_path))
    last = checkpoint_utils.load_checkpoint_to_cpu(str(folder / "checkpoints" / "checkpoint_last.pt"))
    return {
        "arch": cfg.model._name if hasattr(cfg.model, "_name") else cfg.model.arch,
        "parameters": count_parameters(models[0]),
        "updates_best": best["optimizer_history"][-1]["num_updates"],
        "updates": last["optimizer_history"][-1]["num_updates"],
        "train_seconds": float((folder / "train_seconds").read_text()),
        "valid_loss": float(best["extra_state"]["val_loss"]),
        "test_loss": read_loss(folder / "eval_test.log"),
        "test_loss_mega_eval": read_loss(folder / "eval_mega.log"),
        "test_loss_long": read_loss(folder / "eval_long.log"),
        "sample": read_sample(folder / "sample.log") if (folder / "sample.log").is_file() else None,
    }


def metric(loss, unit: str) -> str:
    if loss is None:
        return "-"
    return f"{2 ** loss:.2f}" if unit == "ppl" else f"{loss:.3f}"


def table(results: dict, unit: str, tokens: int, long: int) -> str:
    header = ["model", "parameters", "updates", "train time", f"valid {unit}",
              f"test {unit}, fairseq-eval-lm ({tokens})", f"test {unit}, mega-eval-lm ({tokens})",
              f"test {unit}, blocks of {long}"]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in results.items():
        updates = str(row["updates"]) if row["updates_best"] == row["updates"] else \
            f"{row['updates_best']} (best) of {row['updates']}"
        cells = [f"{name} ({row['arch']})", f"{row['parameters']:,}", updates, f"{row['train_seconds']:.0f} s",
                 metric(row["valid_loss"], unit), metric(row["test_loss"], unit),
                 metric(row["test_loss_mega_eval"], unit), metric(row["test_loss_long"], unit)]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv=None):
    logging.getLogger("fairseq").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=["wikitext2", "shakespeare"])
    parser.add_argument("work", type=pathlib.Path)
    parser.add_argument("--long", type=int, default=0,
                        help="block size of eval_long.log (default: 4 * the training block size)")
    args = parser.parse_args(argv)
    unit = "ppl" if args.dataset == "wikitext2" else "bpc"
    results = {name: model_summary(args.work, name) for name in MODELS}
    tokens = checkpoint_utils.load_checkpoint_to_cpu(
        str(args.work / "mega" / "checkpoints" / "checkpoint_best.pt"))["cfg"]["task"]["tokens_per_sample"]
    long = args.long or 4 * tokens
    text = table(results, unit, tokens, long)
    print(text)
    for name, row in results.items():
        if row["sample"] is None:
            continue
        sample = prepare.char_text(row["sample"]) if args.dataset == "shakespeare" else row["sample"]
        print(f"\nsample ({name}):\n{sample}")
    summary = {"dataset": args.dataset, "unit": unit, "tokens_per_sample": tokens, "long_tokens": long,
               "splits": json.loads((args.work / "text" / "splits.json").read_text()), "models": results,
               "table": text}
    (args.work / "results.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n",
                                            encoding="utf-8")


if __name__ == "__main__":
    main()
