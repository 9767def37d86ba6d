"""listops_curriculum.sh end to end at toy size: short expressions prepared with the LRA folder's dictionary, a
short run, the fine-tuning run started from its best checkpoint, and the test accuracy printed."""

import os
import re
import subprocess
import sys

from lra_helpers import LRA_DIR, read_binarized

import prepare  # noqa: E402
from listops_generator import evaluate  # noqa: E402


def test_curriculum_script_runs_end_to_end(tmp_path):
    subprocess.run([sys.executable, str(LRA_DIR / "listops_generator.py"), str(tmp_path / "lra-tsv"), "--train", "40",
                    "--valid", "8", "--test", "8", "--min-length", "20", "--max-length", "80", "--seed", "3"],
                   check=True, capture_output=True)
    prepare.main(["listops", str(tmp_path / "lra-tsv"), str(tmp_path / "lra")])
    env = dict(os.environ, PYTHON=sys.executable, SHORT_EXAMPLES="60", SHORT_UPDATES="2", UPDATES="2",
               PYTHONWARNINGS="ignore")
    result = subprocess.run(["bash", str(LRA_DIR / "listops_curriculum.sh"), str(tmp_path / "lra"),
                             str(tmp_path / "work")], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    work = tmp_path / "work"
    # the short data uses the LRA folder's token ids, and its labels are the expressions' values
    assert (work / "short-data" / "src-bin" / "dict.txt").read_text() == (tmp_path / "lra" / "src-bin" / "dict.txt"
                                                                         ).read_text()
    lines, _ = read_binarized(work / "short-data" / "src-bin", "test")
    assert len(lines) == 6 and all(10 <= len(line) <= 100 for line in lines)
    assert all(0 <= evaluate(" ".join(line)) <= 9 for line in lines)
    assert "Loaded checkpoint" in output and str(work / "short" / "checkpoint_best.pt") in output
    assert (work / "lra" / "checkpoint_best.pt").is_file()
    found = re.search(r"valid on 'test' subset \| loss [0-9.]+ \| accuracy ([0-9.]+)", output)
    assert found is not None and 0.0 <= float(found.group(1)) <= 100.0
