"""Original mega_lm checkpoints load through fairseq 0.12 and reproduce the original's outputs (<= 1e-5)."""

import pytest
import torch

from fixture_utils import ORIGINAL, max_abs_diff
from plugin_utils import load_original

TOL = 1e-5


def _load(case, tmp_path, **overrides):
    model, _, _ = load_original(case, tmp_path, {"dict.txt": "dict.txt"}, **overrides)
    inputs = torch.load(ORIGINAL / case / "inputs.pt")
    outputs = torch.load(ORIGINAL / case / "outputs.pt")
    return model, inputs["tokens"], inputs["lengths"], outputs


@pytest.mark.parametrize("case", ["lm_softmax", "lm_laplace"])
def test_full_forward(case, tmp_path):
    model, tokens, lengths, outputs = _load(case, tmp_path)
    valid = tokens.ne(1)
    with torch.no_grad():
        assert max_abs_diff(model.decoder(tokens)[0], outputs["full_logits"], valid) <= TOL
        assert max_abs_diff(model(tokens, lengths)[0], outputs["model_forward_logits"], valid) <= TOL
        features = model.decoder(tokens, features_only=True)[0]
        assert max_abs_diff(features, outputs["full_features"], valid) <= TOL
        for row, length in enumerate(lengths.tolist()):
            alone = model.decoder(tokens[row : row + 1, :length])[0]
            assert max_abs_diff(alone, outputs[f"individual_logits_row{row}"]) <= TOL


def _decode(model, tokens, whole_prefix):
    state, steps = {}, []
    for t in range(tokens.size(1)):
        step = tokens[:, : t + 1] if whole_prefix else tokens[:, t : t + 1]
        steps.append(model.decoder(step, incremental_state=state)[0][:, -1:])
    return torch.cat(steps, 1)


@pytest.mark.parametrize("case", ["lm_softmax", "lm_laplace"])
@pytest.mark.parametrize("whole_prefix", [False, True])
def test_incremental_reproduces_the_original(case, whole_prefix, tmp_path):
    """Original checkpoints keep the original incremental EMA (which ignores truncation)."""
    model, tokens, _, outputs = _load(case, tmp_path)
    with torch.no_grad():
        logits = _decode(model, tokens, whole_prefix)
    assert max_abs_diff(logits, outputs["incremental_token_logits"], tokens.ne(1)) <= TOL


def test_fixed_incremental_ema_matches_full_forward(tmp_path):
    model, tokens, _, outputs = _load("lm_laplace", tmp_path, original_incremental_ema=False)
    with torch.no_grad():
        logits = _decode(model, tokens, whole_prefix=True)
    valid = tokens.ne(1)
    assert max_abs_diff(logits, outputs["full_logits"], valid) <= TOL
    assert max_abs_diff(logits, outputs["incremental_token_logits"], valid) > 1e-3


def test_chunk_by_chunk_evaluation(tmp_path):
    model, tokens, _, outputs = _load("lm_softmax", tmp_path)
    state = {}
    with torch.no_grad():
        logits = torch.cat(
            [model.decoder(tokens[:, i : i + 8], incremental_state=state)[0] for i in range(0, tokens.size(1), 8)], 1
        )
    assert max_abs_diff(logits, outputs["incremental_chunk_logits"], tokens.ne(1)) <= TOL


def test_beam_reordering_of_the_decoder_state(tmp_path):
    """Reordering the incremental state along the batch equals decoding the reordered batch."""
    model, tokens, _, _ = _load("lm_softmax", tmp_path)
    order = torch.tensor([2, 0, 0])
    with torch.no_grad():
        state = {}
        for t in range(5):
            model.decoder(tokens[:, : t + 1], incremental_state=state)
        model.decoder.reorder_incremental_state_scripting(state, order)
        reordered = model.decoder(tokens[order, :6], incremental_state=state)[0][:, -1]
        expected = model.decoder(tokens[order, :6])[0][:, -1]
    assert max_abs_diff(reordered, expected) <= TOL
