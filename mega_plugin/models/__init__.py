"""fairseq models registered by the Mega plugin."""

from mega_plugin.models import mega_lm  # noqa: F401
from mega_plugin.models import mega_nmt  # noqa: F401
from mega_plugin.models import lra, sc_raw  # noqa: F401
from mega_plugin.models import mega_mlm  # noqa: F401
