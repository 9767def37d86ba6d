"""``mega-eval-lm``: chunked evaluation with a carried incremental state.

Segment scoring reproduces the original's chunk-by-chunk logits (lm_softmax fixture) and, for plugin models, the
full forward at any segment length; the CLI equals ``fairseq-eval-lm`` (full forward) on a small trained LM."""

import math
import random
import re
import subprocess
import sys

import pytest
import torch

from fixture_utils import ORIGINAL
from mega_plugin.cli.eval_lm import main as mega_eval_lm, segment_scores
from plugin_utils import PLUGIN_DIR, load_original, run_cli
from seq_model_helpers import StandInTask, dictionary, padded, parse_command


def test_segments_of_one_chunk_reproduce_the_original_chunked_evaluation(tmp_path):
    """lm_softmax (chunk 8): scoring in segments of 8 == log-probs of the original's incremental_chunk_logits."""
    model, _, _ = load_original("lm_softmax", tmp_path, {"dict.txt": "dict.txt"})
    tokens = torch.load(ORIGINAL / "lm_softmax" / "inputs.pt")["tokens"]
    chunk_logits = torch.load(ORIGINAL / "lm_softmax" / "outputs.pt")["incremental_chunk_logits"]
    source, target = tokens[:, :-1], tokens[:, 1:]
    with torch.no_grad():
        total, count = segment_scores(model, source, target, 8, pad=1)
    lprobs = torch.log_softmax(chunk_logits[:, :-1].double(), -1).gather(-1, target[..., None])[..., 0]
    keep = target.ne(1)
    assert count == int(keep.sum())
    assert total == pytest.approx(lprobs[keep].sum().item(), abs=1e-4)


def _tiny_lm(truncation):
    from mega_plugin.models.mega_lm import MegaLanguageModel

    args = parse_command(["--task", "language_modeling", "-a", "mega_lm_base", "--decoder-layers", "2",
                          "--decoder-embed-dim", "16", "--decoder-hidden-dim", "24", "--decoder-ffn-embed-dim", "24",
                          "--decoder-z-dim", "8", "--decoder-n-dim", "4", "--decoder-chunk-size", "4",
                          "--max-target-positions", "64",
                          *([] if truncation is None else ["--truncation-length", str(truncation)])])
    torch.manual_seed(0)
    return MegaLanguageModel.build_model(args, StandInTask(target=dictionary(20))).double().eval()


@pytest.mark.parametrize("truncation", [None, 5])
@pytest.mark.parametrize("segment", [1, 3, 4, 8, 11, 30])
def test_any_segment_length_scores_like_the_full_forward(truncation, segment):
    """Plugin models (chunk 4): segments of any length, chunk-aligned or not, with or without EMA truncation."""
    model = _tiny_lm(truncation)
    assert model.decoder.layers[0].mega_layer.move.truncation == truncation
    rng = random.Random(segment)
    rows = [[2] + [rng.randrange(4, 20) for _ in range(n)] for n in (29, 17, 23)]
    tokens = padded(rows)
    source, target = tokens[:, :-1], tokens[:, 1:]
    with torch.no_grad():
        total, count = segment_scores(model, source, target, segment, pad=1)
        lprobs = model.get_normalized_probs(model(source), log_probs=True)
    expected = lprobs.gather(-1, target[..., None])[..., 0][target.ne(1)]
    assert count == expected.numel() == 29 + 17 + 23
    assert total == pytest.approx(expected.sum().item(), abs=1e-4)  # fairseq log-softmaxes in float32


@pytest.fixture(scope="module")
def trained_lm(tmp_path_factory):
    """A small mega_lm_base (chunk 8, rotary, untruncated) trained a few updates on a toy corpus."""
    root = tmp_path_factory.mktemp("eval_lm")
    rng = random.Random(0)
    for split, count in (("train", 80), ("test", 12)):
        lines = [" ".join(f"w{(start + k) % 9}" for k in range(rng.randint(5, 14)))
                 for start in (rng.randrange(9) for _ in range(count))]
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    run_cli("preprocess", "--only-source", "--trainpref", root / "train.txt", "--testpref", root / "test.txt",
            "--destdir", root / "bin", "--workers", "1")
    run_cli("train", root / "bin", "--task", "language_modeling", "--arch", "mega_lm_base", "--decoder-layers", "2",
            "--decoder-embed-dim", "16", "--decoder-hidden-dim", "32", "--decoder-ffn-embed-dim", "32",
            "--decoder-z-dim", "8", "--decoder-n-dim", "4", "--decoder-chunk-size", "8", "--tokens-per-sample", "40",
            "--optimizer", "adam", "--lr", "0.01", "--batch-size", "8", "--max-update", "6", "--cpu",
            "--save-dir", root / "ckpt", "--no-epoch-checkpoints", "--valid-subset", "test", "--num-workers", "0",
            "--disable-validation")
    return root


