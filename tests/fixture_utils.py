"""Load the original-code oracle fixtures (tests/fixtures/original) without fairseq."""

import argparse
import collections
import pathlib

import numpy as np
import torch

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
ORIGINAL = FIXTURES / "original"

_SAFE_GLOBALS = [argparse.Namespace, collections.OrderedDict, np.dtype, np.dtypes.Float64DType, np.dtypes.Int64DType]
try:  # numpy >= 2
    from numpy._core.multiarray import scalar as _numpy_scalar
except ImportError:
    from numpy.core.multiarray import scalar as _numpy_scalar
_SAFE_GLOBALS.append(_numpy_scalar)


def load_case(name: str):
    """Returns ``(args, state_dict, inputs, outputs)`` of an original fixture case."""
    folder = ORIGINAL / name
    torch.serialization.add_safe_globals(_SAFE_GLOBALS)  # additive: never removes the plugin's allow-list
    checkpoint = torch.load(folder / "checkpoint_last.pt", map_location="cpu", weights_only=True)
    inputs = torch.load(folder / "inputs.pt", weights_only=True)
    outputs = torch.load(folder / "outputs.pt", weights_only=True)
    return checkpoint["args"], checkpoint["model"], inputs, outputs


def sub_state(state_dict, prefix: str):
    """Entries of ``state_dict`` under ``prefix`` with the prefix removed."""
    return {key[len(prefix):]: value for key, value in state_dict.items() if key.startswith(prefix)}


def max_abs_diff(a: torch.Tensor, b: torch.Tensor, mask=None) -> float:
    diff = (a.float() - b.float()).abs()
    if mask is not None:
        diff = diff[mask]
    return diff.max().item()
