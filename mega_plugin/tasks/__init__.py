"""fairseq tasks registered by the Mega plugin."""

from mega_plugin.tasks import lra_image, lra_text, mega_language_modeling, speech_commands  # noqa: F401
