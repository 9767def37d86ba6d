"""HF fixtures (tests/fixtures/hf) -> fairseq -> HF: logits, incremental decoding, exact round trips, refusals."""

import json

import pytest
import torch
from safetensors.torch import load_file

from conversion import ConversionError, from_hf, to_hf
from conversion_helpers import CAUSAL, HF, MASKED, TOL, hf_logits, load_fairseq
from fixture_utils import max_abs_diff


def _fairseq_logits(model, tokens, causal):
    with torch.no_grad():
        return model.decoder(tokens)[0] if causal else model(tokens)[0]


@pytest.mark.parametrize("case", CAUSAL + MASKED)
def test_from_hf_reproduces_the_hf_logits_in_fairseq(case, tmp_path):
    diff = from_hf(HF / case, tmp_path / "model.pt")
    assert 0 <= diff <= TOL
    model, task = load_fairseq(tmp_path / "model.pt")
    assert model.__class__.__name__ == ("MegaLanguageModel" if case in CAUSAL else "MegaMaskedLMModel")
    assert len(task.source_dictionary) == 64
    inputs, expected = torch.load(HF / case / "inputs.pt"), torch.load(HF / case / "expected.pt")
    logits = _fairseq_logits(model, inputs["input_ids"], case in CAUSAL)
    keep = inputs["attention_mask"].bool()
    assert logits.shape == expected["logits"].shape
    assert max_abs_diff(logits, expected["logits"], keep) <= TOL


@pytest.mark.parametrize("case", CAUSAL)
def test_converted_lm_decodes_incrementally_like_the_full_forward(case, tmp_path):
    """Where HF's own cached decoding is wrong (laplace: 0.445) or crashes (chunked), the converted model's
    token-by-token decoding equals HF's full forward."""
    from_hf(HF / case, tmp_path / "model.pt")
    model, _ = load_fairseq(tmp_path / "model.pt")
    inputs, expected = torch.load(HF / case / "inputs.pt"), torch.load(HF / case / "expected.pt")
    tokens, prompt = inputs["gen_input_ids"], int(inputs["prompt_len"])
    state, steps = {}, []
    with torch.no_grad():
        for end in range(prompt, tokens.size(1) + 1):
            steps.append(model.decoder(tokens[:, :end], incremental_state=state)[0][:, -1])
    full = expected["gen_full_logits"][:, prompt - 1:]
    assert max_abs_diff(torch.stack(steps, dim=1), full) <= TOL


@pytest.mark.parametrize("case", CAUSAL + MASKED)
def test_round_trip_hf_fairseq_hf_is_tensor_identical(case, tmp_path):
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

    from_hf(HF / case, tmp_path / "fs" / "model.pt")
    to_hf(tmp_path / "fs" / "model.pt", tmp_path / "hf")
    original, back = load_file(HF / case / "model.safetensors"), load_file(tmp_path / "hf" / "model.safetensors")
    config = json.loads((HF / case / "config.json").read_text())
    back_config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert set(back) == set(original)
    for key, value in original.items():
        if key.endswith("rel_pos_bias.rel_pos_bias") and config["use_chunking"]:
            used = 2 * config["chunk_size"] - 1  # HF never reads the tail of a chunked simple table
            assert torch.equal(back[key][:used], value[:used]) and not back[key][used:].any()
        else:
            assert torch.equal(back[key], value), key
    ignored = {"transformers_version", "use_cache", "dtype"}  # use_cache: see test_use_cache_is_off_where_hf_is_wrong
    assert {k: v for k, v in back_config.items() if k not in ignored} == \
        {k: v for k, v in config.items() if k not in ignored}
    auto = AutoModelForCausalLM if case in CAUSAL else AutoModelForMaskedLM
    reloaded = auto.from_pretrained(tmp_path / "hf").eval()
    inputs, expected = torch.load(HF / case / "inputs.pt"), torch.load(HF / case / "expected.pt")
    logits = hf_logits(reloaded, inputs["input_ids"], inputs["attention_mask"], case in CAUSAL)
    assert max_abs_diff(logits, expected["logits"], inputs["attention_mask"].bool()) <= TOL


@pytest.mark.parametrize("case, use_cache", [("clm_softmax_rotary", True), ("clm_laplace_simple", False),
                                             ("clm_softmax_simple_chunk4", False),
                                             ("clm_softmax_simple_postnorm_trunc4", False)])
def test_use_cache_is_off_where_hf_is_wrong(case, use_cache, tmp_path):
    """to-hf writes use_cache=False where HF's cached path is wrong (laplace, truncation) or crashes (chunking), so
    HF's default forward and generate use the full forward."""
    from transformers import AutoModelForCausalLM

    from_hf(HF / case, tmp_path / "fs" / "model.pt")
    to_hf(tmp_path / "fs" / "model.pt", tmp_path / "hf")
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["use_cache"] is use_cache
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    inputs, expected = torch.load(HF / case / "inputs.pt"), torch.load(HF / case / "expected.pt")
    with torch.no_grad():  # no use_cache argument: the config decides
        logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
    assert max_abs_diff(logits, expected["logits"], inputs["attention_mask"].bool()) <= TOL


def test_hf_only_features_are_refused_naming_them_and_nothing_is_written(tmp_path):
    with pytest.raises(ConversionError) as error:
        from_hf(HF / "mlm_hf_only_features", tmp_path / "out" / "model.pt")
    message = str(error.value)
    assert "\n" not in message
    assert "add_token_type_embeddings" in message and "add_lm_hidden_dense_layer" in message
    assert list(tmp_path.iterdir()) == []


def test_sequence_classification_is_refused_with_the_reason(tmp_path):
    config = json.loads((HF / "mlm_softmax_rotary" / "config.json").read_text())
    config["architectures"] = ["MegaForSequenceClassification"]
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConversionError, match="MegaForSequenceClassification: its head .* tanh"):
        from_hf(tmp_path / "hf", tmp_path / "out" / "model.pt")
    assert not (tmp_path / "out").exists()


def test_family_comes_from_is_decoder_when_architectures_is_missing(tmp_path):
    import shutil

    shutil.copytree(HF / "clm_softmax_simple_postnorm_trunc4", tmp_path / "hf")
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    del config["architectures"]
    (tmp_path / "hf" / "config.json").write_text(json.dumps(config))
    assert from_hf(tmp_path / "hf", tmp_path / "fs" / "model.pt") <= TOL
    model, _ = load_fairseq(tmp_path / "fs" / "model.pt")
    assert model.__class__.__name__ == "MegaLanguageModel" and model.decoder.final_norm is None
