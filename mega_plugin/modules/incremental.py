"""Per-module incremental decoding state, stored in a caller-owned dict.

Keys read ``"<module uuid>.<name>"`` exactly like fairseq's ``FairseqIncrementalState``, so the plugin's modules
share fairseq's ``incremental_state`` dict without importing fairseq. Every value is a dict of tensors (plus plain
ints); ``reorder_incremental_state`` index-selects every tensor along the batch dim (beam search).
"""

import uuid
from typing import Dict, Optional

import torch

State = Dict[str, Dict[str, Optional[torch.Tensor]]]


class IncrementalStateMixin:
    """Mixin for ``nn.Module`` subclasses; call ``_init_incremental_state()`` in ``__init__``."""

    _state_names: tuple = ()

    def _init_incremental_state(self) -> None:
        self._incremental_state_id = str(uuid.uuid4())

    def _state_key(self, name: str) -> str:
        return f"{self._incremental_state_id}.{name}"

    def get_incremental_state(self, incremental_state: Optional[State], name: str) -> Optional[dict]:
        if incremental_state is None:
            return None
        return incremental_state.get(self._state_key(name))

    def set_incremental_state(self, incremental_state: State, name: str, value: dict) -> None:
        incremental_state[self._state_key(name)] = value

    def reorder_incremental_state(self, incremental_state: State, new_order: torch.Tensor) -> None:
        for name in self._state_names:
            saved = self.get_incremental_state(incremental_state, name)
            if saved is None:
                continue
            reordered = {
                key: value.index_select(0, new_order) if isinstance(value, torch.Tensor) else value
                for key, value in saved.items()
            }
            self.set_incremental_state(incremental_state, name, reordered)
