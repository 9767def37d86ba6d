"""Long Range Arena results table: this project's runs beside the paper's Mega and Mega-chunk rows, plus a bar plot.

    python examples/lra/results.py listops=runs/lra/listops/train.log text=runs/lra/imdb/train.log \\
        image=87.5 [--json results.json] [--name "this run"] [--plot lra.png]

Each ``TASK=VALUE`` gives an accuracy (a number) or a fairseq-train log (``--log-format simple`` or ``json``, e.g.
the ``train.log`` the recipes write). From a log: the checkpoint-selection protocol of the recipes -- the epoch
with the best ``valid`` accuracy -- and, when the log also validates a ``test`` subset (``--valid-subset
valid,test``), the test accuracy of that epoch; without a test subset the best validation accuracy is used.
``--json`` reads ``{"listops": 61.2, "image": "runs/cifar10/train.log", ...}`` (paths relative to the JSON file).
Tasks: listops, text (imdb), retrieval (aan), image (cifar10), pathfinder, pathx.

Paper rows: Ma et al., "Mega: Moving Average Equipped Gated Attention" (arXiv 2209.10655, ICLR 2023), Table 2,
accuracy (%) averaged over 5 seeds; Mega-chunk used chunk size 128 (Path-X: 4096).
"""

import argparse
import json
import math
import pathlib
import re
from typing import Dict, List, Optional

TASKS = ("listops", "text", "retrieval", "image", "pathfinder", "pathx")
TITLES = ("ListOps", "Text", "Retrieval", "Image", "Pathfinder", "Path-X")
ALIASES = {"imdb": "text", "aan": "retrieval", "cifar10": "image", "cifar": "image", "pf32": "pathfinder",
           "pathfinder32": "pathfinder", "path-x": "pathx", "pf128": "pathx"}
PAPER = {  # name -> (six accuracies, the average printed in the paper)
    "Mega (paper)": ((63.14, 90.43, 91.25, 90.44, 96.01, 97.98), 88.21),
    "Mega-chunk (paper)": ((58.76, 90.19, 90.97, 85.80, 94.41, 93.81), 85.66),
}
_SUBSET = re.compile(r"^valid on '([^']+)' subset$")
_EPOCH = re.compile(r"epoch (\d+)$")


def task_name(name: str) -> str:
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in TASKS:
        raise ValueError(f"unknown LRA task {name!r}; one of {', '.join(TASKS)} (or {', '.join(ALIASES)})")
    return key


def _simple_record(line: str) -> Optional[dict]:
    """``... | epoch 003 | valid on 'valid' subset | loss 1.2 | accuracy 40.5 | ... | num_updates 30``."""
    parts = [part.strip() for part in line.split(" | ")]
    for index, part in enumerate(parts):
        match = _SUBSET.match(part)
        if match:
            record = {"subset": match.group(1), "epoch": None}
            epoch = _EPOCH.search(parts[index - 1]) if index else None
            if epoch:
                record["epoch"] = int(epoch.group(1))
            for stat in parts[index + 1 :]:
                key, _, value = stat.partition(" ")
                record[key] = value
            return record
    return None


def _json_records(line: str) -> List[dict]:
    """``{"epoch": 3, "valid_loss": "1.2", "valid_accuracy": "40.5", "valid_num_updates": "30", ...}``."""
    try:
        stats = json.loads(line[line.index("{") :])
    except ValueError:
        return []
    records = []
    for key, value in stats.items():
        if key.endswith("_accuracy") and not key.endswith("best_accuracy"):
            subset = key[: -len("_accuracy")]
            if subset in ("train", "train_inner"):
                continue
            record = {"subset": subset, "epoch": stats.get("epoch"), "accuracy": value}
            if f"{subset}_num_updates" in stats:
                record["num_updates"] = stats[f"{subset}_num_updates"]
            records.append(record)
    return records


def read_log(path: pathlib.Path) -> List[dict]:
    """Validation records ``{subset, epoch, accuracy, num_updates}`` of a fairseq-train log, in order."""
    if not path.is_file():
        raise FileNotFoundError(f"log not found: {path}")
    records = []
    for line in path.read_text(errors="replace").splitlines():
        if "{" in line and "_accuracy" in line:
            found = _json_records(line)
        else:
            found = [_simple_record(line)] if "valid on '" in line else []
        for record in found:
            if record and "accuracy" in record:
                record["accuracy"] = float(record["accuracy"])
                if record.get("num_updates") is not None:
                    record["num_updates"] = int(float(record["num_updates"]))
                records.append(record)
    return records


