"""The six LRA recipes: the exact fairseq-train command (the paper's hyper-parameters, spec 7.1 / the original
README.lra.md) and a one-update run of each on tiny data on CPU (skipped until the LRA models are registered)."""

import json
import os
import pickle
import shlex
import subprocess
import sys

import numpy as np
import pytest

from lra_helpers import FORMATS, LRA_DIR, ROOT

import prepare  # noqa: E402
import results  # noqa: E402

COMMON = {
    "--seed": "1", "--ddp-backend": "c10d", "--find-unused-parameters": "", "--n-dim": "16", "--chunk-size": "-1",
    "--activation-fn": "silu", "--sen-rep-type": "mp", "--criterion": "lra_cross_entropy",
    "--best-checkpoint-metric": "accuracy", "--maximize-best-checkpoint-metric": "", "--optimizer": "adam",
    "--adam-betas": "(0.9, 0.98)", "--adam-eps": "1e-8", "--clip-norm": "1.0", "--sentence-avg": "",
    "--lr-scheduler": "linear_decay", "--end-learning-rate": "0.0", "--warmup-init-lr": "1e-07",
    "--keep-last-epochs": "1", "--log-format": "simple", "--log-interval": "100", "--num-workers": "0",
}
TEXT = {"--task": "lra-text", "--input-type": "text"}
IMAGE = {"--task": "lra-image", "--input-type": "image", "--encoder-normalize-before": ""}
# spec 7.1 table, column by column
RECIPES = {
    "listops.sh": dict(TEXT, **{
        "--arch": "mega_lra_listop", "--encoder-layers": "6", "--attention-activation-fn": "softmax",
        "--norm-type": "layernorm", "--lr": "0.001", "--weight-decay": "0.01", "--dropout": "0.1",
        "--attention-dropout": "0.0", "--act-dropout": "0.0", "--batch-size": "64", "--update-freq": "1",
        "--max-update": "90000", "--total-num-update": "90000", "--warmup-updates": "3000",
        "--batch-size-valid": "256", "--required-batch-size-multiple": "1"}),
    "imdb.sh": dict(TEXT, **{
        "--arch": "mega_lra_imdb", "--encoder-layers": "4", "--attention-activation-fn": "softmax",
        "--norm-type": "scalenorm", "--lr": "0.004", "--weight-decay": "0.01", "--dropout": "0.1",
        "--attention-dropout": "0.0", "--act-dropout": "0.0", "--batch-size": "25", "--update-freq": "2",
        "--max-update": "25000", "--total-num-update": "25000", "--warmup-updates": "10000",
        "--batch-size-valid": "100", "--required-batch-size-multiple": "1"}),
    "aan.sh": dict(TEXT, **{
        "--arch": "mega_lra_aan", "--encoder-layers": "6", "--attention-activation-fn": "softmax",
        "--norm-type": "scalenorm", "--lr": "0.003", "--weight-decay": "0.04", "--dropout": "0.1",
        "--attention-dropout": "0.0", "--act-dropout": "0.0", "--batch-size": "8", "--update-freq": "8",
        "--max-update": "91960", "--total-num-update": "91960", "--warmup-updates": "10000",
        "--batch-size-valid": "64"}),
    "cifar10.sh": dict(IMAGE, **{
        "--arch": "mega_lra_cifar10", "--pixel-normalization": "0.48 0.24", "--encoder-layers": "8",
        "--attention-activation-fn": "laplace", "--norm-type": "batchnorm", "--lr": "0.01",
        "--weight-decay": "0.02", "--dropout": "0.0", "--attention-dropout": "0.0", "--act-dropout": "0.0",
        "--batch-size": "50", "--update-freq": "1", "--max-update": "180000", "--total-num-update": "180000",
        "--warmup-updates": "9000", "--required-batch-size-multiple": "1"}),
    "pathfinder.sh": dict(IMAGE, **{
        "--arch": "mega_lra_pf32", "--pixel-normalization": "0.5 0.5", "--encoder-layers": "6",
        "--attention-activation-fn": "laplace", "--norm-type": "batchnorm", "--lr": "0.01",
        "--weight-decay": "0.01", "--dropout": "0.0", "--attention-dropout": "0.0", "--act-dropout": "0.0",
        "--batch-size": "128", "--update-freq": "1", "--max-update": "250000", "--total-num-update": "250000",
        "--warmup-updates": "50000", "--batch-size-valid": "512"}),
    "pathx.sh": dict(IMAGE, **{
        "--arch": "mega_lra_pf128", "--pixel-normalization": "0.5 0.5", "--encoder-layers": "4",
        "--attention-activation-fn": "laplace", "--norm-type": "syncbatchnorm", "--lr": "0.01",
        "--weight-decay": "0.01", "--dropout": "0.0", "--attention-dropout": "0.0", "--act-dropout": "0.0",
        "--batch-size": "2", "--update-freq": "8", "--max-update": "125000", "--total-num-update": "125000",
        "--warmup-updates": "25000", "--warmup-power": "2", "--batch-size-valid": "12"}),
}


