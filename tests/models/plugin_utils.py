"""Helpers for the fairseq-level tests: load original fixtures through fairseq, run the CLI with the plugin."""

import os
import pathlib
import shutil
import subprocess
import sys

import mega_plugin
from fairseq import checkpoint_utils

PLUGIN_DIR = str(pathlib.Path(mega_plugin.__file__).parent)
ORIGINAL = pathlib.Path(__file__).parents[1] / "fixtures" / "original"


def load_original(case: str, data_dir: pathlib.Path, dict_files: dict, **overrides):
    """Load an original checkpoint with fairseq 0.12 (strict), dictionaries copied into ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for source, target in dict_files.items():
        shutil.copy(ORIGINAL / case / source, data_dir / target)
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(ORIGINAL / case / "checkpoint_last.pt")], arg_overrides={"data": str(data_dir), **overrides}, strict=True
    )
    return models[0].eval(), cfg, task


def run_cli(module: str, *args, cwd=None) -> str:
    """Run ``python -m fairseq_cli.<module> ... --user-dir <plugin>`` and return its output (raises on failure)."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    command = [sys.executable, "-m", f"fairseq_cli.{module}", *map(str, args)]
    if module != "preprocess":
        command += ["--user-dir", PLUGIN_DIR]
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout + result.stderr
