"""Load original (fairseq 0.9 fork) and fairseq 0.12 checkpoints with ``torch.load(weights_only=True)``.

Root cause: torch >= 2.6 defaults ``torch.load`` to ``weights_only=True``, whose restricted unpickler refuses every
class or function outside an allow-list. fairseq 0.12's ``checkpoint_utils.load_checkpoint_to_cpu`` calls
``torch.load`` without the argument, so

* original checkpoints fail: they pickle an ``argparse.Namespace`` (``"args"``) and numpy scalars (``val_loss``);
* fairseq 0.12's own checkpoints fail too: models with argparse-style options (the original Mega archs, the
  transformer) keep ``cfg["model"]`` as an ``argparse.Namespace``, and ``--eval-bleu`` leaves numpy arrays (BLEU
  n-gram counts) and numpy scalars in the saved metrics;
* multi-process training fails when it resumes from any checkpoint: rank 0 loads the file and
  ``distributed.utils.broadcast_object`` sends the state to the other ranks through ``torch.save``/``torch.load``,
  with tensors replaced by ``_TensorPlaceholder`` objects and ``cfg`` already turned into an omegaconf ``DictConfig``.

Passing ``weights_only=False`` would run any code hidden in a malicious file. Instead, the data-only classes those
payloads contain are allow-listed (``torch.serialization.add_safe_globals``, process-wide, at import); anything else
is still refused.
"""

import argparse
import collections
import pickle
import re
import typing

import numpy as np
import torch

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct as _numpy_reconstruct
    from numpy._core.multiarray import scalar as _numpy_scalar
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct as _numpy_reconstruct
    from numpy.core.multiarray import scalar as _numpy_scalar

_NUMPY_DTYPE_CLASSES = ("Float64DType", "Float32DType", "Int64DType", "Int32DType", "BoolDType")


def checkpoint_globals() -> list:
    """Classes/functions a checkpoint (or fairseq's broadcast of a loaded one) may reference; all data-only."""
    allowed = [argparse.Namespace, collections.OrderedDict, collections.defaultdict, typing.Any, dict, list, int]
    allowed += [np.dtype, _numpy_scalar, np.ndarray, _numpy_reconstruct]
    if hasattr(np, "dtypes"):  # numpy >= 1.25 pickles dtypes through these classes
        allowed += [getattr(np.dtypes, name) for name in _NUMPY_DTYPE_CLASSES]
    from fairseq.distributed.utils import _TensorPlaceholder
    from omegaconf import DictConfig, ListConfig
    from omegaconf.base import ContainerMetadata, Metadata
    from omegaconf.nodes import AnyNode, BooleanNode, FloatNode, IntegerNode, StringNode

    allowed += [_TensorPlaceholder, DictConfig, ListConfig, ContainerMetadata, Metadata, AnyNode, BooleanNode,
                FloatNode, IntegerNode, StringNode]
    return allowed


def _allow_checkpoint_globals() -> None:
    if hasattr(torch.serialization, "add_safe_globals"):  # torch >= 2.4
        torch.serialization.add_safe_globals(checkpoint_globals())


def _refusal_reason(message: str) -> str:
    """The offending global (or torch's one-line reason) from a weights-only ``UnpicklingError`` message."""
    found = re.search(r"GLOBAL ([\w.]+)", message)
    if found:
        return f"it references {found.group(1)}"
    found = re.search(r"WeightsUnpickler error:\s*(.+)", message)
    return f"torch's weights-only unpickler says: {found.group(1).strip()}" if found else "torch refused it"


def load_checkpoint(path, map_location="cpu") -> dict:
    """``torch.load`` of a fairseq/Mega checkpoint with the restricted (weights-only) unpickler.

    Raises FileNotFoundError for a missing file and ``pickle.UnpicklingError`` naming the offending global when the
    file references anything outside the allow-list (nothing from the file is executed).
    """
    if not hasattr(torch.serialization, "add_safe_globals"):
        raise RuntimeError(f"loading checkpoints safely needs torch >= 2.4 (installed: {torch.__version__})")
    with open(path, "rb") as handle:
        try:
            return torch.load(handle, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as error:
            raise pickle.UnpicklingError(
                f"refusing to load {path}: {_refusal_reason(str(error))}; only tensors and allow-listed data types "
                f"(argparse/collections/numpy/omegaconf) are rebuilt, and nothing from the file was executed"
            ) from None


_allow_checkpoint_globals()
