"""Criterions registered by the Mega plugin."""

from mega_plugin.criterions import lra_cross_entropy  # noqa: F401
