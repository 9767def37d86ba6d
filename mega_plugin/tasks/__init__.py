"""fairseq tasks registered by the Mega plugin."""

from mega_plugin.tasks import lra_image, lra_text, speech_commands  # noqa: F401
