"""Converted checkpoints in fairseq's own tools: fairseq-eval-lm scores an HF-converted LM as HF does;
fairseq-train trains the new mega_mlm model with the masked_lm task, and the result converts to MegaForMaskedLM."""

import math
import os
import pathlib
import re
import subprocess
import sys

import torch

import mega_plugin
from conversion import from_hf, to_hf
from conversion_helpers import HF, TOL, hf_logits, load_fairseq, padded_batch, write_dictionary
from fixture_utils import max_abs_diff

PLUGIN = str(pathlib.Path(mega_plugin.__file__).parent)


def _fairseq(tool: str, *args) -> str:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    command = [sys.executable, "-m", f"fairseq_cli.{tool}", *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def test_fairseq_eval_lm_scores_a_converted_lm_like_transformers(tmp_path):
    from transformers import AutoModelForCausalLM

    case = HF / "clm_laplace_simple"
    from_hf(case, tmp_path / "fs" / "model.pt")
    generator = torch.Generator().manual_seed(0)
    lines = [torch.randint(4, 64, (int(n),), generator=generator).tolist() for n in (7, 12, 3, 15, 9)]
    (tmp_path / "test.txt").write_text("".join(" ".join(f"<hf_{t}>" for t in line) + "\n" for line in lines))
    _fairseq("preprocess", "--only-source", "--srcdict", tmp_path / "fs" / "dict.txt", "--testpref",
             tmp_path / "test.txt", "--destdir", tmp_path / "bin", "--workers", 1)
    block = 8  # (--sample-break-mode eos crashes in fairseq-fixed with numpy 2: np.compat.long)
    output = _fairseq("eval_lm", tmp_path / "bin", "--user-dir", PLUGIN, "--path", tmp_path / "fs" / "model.pt",
                      "--gen-subset", "test", "--sample-break-mode", "none", "--tokens-per-sample", block,
                      "--batch-size", 2, "--cpu")
    reported = float(re.search(r"Loss \(base 2\): ([0-9.]+)", output).group(1))
    # fairseq cuts the stream (each line + </s>) into blocks and scores each block on its own, the input being the
    # block shifted right by one (</s> before the first); the same with transformers:
    stream = [token for line in lines for token in line + [2]]
    model = AutoModelForCausalLM.from_pretrained(case).eval()
    total = 0.0
    for start in range(0, len(stream), block):
        targets = torch.tensor(stream[start:start + block])
        tokens = torch.tensor([([2] + stream)[start:start + len(targets)]])
        logits = hf_logits(model, tokens, torch.ones_like(tokens), causal=True)[0]
        total -= torch.log_softmax(logits, -1).gather(-1, targets[:, None]).sum().item()
    assert abs(reported - total / len(stream) / math.log(2)) <= 1e-4


def test_mega_mlm_trains_with_the_masked_lm_task_and_converts(tmp_path):
    from transformers import AutoModelForMaskedLM

    write_dictionary(tmp_path / "dict", 24)
    generator = torch.Generator().manual_seed(0)
    words = [" ".join(f"w{i}" for i in torch.randint(0, 20, (12,), generator=generator).tolist()) for _ in range(40)]
    (tmp_path / "train.txt").write_text("\n".join(words) + "\n")
    _fairseq("preprocess", "--only-source", "--srcdict", tmp_path / "dict" / "dict.txt", "--trainpref",
             tmp_path / "train.txt", "--validpref", tmp_path / "train.txt", "--destdir", tmp_path / "bin",
             "--workers", 1)
    log = _fairseq("train", tmp_path / "bin", "--user-dir", PLUGIN, "--task", "masked_lm", "--criterion",
                   "masked_lm", "--arch", "mega_mlm", "--encoder-layers", 1, "--encoder-embed-dim", 16,
                   "--encoder-hidden-dim", 16, "--encoder-z-dim", 8, "--encoder-n-dim", 2, "--encoder-chunk-size", 8,
                   "--tokens-per-sample", 16, "--sample-break-mode", "complete", "--optimizer", "adam", "--lr", 1e-3,
                   "--batch-size", 8, "--max-update", 3, "--cpu", "--save-dir", tmp_path / "ckpt",
                   "--no-epoch-checkpoints", "--log-format", "simple", "--log-interval", 1)
    losses = [float(x) for x in re.findall(r"\| loss ([0-9.]+) \|", log)]
    assert losses and all(math.isfinite(x) and x > 0 for x in losses)
    to_hf(tmp_path / "ckpt" / "checkpoint_last.pt", tmp_path / "hf", data=tmp_path / "bin")
    model, task = load_fairseq(tmp_path / "ckpt" / "checkpoint_last.pt", tmp_path / "bin")
    assert task.source_dictionary.symbols[-1] == "<mask>"
    hf_model = AutoModelForMaskedLM.from_pretrained(tmp_path / "hf").eval()
    tokens = padded_batch(len(task.source_dictionary), 16)
    keep = tokens.ne(1)
    with torch.no_grad():
        ours = model(tokens)[0]
    assert max_abs_diff(hf_logits(hf_model, tokens, keep.long(), causal=False), ours, keep) <= TOL
