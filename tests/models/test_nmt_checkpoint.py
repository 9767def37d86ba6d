"""The original NMT checkpoint through fairseq 0.12: logits, incremental decoding and fairseq-generate."""

import json
import re

import pytest
import torch

from fixture_utils import ORIGINAL, max_abs_diff
from plugin_utils import load_original, run_cli

TOL = 1e-5
CASE = ORIGINAL / "nmt"
DICTS = {"dict.src.txt": "dict.src.txt", "dict.tgt.txt": "dict.tgt.txt"}


@pytest.fixture(scope="module")
def fixture():
    return torch.load(CASE / "inputs.pt"), torch.load(CASE / "outputs.pt")


def test_logits_and_encoder_output(tmp_path, fixture):
    inputs, outputs = fixture
    model, _, _ = load_original("nmt", tmp_path, DICTS)
    valid = inputs["target"].ne(1)
    with torch.no_grad():
        encoder_out = model.encoder(inputs["src_tokens"], inputs["src_lengths"])
        logits = model(inputs["src_tokens"], inputs["src_lengths"], inputs["prev_output_tokens"])[0]
        lprobs = model.get_normalized_probs((logits, None), log_probs=True)
        state = {}
        prev = inputs["prev_output_tokens"]
        steps = [model.decoder(prev[:, : t + 1], encoder_out, incremental_state=state)[0] for t in range(prev.size(1))]
    assert max_abs_diff(encoder_out["encoder_out"][0], outputs["encoder_out"]) <= TOL
    assert torch.equal(encoder_out["encoder_padding_mask"][0], outputs["encoder_padding_mask"])
    assert max_abs_diff(logits, outputs["full_logits"], valid) <= TOL
    assert max_abs_diff(lprobs, outputs["full_lprobs"], valid) <= TOL
    assert max_abs_diff(torch.cat(steps, 1), outputs["incremental_logits"], valid) <= TOL


def test_fixed_cross_positions_make_left_padding_irrelevant(tmp_path, fixture):
    inputs, outputs = fixture
    model, _, _ = load_original("nmt", tmp_path, DICTS, original_cross_positions=False)
    src, prev, target = inputs["src_tokens"], inputs["prev_output_tokens"], inputs["target"]
    with torch.no_grad():
        left = model(src, inputs["src_lengths"], prev)[0]
        right = model(inputs["src_tokens_right_padded"], inputs["src_lengths"], prev)[0]
    valid = target.ne(1)
    assert max_abs_diff(left, right, valid) <= TOL
    # the original's own left- vs right-padded outputs differ by ~3
    assert max_abs_diff(outputs["full_logits"], outputs["full_logits_src_right_padded"], valid) > 1.0


def _hypotheses(output: str):
    """{sentence id: [(tokens, score), ...]} from fairseq-generate's H- lines."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"^H-(\d+)\t(\S+)\t(.*)$", line)
        if match:
            found.setdefault(match.group(1), []).append((match.group(3), float(match.group(2))))
    return found


@pytest.fixture(scope="module")
def data_bin(tmp_path_factory):
    root = tmp_path_factory.mktemp("nmt")
    for lang in ("src", "tgt"):
        (root / f"test.{lang}").write_text((CASE / f"test.{lang}").read_text())
    run_cli("preprocess", "--source-lang", "src", "--target-lang", "tgt", "--testpref", root / "test",
            "--srcdict", CASE / "dict.src.txt", "--tgtdict", CASE / "dict.tgt.txt", "--destdir", root / "bin")
    return root / "bin"


@pytest.mark.parametrize("name, extra", [
    ("generate_beam2_bs1", ["--beam", "2", "--nbest", "2", "--batch-size", "1"]),
    ("generate_beam2_bs5", ["--beam", "2", "--nbest", "2", "--batch-size", "5"]),
    ("generate_beam1_bs5", ["--beam", "1", "--nbest", "1", "--batch-size", "5"]),
])
def test_fairseq_generate_reproduces_original_hypotheses(data_bin, name, extra):
    output = run_cli("generate", data_bin, "--cpu", "--gen-subset", "test", "-s", "src", "-t", "tgt",
                     "--path", CASE / "checkpoint_last.pt", "--max-len-a", "1", "--max-len-b", "5", "--seed", "1",
                     *extra)
    got = _hypotheses(output)
    expected = json.loads((CASE / f"{name}.json").read_text())
    assert sorted(got) == sorted(expected)  # every sentence translated (batches are no longer dropped)
    for sentence, record in expected.items():
        want = [(h["tokens"], h["score"]) for h in record["hypotheses"]]
        assert [tokens for tokens, _ in got[sentence]] == [tokens for tokens, _ in want]
        for (_, score), (_, expected_score) in zip(got[sentence], want):
            assert abs(score - expected_score) <= 1e-4
