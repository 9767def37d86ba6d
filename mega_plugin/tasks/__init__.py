"""fairseq tasks registered by the Mega plugin."""
