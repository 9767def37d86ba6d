"""Original LRA (text, image) and speech-commands checkpoints through fairseq 0.12 reproduce the original outputs."""

import pytest
import torch

from fixture_utils import ORIGINAL, max_abs_diff
from plugin_utils import load_original

TOL = 1e-5
CASES = {
    "lra_text/chunk8": {"src-bin.dict.txt": "src-bin/dict.txt", "label-bin.dict.txt": "label-bin/dict.txt"},
    "lra_image": {"test.src": "input/test.src", "test.label": "label/test.label"},
    "sc_raw": {},
}


def _load(case, tmp_path):
    for target in CASES[case].values():
        (tmp_path / target).parent.mkdir(parents=True, exist_ok=True)
    model, _, task = load_original(case, tmp_path, CASES[case])
    return model, task, torch.load(ORIGINAL / case / "inputs.pt"), torch.load(ORIGINAL / case / "outputs.pt")


def _sample(tokens, lengths):
    return {"net_input": {"src_tokens": tokens, "src_lengths": lengths}}


@pytest.mark.parametrize("case", list(CASES))
def test_logits_pooling_and_rows(case, tmp_path):
    model, _, inputs, outputs = _load(case, tmp_path)
    tokens, lengths = inputs["src_tokens"], inputs["src_lengths"]
    with torch.no_grad():
        logits = model(_sample(tokens, lengths))["encoder_out"]
        hidden, pooled = model.encoder(tokens, lengths)
        assert max_abs_diff(logits, outputs["logits"]) <= TOL
        assert max_abs_diff(pooled, outputs["sentence_rep"]) <= TOL
        if "last_hidden" in outputs:
            length = hidden[0].size(0)
            assert max_abs_diff(hidden[0], outputs["last_hidden"][:length]) <= TOL
        for row in range(tokens.size(0)):
            length = int(lengths[row])
            alone = model(_sample(tokens[row : row + 1, :length], lengths[row : row + 1]))["encoder_out"]
            assert max_abs_diff(alone, outputs[f"individual_logits_row{row}"]) <= TOL


@pytest.mark.parametrize("case", ["lra_image", "sc_raw"])
def test_train_mode_batch_statistics(case, tmp_path):
    model, _, inputs, outputs = _load(case, tmp_path)
    model.train()
    with torch.no_grad():
        logits = model(_sample(inputs["src_tokens"], inputs["src_lengths"]))["encoder_out"]
    assert max_abs_diff(logits, outputs["logits_train_mode"]) <= TOL


def test_text_batch_shorter_than_the_chunk(tmp_path):
    """The original asserted L % chunk == 0 and crashed on short batches (L=5 < chunk 8 here)."""
    model, _, inputs, _ = _load("lra_text/chunk8", tmp_path)
    tokens = inputs["src_tokens"][:, :5].clone()
    tokens[:, -1] = 2
    lengths = torch.full((tokens.size(0),), 5)
    with torch.no_grad():
        batched = model(_sample(tokens, lengths))["encoder_out"]
        padded = torch.cat([tokens, torch.ones(tokens.size(0), 3, dtype=torch.long)], 1)
        assert max_abs_diff(model(_sample(padded, lengths))["encoder_out"], batched) <= TOL
