"""Original LRA checkpoints (text ListOps-style chunk 8, image CIFAR-style batch norm) reproduce the original
outputs, through fairseq 0.12 (task + checkpoint_utils) and built directly from their args (no task)."""

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
from mega_plugin.models.lra import LRAModel, base_architecture
from plugin_utils import load_original

TOL = 1e-5
TEXT, IMAGE = "lra_text/chunk8", "lra_image"
DATA_FILES = {
    TEXT: {"src-bin.dict.txt": "src-bin/dict.txt", "label-bin.dict.txt": "label-bin/dict.txt"},
    IMAGE: {"test.src": "input/test.src", "test.label": "label/test.label"},
}


def _through_fairseq(case, tmp_path):
    for target in DATA_FILES[case].values():
        (tmp_path / target).parent.mkdir(parents=True, exist_ok=True)
    model, _, _ = load_original(case, tmp_path, DATA_FILES[case])
    _, _, inputs, outputs = load_fixture(case)
    return model, inputs, outputs


@pytest.fixture(params=["fairseq", "direct"])
def loader(request, tmp_path):
    """Load a fixture through fairseq's checkpoint_utils + task, or build the model from its args directly."""
    if request.param == "fairseq":
        return lambda case: _through_fairseq(case, tmp_path)
    return build_from_checkpoint


@pytest.mark.parametrize("case", [TEXT, IMAGE])
def test_logits_pooling_hidden_and_rows(case, loader):
    model, inputs, outputs = loader(case)
    tokens, lengths = inputs["src_tokens"], inputs["src_lengths"]
    with torch.no_grad():
        batch_logits = logits(model, tokens, lengths)
        (hidden,), pooled = model.encoder(tokens, lengths)
    assert max_abs_diff(batch_logits, outputs["logits"]) <= TOL
    assert max_abs_diff(pooled, outputs["sentence_rep"]) <= TOL
    # our encoder never pads to a chunk multiple: [L, B, D]; the original's extra chunk-padding rows are zeros
    length = tokens.size(1)
    assert hidden.shape == (length, tokens.size(0), outputs["last_hidden"].size(-1))
    valid = (torch.arange(length)[:, None] < lengths[None, :]).unsqueeze(-1).expand_as(hidden)
    assert max_abs_diff(hidden, outputs["last_hidden"][:length], mask=valid) <= TOL
    assert (hidden[~valid] == 0).all()
    assert (outputs["last_hidden"][length:] == 0).all()
    for row in range(tokens.size(0)):
        n = int(lengths[row])
        alone = logits(model, tokens[row : row + 1, :n], lengths[row : row + 1])
        assert max_abs_diff(alone, outputs[f"individual_logits_row{row}"]) <= TOL
        # padding invariance: the example alone == its row in the right-padded batch
        assert max_abs_diff(alone[0], batch_logits[row]) <= TOL


def test_text_fixture_batch_is_really_padded():
    """Guards the padding-invariance assertions above: the batch has pads and lengths that differ."""
    _, _, inputs, _ = load_fixture(TEXT)
    lengths = inputs["src_lengths"]
    assert lengths.min() < lengths.max() == inputs["src_tokens"].size(1)
    assert inputs["src_tokens"].eq(1).sum() == (lengths.max() - lengths).sum()


def test_image_train_mode_uses_batch_statistics(loader):
    model, inputs, outputs = loader(IMAGE)
    model.train()  # all dropouts are 0 in this checkpoint: only batch norm changes
    train_logits = logits(model, inputs["src_tokens"], inputs["src_lengths"])
    assert max_abs_diff(train_logits, outputs["logits_train_mode"]) <= TOL
    assert max_abs_diff(train_logits, outputs["logits"]) > 1e-3  # the two modes do differ


def test_text_batch_shorter_than_the_chunk():
    """The original asserted L % chunk == 0 and crashed when the longest sequence was shorter than the chunk
    (spec 4.5 #10); here L = 5 and 6 < chunk 8 work and equal the same inputs padded to the chunk."""
    model, inputs, _ = build_from_checkpoint(TEXT)
    assert model.args.chunk_size == 8
    tokens = inputs["src_tokens"][:, :6].clone()
    tokens[:, -1] = 2  # eos
    tokens[0, 4:] = torch.tensor([2, 1])  # first row: length 5 (one pad)
    lengths = torch.tensor([5, 6, 6, 6])
    short = logits(model, tokens, lengths)
    padded = torch.cat([tokens, torch.ones(tokens.size(0), 2, dtype=torch.long)], dim=1)  # L = 8 = chunk
    assert max_abs_diff(logits(model, padded, lengths), short) <= TOL
    assert max_abs_diff(logits(model, tokens[:1, :5], lengths[:1]), short[:1]) <= TOL


@pytest.mark.parametrize("case", [TEXT, IMAGE])
def test_original_command_parses_to_the_original_args(case):
    """The original train.py command, parsed by fairseq 0.12 with the plugin, yields the same model args
    (flags, architecture defaults and presence/absence) as stored in the original checkpoint."""
    original = load_fixture(case)[0]
    ours = parse_command(original_command(case))
    names = model_arg_names(LRAModel, base_architecture)
    differ = {name: (getattr(original, name, MISSING), getattr(ours, name, MISSING)) for name in sorted(names)
              if getattr(original, name, MISSING) != getattr(ours, name, MISSING)}
    assert not differ
    assert ours.arch == original.arch and ours.task == original.task
