"""Original fairseq-0.9 checkpoints (tests/fixtures/original) -> HF: pre-norm LMs via --remote-code, refusals."""

import json
import math

import pytest
import torch

from conversion import ConversionError, from_hf, to_hf
from conversion_helpers import ORIGINAL, TOL, hf_logits, load_fairseq
from fixture_utils import max_abs_diff

LMS = ["lm_softmax", "lm_laplace"]


def _valid(lengths, length):
    return torch.arange(length)[None, :] < lengths[:, None]


@pytest.mark.parametrize("case", LMS)
def test_prenorm_lm_is_refused_without_remote_code_and_nothing_is_written(case, tmp_path):
    with pytest.raises(ConversionError, match="normalize_before=True .*--remote-code") as error:
        to_hf(ORIGINAL / case / "checkpoint_last.pt", tmp_path / "out")
    assert "\n" not in str(error.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("case", LMS)
def test_remote_code_reproduces_the_original_logits_in_transformers(case, tmp_path):
    from transformers import AutoModelForCausalLM

    diff = to_hf(ORIGINAL / case / "checkpoint_last.pt", tmp_path / "hf", remote_code=True)
    assert 0 <= diff <= TOL
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["auto_map"] == {"AutoModelForCausalLM": "modeling_mega_final_norm.MegaWithFinalNormForCausalLM"}
    assert config["tie_word_embeddings"] is False and config["final_norm_affine"] is True
    assert (tmp_path / "hf" / "modeling_mega_final_norm.py").is_file()
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "hf", trust_remote_code=True).eval()
    inputs = torch.load(ORIGINAL / case / "inputs.pt")
    expected = torch.load(ORIGINAL / case / "outputs.pt")["full_logits"]
    tokens = inputs["tokens"]  # length 29; lm_softmax has chunk 8: the remote class pads to a multiple internally
    valid = _valid(inputs["lengths"], tokens.size(1))
    logits = hf_logits(model, tokens, valid.long(), causal=True)
    assert logits.shape == expected.shape
    assert max_abs_diff(logits, expected, valid) <= TOL


def test_remote_code_model_generates_the_greedy_continuation_of_fairseq(tmp_path):
    from transformers import AutoModelForCausalLM

    checkpoint = ORIGINAL / "lm_softmax" / "checkpoint_last.pt"
    to_hf(checkpoint, tmp_path / "hf", remote_code=True)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "hf", trust_remote_code=True).eval()
    fairseq_model, _ = load_fairseq(checkpoint, ORIGINAL / "lm_softmax")
    prompt = torch.load(ORIGINAL / "lm_softmax" / "inputs.pt")["tokens"][:2, :5]
    tokens = prompt
    with torch.no_grad():
        for _ in range(6):
            next_token = fairseq_model.decoder(tokens)[0][:, -1].argmax(-1, keepdim=True)
            tokens = torch.cat([tokens, next_token], dim=1)
    generated = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=6, do_sample=False,
                               pad_token_id=1)
    assert torch.equal(generated, tokens)


def test_fairseq_hf_fairseq_round_trip_keeps_every_weight(tmp_path):
    """Original pre-norm LM -> HF (remote code) -> fairseq: same tensors except the embedding, which carries the
    folded sqrt(D) scale (the new checkpoint has --no-scale-embedding), and the added zero head bias."""
    from mega_plugin.compat.safe_load import load_checkpoint

    original = load_checkpoint(ORIGINAL / "lm_softmax" / "checkpoint_last.pt")
    args, state = original["args"], original["model"]
    inputs = torch.load(ORIGINAL / "lm_softmax" / "inputs.pt")
    outputs = torch.load(ORIGINAL / "lm_softmax" / "outputs.pt")
    to_hf(ORIGINAL / "lm_softmax" / "checkpoint_last.pt", tmp_path / "hf", remote_code=True)
    from_hf(tmp_path / "hf", tmp_path / "fs" / "model.pt")
    model, task = load_fairseq(tmp_path / "fs" / "model.pt")
    words = [line.split()[0] for line in (ORIGINAL / "lm_softmax" / "dict.txt").read_text().splitlines()]
    assert task.source_dictionary.symbols == ["<s>", "<pad>", "</s>", "<unk>"] + words
    back = model.state_dict()
    scale = math.sqrt(args.decoder_embed_dim)
    for key, value in state.items():
        if key.endswith("_float_tensor") or key == "decoder.version":  # dtype carrier (garbage) / version buffer
            continue
        expected = value * scale if key == "decoder.embed_tokens.weight" else value
        assert torch.equal(back[key], expected), key
    assert not back["decoder.output_projection.bias"].any()
    tokens = inputs["tokens"]
    with torch.no_grad():
        logits = model.decoder(tokens)[0]
    assert max_abs_diff(logits, outputs["full_logits"], _valid(inputs["lengths"], tokens.size(1))) <= TOL


@pytest.mark.parametrize("case, reason", [
    ("nmt", "model 'mega'.*NMT encoder-decoder"),
    ("lra_text/chunk8", "model 'lra'.*LRA classifier.*MegaForSequenceClassification"),
    ("lra_image", "model 'lra'.*LRA classifier"),
    ("sc_raw", "model 'sc_raw'.*speech-commands"),
])
def test_models_without_hf_counterpart_are_refused_with_the_reason(case, reason, tmp_path):
    with pytest.raises(ConversionError, match=reason) as error:
        to_hf(ORIGINAL / case / "checkpoint_last.pt", tmp_path / "out", remote_code=True)
    assert "\n" not in str(error.value)
    assert list(tmp_path.iterdir()) == []
