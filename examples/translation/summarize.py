"""Side-by-side table of the trained models, read back from their checkpoints and BLEU files.

    python summarize.py WORK [MODEL ...]          (default models: mega transformer)

For each MODEL: the model is rebuilt from WORK/MODEL/checkpoints/checkpoint_last.pt and its parameters counted
(shared embeddings once); updates, training time (fairseq's cumulative training clock, validation included) and the
last validation loss (label-smoothed cross-entropy in bits per target token) come from the checkpoint; test BLEU
from WORK/MODEL/bleu.json (generate.sh). Prints a Markdown table and writes WORK/results.json.
"""

import argparse
import json
import logging
import pathlib
from argparse import Namespace

PLUGIN_DIR = pathlib.Path(__file__).resolve().parents[2] / "mega_plugin"
COLUMNS = ("model", "parameters", "updates", "train time (s)", "valid loss", "test BLEU")


def load_checkpoint(checkpoint: pathlib.Path, data_bin: pathlib.Path):
    """(model, checkpoint state) for a translation checkpoint of either model, with the data path overridden."""
    logging.getLogger("fairseq").setLevel(logging.WARNING)  # keep the table output free of loading chatter
    from fairseq import checkpoint_utils, utils

    if not checkpoint.is_file():
        raise FileNotFoundError(f"no checkpoint {checkpoint}")
    utils.import_user_module(Namespace(user_dir=str(PLUGIN_DIR)))
    models, _cfg = checkpoint_utils.load_model_ensemble([str(checkpoint)], arg_overrides={"data": str(data_bin)})
    return models[0], checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint))


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())  # parameters() yields a shared tensor once


def model_row(work: pathlib.Path, name: str) -> dict:
    model, state = load_checkpoint(work / name / "checkpoints" / "checkpoint_last.pt", work / "data-bin")
    bleu_file = work / name / "bleu.json"
    if not bleu_file.is_file():
        raise FileNotFoundError(f"no {bleu_file}: run generate.sh {name} first")
    bleu = json.loads(bleu_file.read_text())
    extra = state["extra_state"]
    return {
        "model": name,
        "arch": state["cfg"]["model"].arch,
        "parameters": count_parameters(model),
        "updates": state["optimizer_history"][-1]["num_updates"],
        "train_seconds": extra["previous_training_time"],
        "valid_loss": extra["val_loss"],
        "test_bleu": bleu["bleu"],
        "test_sentences": bleu["sentences"],
        "bleu_signature": bleu["signature"],
    }


def markdown_table(rows: list) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        valid_loss = "n/a" if row["valid_loss"] is None else f"{row['valid_loss']:.3f}"
        cells = (f"{row['model']} ({row['arch']})", f"{row['parameters']:,}", f"{row['updates']:,}",
                 f"{row['train_seconds']:.0f}", valid_loss, f"{row['test_bleu']:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=pathlib.Path, help="work folder of run.sh")
    parser.add_argument("models", nargs="*", default=["mega", "transformer"], help="model folders under WORK")
    args = parser.parse_args()
    rows = [model_row(args.work, name) for name in args.models]
    (args.work / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(markdown_table(rows))
    print(f"\nBLEU: sacrebleu {rows[0]['bleu_signature']} on {rows[0]['test_sentences']} test sentences")


if __name__ == "__main__":
    main()
