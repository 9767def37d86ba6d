"""Fixes that make stock fairseq 0.12 (fairseq-fixed on Python 3.11+) run the Mega recipes; applied on import."""

from mega_plugin.compat import batching, numpy_compat, safe_load  # noqa: F401
