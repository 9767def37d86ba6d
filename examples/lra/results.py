"""Results table of the LRA runs beside the paper's Mega rows, and a bar plot.

    python examples/lra/results.py listops=runs/listops/train.log image=runs/cifar/train.log [--plot lra.png]

Each argument is TASK=LOG (a fairseq-train log, simple or json format; the best validation accuracy is taken,
or the last test accuracy if the log has one) or TASK=NUMBER. Tasks: listops, text, retrieval, image, pathfinder,
pathx. Paper numbers: Ma et al. 2022 (arXiv 2209.10655), Table 2.
"""

import argparse
import json
import pathlib
import re

TASKS = ("listops", "text", "retrieval", "image", "pathfinder", "pathx")
PAPER = {
    "Mega (paper)": (63.14, 90.43, 91.25, 90.44, 96.01, 97.98),
    "Mega-chunk (paper)": (58.76, 90.19, 90.97, 85.80, 94.41, 93.81),
}


def accuracy_from_log(path: pathlib.Path) -> float:
    """Best validation accuracy in a fairseq log (``| valid ... | accuracy X`` or json ``valid_accuracy``)."""
    text = path.read_text()
    values = [float(v) for v in re.findall(r"\| valid .*?\| accuracy ([0-9.]+)", text)]
    values += [float(json.loads(line)["valid_accuracy"]) for line in text.splitlines()
               if line.startswith("{") and "valid_accuracy" in line]
    if not values:
        raise ValueError(f"no validation accuracy in {path}")
    return max(values)


def parse(items):
    ours = {}
    for item in items:
        task, _, value = item.partition("=")
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
        try:
            ours[task] = float(value)
        except ValueError:
            ours[task] = accuracy_from_log(pathlib.Path(value))
    return ours


def table(ours: dict) -> str:
    lines = ["| model | " + " | ".join(TASKS) + " | avg |", "|---" * (len(TASKS) + 2) + "|"]
    rows = dict(PAPER)
    rows["this run"] = tuple(ours.get(task) for task in TASKS)
    for name, values in rows.items():
        known = [v for v in values if v is not None]
        average = f"{sum(known) / len(known):.2f}" if len(known) == len(TASKS) else "-"
        cells = ["-" if v is None else f"{v:.2f}" for v in values]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {average} |")
    return "\n".join(lines)


def plot(ours: dict, path: pathlib.Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot written")
        return
    names = list(PAPER) + ["this run"]
    values = list(PAPER.values()) + [tuple(ours.get(task, 0.0) or 0.0 for task in TASKS)]
    width = 0.8 / len(names)
    figure, axis = plt.subplots(figsize=(9, 4))
    for index, (name, row) in enumerate(zip(names, values)):
        axis.bar([t + index * width for t in range(len(TASKS))], row, width, label=name)
    axis.set_xticks([t + width for t in range(len(TASKS))], TASKS)
    axis.set_ylabel("accuracy (%)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    print(f"wrote {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="*", help="TASK=LOG or TASK=ACCURACY")
    parser.add_argument("--plot", type=pathlib.Path, help="write a bar plot (PNG)")
    args = parser.parse_args(argv)
    ours = parse(args.results)
    print(table(ours))
    if args.plot:
        plot(ours, args.plot)


if __name__ == "__main__":
    main()
