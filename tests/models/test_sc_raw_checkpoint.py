"""The original raw speech-commands checkpoint (batch norm, laplace, pre-norm, chunk 1000 over 16000 samples)
reproduces the original outputs, through fairseq 0.12 and built directly from its args (no task)."""

import pytest
import torch

from classifier_helpers import (
    MISSING,
    build_from_checkpoint,
    load_fixture,
    logits,
    model_arg_names,
    original_command,
    parse_command,
)
from fixture_utils import max_abs_diff
from mega_plugin.models.sc_raw import SCRawModel, sc_raw_base
from plugin_utils import load_original

TOL = 1e-5
CASE = "sc_raw"


@pytest.fixture(scope="module", params=["fairseq", "direct"])
def loaded(request, tmp_path_factory):
    if request.param == "fairseq":
        model, _, task = load_original(CASE, tmp_path_factory.mktemp("sc"), {})
        assert type(task).__name__ == "SpeechCommandsTask"
        _, _, inputs, outputs = load_fixture(CASE)
        return model, inputs, outputs
    return build_from_checkpoint(CASE)


def test_logits_pooling_hidden_and_rows(loaded):
    model, inputs, outputs = loaded
    model.eval()
    tokens, lengths = inputs["src_tokens"], inputs["src_lengths"]
    assert tokens.shape == (2, 16000) and tokens.dtype == torch.float32
    with torch.no_grad():
        batch_logits = logits(model, tokens, lengths)
        (hidden,), pooled = model.encoder(tokens, lengths)
    assert max_abs_diff(batch_logits, outputs["logits"]) <= TOL
    assert max_abs_diff(pooled, outputs["sentence_rep"]) <= TOL
    assert max_abs_diff(hidden[:128], outputs["last_hidden_first128"]) <= TOL
    assert max_abs_diff(hidden[-128:], outputs["last_hidden_last128"]) <= TOL
    # pooling = sum over all 16000 samples / src_lengths (16000)
    assert max_abs_diff(pooled, hidden.sum(0) / 16000.0) <= 1e-6
    for row in range(tokens.size(0)):
        alone = logits(model, tokens[row : row + 1], lengths[row : row + 1])
        assert max_abs_diff(alone, outputs[f"individual_logits_row{row}"]) <= TOL
        assert max_abs_diff(alone[0], batch_logits[row]) <= TOL


def test_train_mode_uses_batch_statistics(loaded):
    model, inputs, outputs = loaded
    model.train()  # all dropouts are 0 in this checkpoint: only batch norm changes
    try:
        train_logits = logits(model, inputs["src_tokens"], inputs["src_lengths"])
    finally:
        model.eval()
    assert max_abs_diff(train_logits, outputs["logits_train_mode"]) <= TOL
    assert max_abs_diff(train_logits, outputs["logits"]) > 1e-3


def test_length_not_a_multiple_of_the_chunk():
    """The original asserted T % chunk == 0; here 1500 samples (chunk 1000) work: finite logits, pooling is the
    mean of the hidden states, and each waveform alone gives its row of the batch."""
    model, inputs, _ = build_from_checkpoint(CASE)
    tokens = inputs["src_tokens"][:, :1500]
    lengths = torch.full((2,), 1500)
    with torch.no_grad():
        (hidden,), pooled = model.encoder(tokens, lengths)
        out = logits(model, tokens, lengths)
    assert hidden.shape == (1500, 2, 16) and out.shape == (2, 10)
    assert torch.isfinite(out).all()
    assert max_abs_diff(pooled, hidden.sum(0) / 1500.0) <= 1e-6
    assert max_abs_diff(logits(model, tokens[1:], lengths[1:])[0], out[1]) <= TOL


def test_original_command_parses_to_the_original_args():
    original = load_fixture(CASE)[0]
    ours = parse_command(original_command(CASE))
    names = model_arg_names(SCRawModel, sc_raw_base)
    differ = {name: (getattr(original, name, MISSING), getattr(ours, name, MISSING)) for name in sorted(names)
              if getattr(original, name, MISSING) != getattr(ours, name, MISSING)}
    assert not differ
    assert not hasattr(ours, "normalize_embedding")  # the original sc_raw never sets it
