"""Datasets of the Mega tasks: pixel sequences, speech commands, variable-size LM training blocks."""

from mega_plugin.data import pixel_sequence_dataset, speech_commands_dataset, variable_block_dataset  # noqa: F401
