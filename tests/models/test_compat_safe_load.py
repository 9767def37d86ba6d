"""Original and fairseq-0.12 checkpoints load with the restricted (weights-only) unpickler, also when fairseq
broadcasts a loaded state to other ranks; a malicious pickle is refused and never runs."""

import argparse
import io
import os
import pickle
import random

import numpy as np
import pytest
import torch

from mega_plugin.compat.safe_load import load_checkpoint
from fairseq import checkpoint_utils
from fairseq.distributed.utils import _put_tensors_in_obj, _split_tensors_from_obj
from plugin_utils import ORIGINAL, run_cli

CASES = ["lm_softmax", "lm_laplace", "nmt", "lra_text/chunk8", "lra_image", "sc_raw"]


@pytest.fixture(scope="module")
def fairseq_checkpoint(tmp_path_factory):
    """checkpoint_last.pt of a tiny transformer trained by fairseq 0.12's own trainer with ``--eval-bleu`` (the
    Mega NMT recipe's validation): its cfg keeps the argparse-style model options as a Namespace and its saved
    metrics hold numpy BLEU counts."""
    root = tmp_path_factory.mktemp("fairseq012")
    rng = random.Random(0)
    for split, count in (("train", 24), ("valid", 6)):
        lines = [" ".join(f"x{rng.randrange(6)}" for _ in range(rng.randint(2, 6))) for _ in range(count)]
        (root / f"{split}.src").write_text("\n".join(lines) + "\n")
        (root / f"{split}.tgt").write_text("\n".join(line.replace("x", "y") for line in lines) + "\n")
    run_cli("preprocess", "-s", "src", "-t", "tgt", "--trainpref", root / "train", "--validpref", root / "valid",
            "--destdir", root / "bin", "--joined-dictionary", "--workers", "1")
    run_cli("train", root / "bin", "-s", "src", "-t", "tgt", "--task", "translation", "--arch", "transformer",
            "--encoder-layers", "1", "--decoder-layers", "1", "--encoder-embed-dim", "8", "--decoder-embed-dim", "8",
            "--encoder-ffn-embed-dim", "8", "--decoder-ffn-embed-dim", "8", "--encoder-attention-heads", "1",
            "--decoder-attention-heads", "1", "--optimizer", "adam", "--lr", "0.001", "--max-update", "1",
            "--batch-size", "8", "--cpu", "--num-workers", "0", "--no-epoch-checkpoints", "--eval-bleu",
            "--eval-tokenized-bleu", "--best-checkpoint-metric", "bleu", "--maximize-best-checkpoint-metric",
            "--save-dir", root / "checkpoints")
    return root / "checkpoints" / "checkpoint_last.pt"


@pytest.mark.parametrize("case", CASES)
def test_original_checkpoints_load_through_fairseq(case):
    path = ORIGINAL / case / "checkpoint_last.pt"
    checkpoint = load_checkpoint(path)
    assert isinstance(checkpoint["args"], argparse.Namespace)
    assert all(isinstance(v, torch.Tensor) for v in checkpoint["model"].values())
    state = checkpoint_utils.load_checkpoint_to_cpu(str(path))  # torch.load(f) inside: weights_only by default
    assert state["cfg"].model.arch == checkpoint["args"].arch
    assert all(torch.equal(state["model"][k], v) for k, v in checkpoint["model"].items())


def test_fairseq_012_checkpoint_loads(fairseq_checkpoint):
    raw = load_checkpoint(fairseq_checkpoint)
    assert isinstance(raw["cfg"], dict)  # fairseq 0.12 stores its config as a plain container ...
    assert isinstance(raw["cfg"]["model"], argparse.Namespace)  # ... with argparse-style model options inside
    meters = {name: meter for _, name, _, meter in raw["extra_state"]["metrics"]["valid"]}
    assert isinstance(meters["_bleu_counts"]["sum"], np.ndarray)  # BLEU n-gram counts of --eval-bleu
    state = checkpoint_utils.load_checkpoint_to_cpu(str(fairseq_checkpoint))
    assert state["cfg"].model.arch == "transformer" and state["cfg"].task.eval_bleu
    assert all(torch.equal(state["model"][k], v) for k, v in raw["model"].items())


def _broadcast_round_trip(state):
    """What fairseq's broadcast_object does to a loaded state between rank 0 and the other ranks."""
    tensors = []
    skeleton = _split_tensors_from_obj(state, tensors)
    buffer = io.BytesIO()
    torch.save(skeleton, buffer)
    buffer.seek(0)
    return _put_tensors_in_obj(torch.load(buffer, map_location="cpu"), tensors)  # as fairseq calls it


@pytest.mark.parametrize("case", ["lm_laplace", "nmt"])
def test_loaded_original_state_survives_the_rank_broadcast(case):
    state = checkpoint_utils.load_checkpoint_to_cpu(str(ORIGINAL / case / "checkpoint_last.pt"))
    received = _broadcast_round_trip(state)
    assert received["cfg"] == state["cfg"] and vars(received["args"]) == vars(state["args"])
    assert all(torch.equal(received["model"][k], v) for k, v in state["model"].items())


def test_loaded_fairseq_012_state_survives_the_rank_broadcast(fairseq_checkpoint):
    state = checkpoint_utils.load_checkpoint_to_cpu(str(fairseq_checkpoint))
    received = _broadcast_round_trip(state)
    assert received["cfg"] == state["cfg"] and received["extra_state"].keys() == state["extra_state"].keys()
    meters = {name: meter for _, name, _, meter in received["extra_state"]["metrics"]["valid"]}
    sent = {name: meter for _, name, _, meter in state["extra_state"]["metrics"]["valid"]}
    assert np.array_equal(meters["_bleu_counts"]["sum"], sent["_bleu_counts"]["sum"])
    assert all(torch.equal(received["model"][k], v) for k, v in state["model"].items())


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def _object_array(*items):
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


@pytest.mark.parametrize("where", ["top", "inside_namespace", "inside_numpy_array"])
def test_malicious_pickle_is_refused_and_not_executed(tmp_path, where):
    marker = tmp_path / "pwned"
    payload = _Exploit(str(marker))
    args = {"top": lambda: payload, "inside_namespace": lambda: argparse.Namespace(arch="mega_lm", hook=payload),
            "inside_numpy_array": lambda: _object_array(1.0, payload)}[where]()
    path = tmp_path / "evil.pt"
    torch.save({"args": args, "model": {}}, path)
    culprit = "ObjectDType" if where == "inside_numpy_array" else "makedirs"
    with pytest.raises(pickle.UnpicklingError, match=rf"refusing to load .*evil\.pt: .*{culprit}"):
        load_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError, match=culprit):
        checkpoint_utils.load_checkpoint_to_cpu(str(path))
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError):  # the broadcast path refuses it too
        _broadcast_round_trip({"args": args})
    assert not marker.exists()


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.pt"):
        load_checkpoint(tmp_path / "absent.pt")
