"""examples/quickstart/train_lm.sh, the README's main job, at 6 updates: it trains, evaluates, and a second run in
the same folder starts from scratch instead of failing on the existing data-bin or resuming the old checkpoint."""

import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "quickstart" / "train_lm.sh"


def run(work):
    bin_dir = str(pathlib.Path(sys.executable).parent)  # python, fairseq-preprocess/-train/-eval-lm of this env
    env = dict(os.environ, UPDATES="6", OMP_NUM_THREADS="1", PATH=bin_dir + os.pathsep + os.environ["PATH"])
    result = subprocess.run(["bash", str(SCRIPT), str(work)], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def test_quickstart_trains_and_reruns_from_scratch(tmp_path):
    first = run(tmp_path / "work")
    second = run(tmp_path / "work")
    for log in (first, second):
        assert "loaded checkpoint" not in log
        assert re.search(r"num_updates 6\b", log)
        assert re.search(r"Loss \(base 2\): [0-9.]+, Perplexity", log)
    perplexity = [re.findall(r"Perplexity: ([0-9.]+)", log)[-1] for log in (first, second)]
    assert perplexity[0] == perplexity[1]  # same seed, same fresh run
