"""Attention over values wider than the queries, attended in query-wide slices (the CPU flash path for long causal
rows; on CUDA when asked), equals softmax(q k^T (+ causal mask)) v formed explicitly."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import pytest

from mega_plugin.modules import attention
from mega_plugin.modules.attention import _sdpa


@pytest.fixture(autouse=True)
def slice_every_length(monkeypatch):
    monkeypatch.setattr(attention, "VALUE_SLICE_MIN_KEYS", {("cpu", True): 1, ("cpu", False): 1})


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 6), st.integers(1, 20), st.booleans(), st.integers(0, 99))
def test_sliced_attention_equals_explicit_softmax(length, q_width, v_width, causal, seed):
    generator = torch.Generator().manual_seed(seed)
    q, k = (torch.randn(2, 3, length, q_width, dtype=torch.float64, generator=generator) for _ in range(2))
    v = torch.randn(2, 3, length, v_width, dtype=torch.float64, generator=generator)
    future = torch.ones(length, length, dtype=torch.bool).triu(1) & causal
    weights = torch.softmax((q @ k.transpose(-1, -2)).masked_fill(future, float("-inf")), dim=-1)
    assert attention._slice_values(q, k, v, None, 0.0, causal) == (v_width > q_width)
    got = _sdpa(q, k, v, None, 0.0, is_causal=causal)
    assert got.shape == v.shape
    torch.testing.assert_close(got, weights @ v, atol=1e-12, rtol=0)


@pytest.mark.parametrize("causal", [False, True])
def test_layers_attending_value_slices_equal_the_reference_path(causal):
    """A whole layer with slicing from the first key: outputs and gradients equal the plain path's."""
    from mega_plugin.modules import MegaDecoderLayer, MegaEncoderLayer, MegaLayerConfig, set_fast_attention

    torch.manual_seed(0)
    cfg = MegaLayerConfig(embed_dim=16, hidden_dim=32, ffn_hidden_dim=32, z_dim=8, n_dim=4, chunk_size=-1,
                          rel_pos_bias="rotary", max_positions=64)
    layer = (MegaDecoderLayer if causal else MegaEncoderLayer)(cfg).double()
    x = torch.randn(24, 2, 16, dtype=torch.float64)
    results = []
    for fast in (True, False):
        set_fast_attention(layer, fast)
        inp = x.clone().requires_grad_()
        out = layer(inp)
        out = out[0] if isinstance(out, tuple) else out
        out.square().sum().backward()
        results.append((out.detach(), inp.grad))
        layer.zero_grad()
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-10, rtol=0)
    torch.testing.assert_close(results[0][1], results[1][1], atol=1e-10, rtol=0)
