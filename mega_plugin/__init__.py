"""Mega (Ma et al. 2022) as a fairseq 0.12 ``--user-dir`` plugin.

Importing this package registers every model, architecture, task, criterion and LR scheduler of the
original Mega code with fairseq. The pure PyTorch core, :mod:`mega_plugin.modules`, needs no fairseq: where
fairseq is not installed, only the core is available.
"""

import importlib.util

if importlib.util.find_spec("fairseq") is not None:
    from mega_plugin import compat  # noqa: F401  (fairseq 0.12 fixes: safe checkpoint loading, batching)
    from mega_plugin import criterions, models, optim, tasks  # noqa: F401
    from mega_plugin.hub import MegaLM  # noqa: F401  (hub interface: from_pretrained, sample, score)
