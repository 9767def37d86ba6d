"""Converters between fairseq Mega checkpoints and the Hugging Face MegaConfig layout."""
