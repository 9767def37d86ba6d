"""Command-line tools of the Mega plugin."""