def run_recipe(recipe, *args, env=None, print_only=True):
    """Run a recipe script; the recipe's own environment variables come only from ``env``."""
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("CHUNK", "DATA", "SAVE", "SEED", "WARMUP", "PRINT_ONLY")}
    environment.update({"PYTHON": sys.executable, **(env or {})})
    if print_only:
        environment["PRINT_ONLY"] = "1"
    return subprocess.run(["bash", str(LRA_DIR / recipe), *map(str, args)], capture_output=True, text=True,
                          env=environment)


def parse_flags(words):
    """``--flag value...`` pairs (the last occurrence wins; flags without value map to "")."""
    flags, current = {}, None
    for word in words:
        if word.startswith("--"):
            current = word
            flags[current] = []
        else:
            flags[current].append(word)
    return {flag: " ".join(values) for flag, values in flags.items()}


def printed_command(recipe, *args, env=None):
    result = run_recipe(recipe, *args, env=env)
    assert result.returncode == 0, result.stderr
    return shlex.split(result.stdout)


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_recipe_command_has_the_paper_hyper_parameters(recipe, tmp_path):
    words = printed_command(recipe, tmp_path / "data", tmp_path / "save")
    assert words[:4] == [sys.executable, "-m", "fairseq_cli.train", str(tmp_path / "data")]
    flags = parse_flags(words[4:])
    assert flags.pop("--user-dir") == str(ROOT / "mega_plugin")
    assert flags.pop("--save-dir") == str(tmp_path / "save")
    assert flags == dict(COMMON, **RECIPES[recipe])  # nothing missing, nothing extra


def test_chunk_save_dir_data_from_environment_and_overrides_last(tmp_path):
    words = printed_command("pathx.sh", "--cpu", "--lr", "0.5", env={"CHUNK": "4096", "DATA": str(tmp_path),
                                                                    "WARMUP": "123", "SEED": "7"})
    flags = parse_flags(words[4:])
    assert words[3] == str(tmp_path)
    assert (flags["--chunk-size"], flags["--save-dir"]) == ("4096", "runs/lra/pathx-chunk4096")
    assert (flags["--warmup-updates"], flags["--seed"], flags["--lr"], flags["--cpu"]) == ("123", "7", "0.5", "")
    assert words[-3:] == ["--cpu", "--lr", "0.5"]  # extra flags come last, so argparse keeps them
    assert parse_flags(printed_command("imdb.sh", tmp_path)[4:])["--save-dir"] == "runs/lra/imdb"


def test_recipe_without_data_prints_usage():
    result = run_recipe("listops.sh", env={})
    assert result.returncode == 2 and "usage:" in result.stderr


# -- one update of each recipe on tiny data ---------------------------------------------------------------------
def _lra_models_registered():
    try:
        import fairseq.models

        import mega_plugin  # noqa: F401
    except ImportError:
        return False
    return "mega_lra_listop" in fairseq.models.ARCH_MODEL_REGISTRY


needs_models = pytest.mark.skipif(not _lra_models_registered(),
                                  reason="mega_plugin does not register the LRA models (mega_lra_listop) yet")

SHRINK = ["--cpu", "--max-update", "1", "--encoder-layers", "1", "--encoder-embed-dim", "16",
          "--encoder-hidden-dim", "32", "--encoder-ffn-embed-dim", "32", "--z-dim", "8", "--batch-size", "2",
          "--batch-size-valid", "2", "--update-freq", "1", "--warmup-updates", "1", "--total-num-update", "2",
          "--ddp-backend", "legacy_ddp"]
# runs several fairseq-train command lines in one process (one import of torch/fairseq) and records each outcome
RUNNER = """
import json, logging, sys
from fairseq_cli import train

class Keep(logging.Handler):
    def emit(self, record):
        self.lines.append(record.getMessage())

keep = Keep()
logging.getLogger().addHandler(keep)
commands, out = sys.argv[1:3]
outcomes = []
for argv in json.loads(open(commands).read()):
    keep.lines, sys.argv = [], ["fairseq-train", *argv]
    try:
        train.cli_main()
        code = 0
    except BaseException as error:
        code = repr(error)
    outcomes.append({"code": code, "log": keep.lines})
json.dump(outcomes, open(out, "w"))
"""


