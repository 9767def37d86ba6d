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
            assert abs(score - expected_score) <= TOL  # measured 4.8e-7


def test_individual_rows(tmp_path, fixture):
    """Each batch row alone (source without padding) reproduces the original's row-alone logits."""
    inputs, outputs = fixture
    model, _, _ = load_original("nmt", tmp_path, DICTS)
    with torch.no_grad():
        for row in range(inputs["src_tokens"].size(0)):
            src = inputs["src_tokens"][row][inputs["src_tokens"][row].ne(1)][None]
            length = int(inputs["target"][row].ne(1).sum())
            prev = inputs["prev_output_tokens"][row : row + 1, :length]
            logits = model(src, torch.tensor([src.size(1)]), prev)[0]
            assert max_abs_diff(logits, outputs[f"individual_logits_row{row}"]) <= TOL


@pytest.mark.parametrize("beam", [2, 1])
def test_python_generator_reproduces_the_original_searches(tmp_path, fixture, beam):
    """task.build_generator + task.inference_step on the fixture batch == the original's generate_python.pt."""
    inputs, _ = fixture
    expected = torch.load(CASE / "generate_python.pt")[f"beam{beam}"]
    model, cfg, task = load_original("nmt", tmp_path, DICTS)
    cfg.generation.beam, cfg.generation.nbest = beam, beam
    cfg.generation.max_len_a, cfg.generation.max_len_b = 1, 5
    generator = task.build_generator([model], cfg.generation)
    sample = {"id": inputs["id"], "target": inputs["target"],
              "net_input": {"src_tokens": inputs["src_tokens"], "src_lengths": inputs["src_lengths"],
                            "prev_output_tokens": inputs["prev_output_tokens"]}}
    with torch.no_grad():
        hypotheses = task.inference_step(generator, [model], sample)
    assert len(hypotheses) == len(expected)
    for got_row, want_row in zip(hypotheses, expected):
        assert [h["tokens"].tolist() for h in got_row] == [h["tokens"].tolist() for h in want_row]
        for got, want in zip(got_row, want_row):
            assert abs(float(got["score"]) - float(want["score"])) <= TOL
            assert max_abs_diff(got["positional_scores"], want["positional_scores"]) <= TOL


def _greedy(model, src, tgt_dict, max_len_a=1, max_len_b=5):
    """Greedy search written out (fairseq's rules: no pad, no </s> first, </s> forced at max length) for one
    unpadded source; returns (tokens as text, mean log2-probability incl. </s>)."""
    eos, pad = tgt_dict.eos(), tgt_dict.pad()
    max_len = int(max_len_a * int(src.ne(eos).sum()) + max_len_b)
    prev, scores = [eos], []
    with torch.no_grad():
        for step in range(max_len + 1):
            logits = model(src, torch.tensor([src.size(1)]), torch.tensor([prev]))[0][0, -1]
            lprobs = torch.log_softmax(logits.double(), -1)
            lprobs[pad] = float("-inf")
            if step == 0:
                lprobs[eos] = float("-inf")
            if step == max_len:
                lprobs[torch.arange(len(lprobs)) != eos] = float("-inf")
            token = int(lprobs.argmax())
            scores.append(float(lprobs[token]))
            prev.append(token)
            if token == eos:
                break
    return tgt_dict.string(torch.tensor(prev[1:-1])), sum(scores) / len(scores) / torch.log(torch.tensor(2.0)).item()


def test_fairseq_generate_beam1_batch1_is_greedy_search(data_bin, tmp_path):
    """No fixture for beam 1 at batch size 1: compare with greedy search computed from full forward passes."""
    output = run_cli("generate", data_bin, "--cpu", "--gen-subset", "test", "-s", "src", "-t", "tgt",
                     "--path", CASE / "checkpoint_last.pt", "--max-len-a", "1", "--max-len-b", "5", "--seed", "1",
                     "--beam", "1", "--nbest", "1", "--batch-size", "1")
    got = _hypotheses(output)
    model, _, task = load_original("nmt", tmp_path, DICTS)
    sources = (CASE / "test.src").read_text().splitlines()
    assert sorted(got) == [str(i) for i in range(len(sources))]
    for sentence, line in enumerate(sources):
        src = task.source_dictionary.encode_line(line, add_if_not_exist=False).long()[None]
        tokens, score = _greedy(model, src, task.target_dictionary)
        assert got[str(sentence)][0][0] == tokens
        assert abs(got[str(sentence)][0][1] - score) <= TOL
