"""Datasets of the Mega tasks (pixel sequences, speech commands)."""