def select(records: List[dict]) -> dict:
    """Best validation epoch and, if logged, the test accuracy of that epoch."""
    if not records:
        raise ValueError("no validation accuracy found")
    selection_subset = "valid" if any(r["subset"] == "valid" for r in records) else records[0]["subset"]
    valid = [r for r in records if r["subset"] == selection_subset]
    best = max(valid, key=lambda r: r["accuracy"])  # first of the ties, as fairseq's checkpoint_best
    result = {"valid": best["accuracy"], "epoch": best["epoch"], "num_updates": best.get("num_updates"),
              "test": None}
    for record in records:
        same_point = (record["epoch"], record.get("num_updates")) == (best["epoch"], best.get("num_updates"))
        if record["subset"] == "test" and selection_subset != "test" and same_point:
            result["test"] = record["accuracy"]
    result["accuracy"] = result["test"] if result["test"] is not None else result["valid"]
    return result


def accuracy_of(value, base: pathlib.Path = pathlib.Path(".")) -> float:
    """A number, or the selected accuracy of a log file."""
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except ValueError:
        path = pathlib.Path(value)
        path = path if path.is_absolute() else base / path
        try:
            return select(read_log(path))["accuracy"]
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None


def collect(items: List[str], json_path: Optional[pathlib.Path] = None) -> Dict[str, float]:
    ours = {}
    if json_path is not None:
        data = json.loads(json_path.read_text())
        if not isinstance(data, dict):
            raise ValueError(f"{json_path}: expected an object mapping task -> accuracy or log path")
        for task, value in data.items():
            ours[task_name(task)] = accuracy_of(value, json_path.parent)
    for item in items:
        task, separator, value = item.partition("=")
        if not separator or not value:
            raise ValueError(f"expected TASK=ACCURACY or TASK=LOG, got {item!r}")
        ours[task_name(task)] = accuracy_of(value)
    return ours


def average(values) -> Optional[float]:
    return None if any(v is None for v in values) else sum(values) / len(values)


def table(ours: Dict[str, float], name: str = "this run") -> str:
    """Markdown table: paper rows (their printed averages) and ours (average only when all six are there)."""
    lines = ["| model | " + " | ".join(TITLES) + " | Avg. |", "|---" * (len(TASKS) + 2) + "|"]
    rows = [(label, values, printed) for label, (values, printed) in PAPER.items()]
    mine = tuple(ours.get(task) for task in TASKS)
    rows.append((name, mine, average(mine)))
    for label, values, mean in rows:
        cells = ["-" if v is None else f"{v:.2f}" for v in values] + ["-" if mean is None else f"{mean:.2f}"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(ours: Dict[str, float], path: pathlib.Path, name: str = "this run") -> bool:
    """Grouped bars per task; returns False (and says so) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot written (pip install matplotlib)")
        return False
    rows = {label: values for label, (values, _) in PAPER.items()}
    rows[name] = tuple(math.nan if ours.get(task) is None else ours[task] for task in TASKS)
    width = 0.8 / len(rows)
    figure, axis = plt.subplots(figsize=(10, 4))
    for index, (label, values) in enumerate(rows.items()):
        positions = [t + (index - (len(rows) - 1) / 2) * width for t in range(len(TASKS))]
        axis.bar(positions, values, width, label=label)
    axis.set_xticks(range(len(TASKS)))
    axis.set_xticklabels(TITLES)
    axis.set_ylabel("accuracy (%)")
    axis.set_ylim(0, 100)
    axis.set_title("Long Range Arena")
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=len(rows), frameon=False)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    print(f"wrote {path}")
    return True


def main(argv=None) -> Dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="*", help="TASK=ACCURACY or TASK=LOG")
    parser.add_argument("--json", type=pathlib.Path, help="JSON object: task -> accuracy or log path")
    parser.add_argument("--name", default="this run", help="label of our row")
    parser.add_argument("--plot", type=pathlib.Path, help="write a bar plot (PNG) here")
    args = parser.parse_args(argv)
    try:
        ours = collect(args.results, args.json)
    except (FileNotFoundError, ValueError) as error:
        parser.exit(2, f"results.py: error: {error}\n")
    print(table(ours, args.name))
    if len(ours) < len(TASKS):
        print(f"(our average needs all six tasks; {len(ours)} given)")
    if args.plot:
        plot(ours, args.plot, args.name)
    return ours


if __name__ == "__main__":
    main()
