"""Load original (fairseq 0.9 fork) and fairseq 0.12 checkpoints with ``torch.load(weights_only=True)``.

torch >= 2.6 defaults ``torch.load`` to ``weights_only=True``, whose restricted unpickler refuses anything that
is not a tensor or a plain container. fairseq 0.12's ``load_checkpoint_to_cpu`` calls ``torch.load`` without the
argument, so original checkpoints (a pickled ``argparse.Namespace`` under ``"args"``) fail to load, and passing
``weights_only=False`` would execute any code hidden in a malicious file. Instead, the few data-only classes that
checkpoints really contain are allow-listed; anything else is still refused by torch.
"""

import argparse
import collections
import typing

import numpy as np
import torch

try:  # numpy >= 2
    from numpy._core.multiarray import scalar as _numpy_scalar
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import scalar as _numpy_scalar


def checkpoint_globals() -> list:
    """Classes/functions a Mega checkpoint may reference: argparse/collections/numpy data, omegaconf configs."""
    allowed = [argparse.Namespace, collections.OrderedDict, collections.defaultdict, typing.Any, dict, list, int,
               np.dtype, _numpy_scalar]
    allowed += [getattr(np.dtypes, name) for name in ("Float64DType", "Float32DType", "Int64DType", "Int32DType",
                                                      "BoolDType") if hasattr(np, "dtypes")]
    try:
        from omegaconf import DictConfig, ListConfig
        from omegaconf.base import ContainerMetadata, Metadata
        from omegaconf.nodes import AnyNode, BooleanNode, EnumNode, FloatNode, IntegerNode, StringNode

        allowed += [DictConfig, ListConfig, ContainerMetadata, Metadata, AnyNode, BooleanNode, EnumNode, FloatNode,
                    IntegerNode, StringNode]
    except ImportError:
        pass
    return allowed


torch.serialization.add_safe_globals(checkpoint_globals())


def load_checkpoint(path, map_location="cpu") -> dict:
    """``torch.load`` of a fairseq/Mega checkpoint with the restricted (weights-only) unpickler."""
    with open(path, "rb") as handle:
        return torch.load(handle, map_location=map_location, weights_only=True)
