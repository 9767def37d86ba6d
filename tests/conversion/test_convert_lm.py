"""HF MegaForCausalLM / MegaForMaskedLM <-> fairseq mega_lm / mega_mlm: fixtures, exact round trips, refusals."""

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from conversion import ConversionError, from_hf, to_hf
from fixture_utils import FIXTURES, ORIGINAL, max_abs_diff

HF = FIXTURES / "hf"
CAUSAL = ["clm_softmax_rotary", "clm_laplace_simple", "clm_softmax_simple_chunk4",
          "clm_softmax_simple_postnorm_trunc4"]
MASKED = ["mlm_softmax_rotary", "mlm_laplace_simple_trunc4", "mlm_softmax_simple_chunk4"]
TOL = 1e-5


def _load_fairseq(path):
    import mega_plugin  # noqa: F401
    from fairseq import checkpoint_utils

    models, _, _ = checkpoint_utils.load_model_ensemble_and_task([str(path)], arg_overrides={"data": str(path.parent)})
    return models[0].eval()


@pytest.mark.parametrize("case", CAUSAL + MASKED)
def test_from_hf_reproduces_hf_logits_in_fairseq(case, tmp_path):
    from_hf(HF / case, tmp_path / "model.pt")
    model = _load_fairseq(tmp_path / "model.pt")
    inputs, expected = torch.load(HF / case / "inputs.pt"), torch.load(HF / case / "expected.pt")
    keep = inputs["attention_mask"].bool()
    with torch.no_grad():
        logits = model.decoder(inputs["input_ids"])[0] if case in CAUSAL else model(inputs["input_ids"])[0]
    assert max_abs_diff(logits, expected["logits"], keep) <= TOL


@pytest.mark.parametrize("case", CAUSAL + MASKED)
def test_round_trip_hf_fairseq_hf_is_tensor_identical(case, tmp_path):
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

    from_hf(HF / case, tmp_path / "fs" / "model.pt")
    to_hf(tmp_path / "fs" / "model.pt", tmp_path / "hf")
    original, back = load_file(HF / case / "model.safetensors"), load_file(tmp_path / "hf" / "model.safetensors")
    config = json.loads((HF / case / "config.json").read_text())
    assert set(back) - set(original) <= {"lm_head.weight", "mlm_head.weight"}
    for key, value in original.items():
        if key.endswith("rel_pos_bias.rel_pos_bias") and config["use_chunking"]:
            used = 2 * config["chunk_size"] - 1  # HF never reads the tail of a chunked simple table
            assert torch.equal(back[key][:used], value[:used])
        else:
            assert torch.equal(back[key], value), key
    auto = AutoModelForCausalLM if case in CAUSAL else AutoModelForMaskedLM
    reloaded = auto.from_pretrained(tmp_path / "hf").eval()
    inputs, expected = torch.load(HF / case / "inputs.pt"), torch.load(HF / case / "expected.pt")
    extra = {"use_cache": False} if case in CAUSAL else {}
    with torch.no_grad():
        logits = reloaded(**{k: inputs[k] for k in ("input_ids", "attention_mask")}, **extra).logits
    assert max_abs_diff(logits, expected["logits"], inputs["attention_mask"].bool()) <= TOL


def test_prenorm_original_checkpoint_needs_remote_code(tmp_path):
    with pytest.raises(ConversionError, match="--remote-code"):
        to_hf(ORIGINAL / "lm_softmax" / "checkpoint_last.pt", tmp_path / "out")
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []


def test_remote_code_reproduces_the_original_logits(tmp_path):
    from transformers import AutoModelForCausalLM

    to_hf(ORIGINAL / "lm_softmax" / "checkpoint_last.pt", tmp_path / "hf", remote_code=True)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "hf", trust_remote_code=True).eval()
    tokens = torch.load(ORIGINAL / "lm_softmax" / "inputs.pt")["tokens"]
    expected = torch.load(ORIGINAL / "lm_softmax" / "outputs.pt")["full_logits"]
    with torch.no_grad():  # length 29 with chunk 8: plain HF would fail, the remote code pads internally
        logits = model(input_ids=tokens, attention_mask=tokens.ne(1).long(), use_cache=False).logits
    assert logits.shape == expected.shape
    assert max_abs_diff(logits, expected, tokens.ne(1)) <= TOL
    prompt = tokens[:1, :5]
    generated = model.generate(prompt, max_new_tokens=4, do_sample=False, use_cache=False, pad_token_id=1)
    assert generated.shape == (1, 9) and torch.equal(generated[:, :5], prompt)


def test_hf_only_features_are_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(ConversionError, match="add_token_type_embeddings"):
        from_hf(HF / "mlm_hf_only_features", tmp_path / "out" / "model.pt")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_cli_reports_errors_in_one_line(tmp_path):
    command = [sys.executable, "-m", "conversion.cli", "from-hf", str(tmp_path / "missing"), str(tmp_path / "m.pt")]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("mega-convert: error: config.json not found")


def test_cli_converts(tmp_path):
    command = [sys.executable, "-m", "conversion.cli", "from-hf", str(HF / "clm_softmax_rotary"),
               str(tmp_path / "model.pt")]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "max abs logit difference" in result.stdout
    assert (tmp_path / "model.pt").is_file() and (tmp_path / "dict.txt").is_file()