_LOSSES = {}


def _fairseq_eval_lm(root, *extra):
    """fairseq-eval-lm's base-2 loss (full forward of each block), computed once per option set."""
    from fairseq import options
    from fairseq_cli import eval_lm

    if extra in _LOSSES:
        return _LOSSES[extra]
    argv = [str(root / "bin"), "--path", str(root / "ckpt" / "checkpoint_last.pt"), "--gen-subset", "test",
            "--tokens-per-sample", "40", "--batch-size", "4", "--cpu", "--user-dir", PLUGIN_DIR, *extra]
    args = options.parse_args_and_arch(options.get_eval_lm_parser(), argv)
    _LOSSES[extra] = float(eval_lm.main(args)["loss"])
    return _LOSSES[extra]


def _mega_eval_lm(root, *extra):
    return mega_eval_lm([str(root / "bin"), "--path", str(root / "ckpt" / "checkpoint_last.pt"), "--gen-subset",
                         "test", "--tokens-per-sample", "40", "--batch-size", "4", "--cpu", *extra])


@pytest.mark.parametrize("chunk_nums", [1, 2])
def test_chunked_evaluation_equals_fairseq_eval_lm(trained_lm, chunk_nums):
    """Blocks of 40 tokens in segments of 8 (5 segments) or 16 (8 + ... : 3 segments) with carried state."""
    full = _fairseq_eval_lm(trained_lm)
    chunked = _mega_eval_lm(trained_lm, "--chunk-nums", str(chunk_nums))
    assert 0.5 < full < math.log2(13)  # trained a little: better than uniform over the 13 types
    assert chunked == pytest.approx(full, abs=1e-6)


def test_test_chunk_size_overrides_the_model_chunk(trained_lm):
    """--test-chunk-size 16 (rotary model) == fairseq-eval-lm with the same chunk override, != the trained chunk."""
    overridden = _fairseq_eval_lm(trained_lm, "--model-overrides", "{'decoder_chunk_size': 16}")
    chunked = _mega_eval_lm(trained_lm, "--test-chunk-size", "16")
    assert chunked == pytest.approx(overridden, abs=1e-6)
    assert abs(chunked - _mega_eval_lm(trained_lm)) > 1e-4


def test_command_line(trained_lm):
    """``python -m mega_plugin.cli.eval_lm`` (the mega-eval-lm console script) prints loss and perplexity."""
    command = [sys.executable, "-m", "mega_plugin.cli.eval_lm", str(trained_lm / "bin"), "--path",
               str(trained_lm / "ckpt" / "checkpoint_last.pt"), "--gen-subset", "test", "--tokens-per-sample", "40",
               "--cpu", "--chunk-nums", "2", "--user-dir", PLUGIN_DIR]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r"Loss \(base 2\): ([0-9.]+), Perplexity: ([0-9.]+)", result.stdout + result.stderr)
    assert found is not None
    loss, perplexity = float(found.group(1)), float(found.group(2))
    assert loss == pytest.approx(_fairseq_eval_lm(trained_lm), abs=1e-4)
    assert perplexity == pytest.approx(2**loss, rel=1e-3)


def test_bad_options_are_refused(trained_lm):
    with pytest.raises(ValueError, match="context-window"):
        _mega_eval_lm(trained_lm, "--context-window", "8")
    with pytest.raises(ValueError, match="chunk-nums"):
        _mega_eval_lm(trained_lm, "--chunk-nums", "0")
    with pytest.raises(ValueError, match="--output-word-probs is not supported"):
        _mega_eval_lm(trained_lm, "--output-word-probs")
    with pytest.raises(ValueError, match="--softmax-batch is not supported"):
        _mega_eval_lm(trained_lm, "--softmax-batch", "64")
