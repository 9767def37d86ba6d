"""The core imports and runs where fairseq cannot be imported."""

import subprocess
import sys

SCRIPT = """
import sys
sys.modules["fairseq"] = None  # any 'import fairseq' now fails, as if it were not installed
import torch
import mega_plugin.modules as m
layer = m.MegaDecoderLayer(m.MegaLayerConfig(embed_dim=4, hidden_dim=4, ffn_hidden_dim=4, z_dim=2, n_dim=2))
out, _ = layer(torch.randn(3, 1, 4))
assert out.shape == (3, 1, 4)
assert not any(name.startswith("fairseq") and sys.modules[name] is not None for name in sys.modules)
print("ok")
"""


def test_core_imports_without_fairseq():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
