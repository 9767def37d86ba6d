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


def test_resume_training_from_an_original_checkpoint(tmp_path):
    """--restore-file continues the original run: update counter, Adam state and LR schedule carry over."""
    import random
    import re
    import shutil

    from plugin_utils import run_cli

    words = [line.split()[0] for line in (ORIGINAL / "lm_softmax" / "dict.txt").read_text().splitlines()]
    rng = random.Random(0)
    for split, count in (("train", 60), ("valid", 8)):
        lines = [" ".join(rng.choice(words) for _ in range(rng.randint(4, 15))) for _ in range(count)]
        (tmp_path / f"{split}.txt").write_text("\n".join(lines) + "\n")
    run_cli("preprocess", "--only-source", "--srcdict", ORIGINAL / "lm_softmax" / "dict.txt", "--trainpref",
            tmp_path / "train.txt", "--validpref", tmp_path / "valid.txt", "--destdir", tmp_path / "bin")
    save = tmp_path / "ckpt"
    save.mkdir()
    shutil.copy(ORIGINAL / "lm_softmax" / "checkpoint_last.pt", save / "checkpoint_last.pt")
    # the model flags of the original run (first line of its train.log)
    output = run_cli(
        "train", tmp_path / "bin", "--cpu", "--task", "language_modeling", "-a", "mega_lm", "--decoder-embed-dim", "16",
        "--decoder-hidden-dim", "32", "--decoder-ffn-embed-dim", "32", "--decoder-z-dim", "8", "--decoder-n-dim", "4",
        "--decoder-layers", "2", "--activation-fn", "silu", "--normalize-before", "--normalization-type", "layernorm",
        "--activation-dropout", "0.0", "--optimizer", "adam", "--lr", "0.01", "--adam-betas", "(0.9, 0.98)",
        "--clip-norm", "0.25", "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "5", "--warmup-init-lr", "0.0001",
        "--criterion", "cross_entropy", "--max-tokens", "256", "--max-update", "43", "--decoder-chunk-size", "8",
        "--rel-pos-bias", "rotary", "--truncation-length", "64", "--max-target-positions", "256",
        "--tokens-per-sample", "64", "--save-dir", save, "--log-format", "simple", "--log-interval", "1",
        "--no-epoch-checkpoints", "--reset-dataloader",
    )
    assert "Loaded checkpoint" in output and "@ 40 updates" in output
    first = re.search(r"num_updates=41, lr=([0-9.e-]+)", output)
    assert first is not None
    assert float(first.group(1)) == pytest.approx(0.01 * (5 / 41) ** 0.5, rel=1e-4)  # inverse_sqrt continued
