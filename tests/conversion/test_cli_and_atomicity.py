"""``mega-convert`` as a subprocess, and the all-or-nothing writes (a failing probe leaves nothing behind)."""

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
import torch

from conversion import ConversionError, fairseq_to_hf, from_hf, probe, to_hf
from conversion_helpers import HF, ORIGINAL, TOL

SCRIPT = pathlib.Path(sys.executable).parent / "mega-convert"


def _run(*args):
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "conversion.cli"]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run(command + [str(a) for a in args], capture_output=True, text=True, env=env)


def _reported_diff(stdout: str) -> float:
    found = re.search(r"max abs logit difference ([0-9.e+-]+)\)", stdout)
    assert found, stdout
    return float(found.group(1))


def test_cli_round_trip_original_lm_to_hf_and_back(tmp_path):
    result = _run("to-hf", ORIGINAL / "lm_softmax" / "checkpoint_last.pt", tmp_path / "hf", "--remote-code")
    assert result.returncode == 0, result.stderr[-3000:]
    assert _reported_diff(result.stdout) <= TOL
    assert sorted(p.name for p in (tmp_path / "hf").iterdir()) == [
        "config.json", "dict.txt", "model.safetensors", "modeling_mega_final_norm.py", "special_tokens_map.json",
        "vocab.json"]
    assert (tmp_path / "hf" / "dict.txt").read_text() == (ORIGINAL / "lm_softmax" / "dict.txt").read_text()
    vocab = json.loads((tmp_path / "hf" / "vocab.json").read_text())
    first_word = (ORIGINAL / "lm_softmax" / "dict.txt").read_text().split()[0]
    assert vocab["<s>"] == 0 and vocab["<pad>"] == 1 and vocab["</s>"] == 2 and vocab[first_word] == 4
    result = _run("from-hf", tmp_path / "hf", tmp_path / "fs" / "model.pt")
    assert result.returncode == 0, result.stderr[-3000:]
    assert _reported_diff(result.stdout) <= TOL
    assert (tmp_path / "fs" / "dict.txt").read_text() == (ORIGINAL / "lm_softmax" / "dict.txt").read_text()
    assert sorted(p.name for p in (tmp_path / "fs").iterdir()) == ["dict.txt", "model.pt"]


@pytest.mark.parametrize("arguments, message", [  # the other refusals are tested in-process
    (["to-hf", ORIGINAL / "lm_softmax" / "checkpoint_last.pt", "{out}"], "normalize_before=True"),
    (["from-hf", HF / "mlm_hf_only_features", "{out}/model.pt"], "add_token_type_embeddings"),
])
def test_cli_refusals_are_one_line_with_exit_status_2(arguments, message, tmp_path):
    out = tmp_path / "out"
    result = _run(*[str(a).format(out=out) for a in arguments])
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("mega-convert: error: ") and message in last
    assert not out.exists()


def test_missing_inputs_are_named(tmp_path):
    with pytest.raises(ConversionError, match="checkpoint not found"):
        to_hf(tmp_path / "missing.pt", tmp_path / "out")
    with pytest.raises(ConversionError, match="config.json not found"):
        from_hf(tmp_path / "missing", tmp_path / "out" / "model.pt")
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "checkpoint.pt").write_bytes((ORIGINAL / "lm_laplace" / "checkpoint_last.pt").read_bytes())
    with pytest.raises(ConversionError, match="dict.txt not found .*--data"):
        to_hf(tmp_path / "ckpt" / "checkpoint.pt", tmp_path / "out", remote_code=True)
    assert not (tmp_path / "out").exists()


def test_existing_outputs_are_not_overwritten(tmp_path):
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError):
        to_hf(ORIGINAL / "lm_softmax" / "checkpoint_last.pt", tmp_path / "hf", remote_code=True)
    assert [p.name for p in (tmp_path / "hf").iterdir()] == ["keep.txt"]
    (tmp_path / "fs").mkdir()
    (tmp_path / "fs" / "dict.txt").write_text("other 1\n")
    with pytest.raises(FileExistsError, match="different dict.txt"):
        from_hf(HF / "clm_softmax_rotary", tmp_path / "fs" / "model.pt")
    assert [p.name for p in (tmp_path / "fs").iterdir()] == ["dict.txt"]


def test_a_conversion_bug_is_caught_by_the_probe_and_nothing_is_written(tmp_path, monkeypatch):
    """Break the embedding-scale fold: the probe measures the damage, refuses, and leaves no files."""
    def unfolded(name, value, layout):
        return value if name == "embed_scale" else original(name, value, layout)

    original = fairseq_to_hf.transforms.to_hf
    monkeypatch.setattr(fairseq_to_hf.transforms, "to_hf", unfolded)
    with pytest.raises(ConversionError, match=r"disagrees on the probe batch: max abs logit diff [0-9.]+ > 1e-05"):
        to_hf(ORIGINAL / "lm_softmax" / "checkpoint_last.pt", tmp_path / "hf", remote_code=True)
    assert list(tmp_path.iterdir()) == []


def test_from_hf_failure_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(probe, "TOLERANCE", -1.0)  # every probe fails
    with pytest.raises(ConversionError, match="disagrees on the probe batch"):
        from_hf(HF / "mlm_softmax_rotary", tmp_path / "fs" / "model.pt")
    assert list((tmp_path / "fs").iterdir()) == []


def test_probe_compares_only_real_positions():
    tokens = probe.probe_tokens(64, 12)
    assert tokens[0].ne(1).all() and tokens[1, :8].ne(1).all() and tokens[1, 8:].eq(1).all()

    class Shifted(torch.nn.Module):  # agrees on real tokens, differs at pads
        def forward(self, input_ids, attention_mask, **kwargs):
            logits = torch.where(attention_mask.bool()[..., None], torch.zeros(1), torch.ones(1)).expand(2, 12, 5)
            return type("Out", (), {"logits": logits})()

    assert probe.compare(torch.zeros(2, 12, 5), Shifted(), tokens, causal=False) == 0.0
    with pytest.raises(ConversionError):
        probe.compare(torch.full((2, 12, 5), 1e-4), Shifted(), tokens, causal=False)
