"""Tensor transforms named in the key tables, each in both directions.

* ``embed_scale``: fairseq multiplies the embeddings by ``embed_scale`` (sqrt(D) unless --no-scale-embedding) at run
  time, HF never does: fairseq -> HF multiplies the weights; HF -> fairseq writes ``--no-scale-embedding``
  models, so the weights are copied as they are (``embed_scale == 1``).
* ``rel_pos_table``: the simple relative-position vector. fairseq keeps ``2C - 1`` entries when chunked
  (``2M - 1`` otherwise); HF always stores ``2M - 1`` and reads only the first ``2C - 1`` when chunked (centre at
  ``C - 1``). fairseq -> HF zero-pads the tail; HF -> fairseq cuts it off (the one lossy spot of a round trip,
  and a harmless one: HF never reads those entries).
"""

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Layout:
    """What the transforms need to know: the fairseq embedding scale, chunk size (<= 0: none), HF max_positions."""

    embed_scale: float
    chunk_size: int
    max_positions: int


def to_hf(name, value: torch.Tensor, layout: Layout) -> torch.Tensor:
    if name == "embed_scale":
        return value * layout.embed_scale if layout.embed_scale != 1.0 else value
    if name == "rel_pos_table":
        table = value.new_zeros(2 * layout.max_positions - 1)
        if value.numel() > table.numel():
            raise ValueError(f"simple position table of {value.numel()} entries does not fit HF max_positions "
                             f"{layout.max_positions}")
        table[: value.numel()] = value
        return table
    return value


def to_fairseq(name, value: torch.Tensor, layout: Layout) -> torch.Tensor:
    if name == "embed_scale":
        return value / layout.embed_scale if layout.embed_scale != 1.0 else value
    if name == "rel_pos_table" and layout.chunk_size > 0:
        return value[: 2 * layout.chunk_size - 1]
    return value
