"""Original and fairseq-0.12 checkpoints load with the restricted unpickler; a malicious pickle does not run."""

import argparse
import os
import pathlib

import pytest
import torch

from mega_plugin.compat.safe_load import load_checkpoint

ORIGINAL = pathlib.Path(__file__).parents[1] / "fixtures" / "original"
CASES = ["lm_softmax", "lm_laplace", "nmt", "lra_text/chunk8", "lra_image", "sc_raw"]


@pytest.mark.parametrize("case", CASES)
def test_original_checkpoints_load_with_the_restricted_unpickler(case):
    checkpoint = load_checkpoint(ORIGINAL / case / "checkpoint_last.pt")
    assert isinstance(checkpoint["args"], argparse.Namespace)
    assert all(isinstance(v, torch.Tensor) for v in checkpoint["model"].values())
    raw = torch.load(ORIGINAL / case / "checkpoint_last.pt", map_location="cpu")  # as fairseq 0.12 calls it
    assert raw["args"].arch == checkpoint["args"].arch


def test_fairseq_012_config_checkpoint_loads(tmp_path):
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [str(tmp_path), "--arch", "transformer_lm", "--task",
                                                "language_modeling", "--optimizer", "adam", "--lr", "0.1"])
    path = tmp_path / "checkpoint.pt"
    torch.save({"cfg": convert_namespace_to_omegaconf(args), "model": {"w": torch.ones(2)}}, path)
    loaded = load_checkpoint(path)
    assert loaded["cfg"].model._name == "transformer_lm"
    assert torch.equal(loaded["model"]["w"], torch.ones(2))


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def test_malicious_pickle_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"args": _Exploit(str(marker)), "model": {}}, path)
    with pytest.raises(Exception, match="(?i)weights_only|unsupported global"):
        load_checkpoint(path)
    from fairseq import checkpoint_utils

    with pytest.raises(Exception, match="(?i)weights_only|unsupported global"):
        checkpoint_utils.load_checkpoint_to_cpu(str(path))
    assert not marker.exists()
