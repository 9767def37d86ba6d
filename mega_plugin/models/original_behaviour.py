"""Checkpoint format versions and the original code's behaviour switches.

The original Mega code stores a float buffer ``version = 3`` in the NMT encoder/decoder and the LM decoder.
Models built by this plugin store ``version = 4``. Two behaviours of the original are bugs that change outputs,
so they are reproduced only for checkpoints written by the original code (version < 4), unless the user says
otherwise with ``--original-incremental-ema`` / ``--original-cross-positions`` (``True``/``False``):

* incremental EMA ignores ``--truncation-length`` (infinite memory), while the full forward truncates;
* cross-attention indexes the relative position bias by the padded source index (left padding shifts it).
"""

import logging

import torch

from mega_plugin.modules.cross_attention import GatedCrossAttention
from mega_plugin.modules.ema import MultiHeadEMA

logger = logging.getLogger(__name__)

ORIGINAL_VERSION = 3.0
PLUGIN_VERSION = 4.0


def add_behaviour_args(parser) -> None:
    parser.add_argument("--original-incremental-ema", type=_optional_bool, metavar="BOOL",
                        help="incremental EMA ignores truncation like the original code "
                             "(default: only for original checkpoints)")
    parser.add_argument("--original-cross-positions", type=_optional_bool, metavar="BOOL",
                        help="cross-attention position bias counts source padding like the original code "
                             "(default: only for original checkpoints)")


def _optional_bool(value: str) -> bool:
    lowered = str(value).lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise ValueError(f"expected True or False, got {value!r}")


def apply_behaviour(model: torch.nn.Module, args, checkpoint_version: float) -> None:
    """Switch the original behaviours on or off in every sub-module of ``model``."""
    is_original = checkpoint_version < PLUGIN_VERSION
    incremental_ema = getattr(args, "original_incremental_ema", None)
    cross_positions = getattr(args, "original_cross_positions", None)
    incremental_ema = is_original if incremental_ema is None else incremental_ema
    cross_positions = is_original if cross_positions is None else cross_positions
    for module in model.modules():
        if isinstance(module, MultiHeadEMA):
            module.truncate_incremental = not incremental_ema
        elif isinstance(module, GatedCrossAttention):
            module.pad_invariant_positions = not cross_positions
    if is_original and (incremental_ema or cross_positions):
        logger.info(
            "checkpoint written by the original Mega code: reproducing its behaviour "
            "(incremental EMA ignores truncation: %s; cross-attention bias counts padding: %s)",
            incremental_ema, cross_positions,
        )
