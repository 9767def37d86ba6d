"""LR schedulers registered by the Mega plugin."""

from mega_plugin.optim import linear_decay  # noqa: F401