def _tiny_data(root):
    rng = np.random.default_rng(0)
    data = {}
    for task, folder in (("listops", "listops-1000"), ("imdb", "aclImdb"), ("aan", "tsv_data")):
        data[f"{task}.sh"] = root / task
        prepare.prepare(task, FORMATS / folder, root / task)
    batches = root / "cifar-10-batches-py"
    batches.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(batches / name, "wb") as handle:
            pickle.dump({b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8),
                         b"labels": rng.integers(0, 10, 2).tolist()}, handle)  # 10 train: 9 / 1 split
    prepare.prepare("cifar10", batches, root / "cifar10")
    data["cifar10.sh"] = root / "cifar10"
    for task, size in (("pathfinder", 32), ("pathx", 128)):
        (root / f"{task}-npz").mkdir()
        for stem in ("train", "val", "test"):
            np.savez(root / f"{task}-npz" / f"{stem}.npz", images=rng.integers(0, 256, (2, size, size), dtype=np.uint8),
                     labels=np.array([0, 1], dtype=np.uint8))
        prepare.prepare(task, root / f"{task}-npz", root / task)
        data[f"{task}.sh"] = root / task
    return data


@pytest.fixture(scope="module")
def dry_runs(tmp_path_factory):
    """Outcome of one update of every recipe (its printed command with the tiny-model flags appended)."""
    root = tmp_path_factory.mktemp("lra_dry_runs")
    data = _tiny_data(root)
    # Path-X: SyncBatchNorm needs GPUs; the 16384-pixel rows are cut to 2048 (--max-positions) to keep CPU time low
    extra = {"pathx.sh": ["--norm-type", "batchnorm", "--max-positions", "2048", "--chunk-size", "128"]}
    commands = []
    for recipe in sorted(RECIPES):
        words = printed_command(recipe, data[recipe], root / "save" / recipe, *SHRINK, "--no-save",
                                *extra.get(recipe, []))
        commands.append(words[3:])
    (root / "commands.json").write_text(json.dumps(commands))
    result = subprocess.run([sys.executable, "-c", RUNNER, str(root / "commands.json"), str(root / "outcomes.json")],
                            capture_output=True, text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return dict(zip(sorted(RECIPES), json.loads((root / "outcomes.json").read_text())))


@needs_models
@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_recipe_runs_one_update_on_tiny_data(recipe, dry_runs, tmp_path):
    outcome = dry_runs[recipe]
    assert outcome["code"] == 0, "\n".join(outcome["log"][-30:])
    log = tmp_path / "train.log"
    log.write_text("\n".join(outcome["log"]))
    selected = results.select(results.read_log(log))
    assert selected["num_updates"] == 1 and 0 <= selected["valid"] <= 100


def test_recipe_run_saves_command_and_appends_output_to_train_log(tmp_path):
    """The part PRINT_ONLY skips, with a stand-in interpreter: output teed to SAVE/train.log, exit status kept."""
    fake = tmp_path / "fake_python"
    fake.write_text("#!/usr/bin/env bash\n"
                    "echo \"epoch 001 | valid on 'valid' subset | loss 1 | accuracy 12.5 | num_updates 1\"\n"
                    "echo \"args: $*\" >&2\n"
                    "exit ${FAKE_EXIT:-0}\n")
    fake.chmod(0o755)
    save = tmp_path / "save"
    for _ in range(2):
        result = run_recipe("imdb.sh", tmp_path / "data", save, "--cpu", env={"PYTHON": str(fake)},
                            print_only=False)
        assert result.returncode == 0, result.stderr
    log = (save / "train.log").read_text()
    assert log.count("accuracy 12.5") == 2 and "args: -m fairseq_cli.train" in log  # appended, stderr included
    assert results.select(results.read_log(save / "train.log"))["valid"] == 12.5
    command = shlex.split((save / "command.sh").read_text())
    assert command[:4] == [str(fake), "-m", "fairseq_cli.train", str(tmp_path / "data")] and command[-1] == "--cpu"
    failed = run_recipe("imdb.sh", tmp_path / "data", save, env={"PYTHON": str(fake), "FAKE_EXIT": "3"},
                        print_only=False)
    assert failed.returncode == 3  # pipefail: the trainer's failure is not hidden by tee
