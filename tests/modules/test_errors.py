"""Bad configurations and inputs raise a ValueError that names the problem."""

import pytest
import torch

from mega_plugin.modules import (
    GatedCrossAttention,
    MegaDecoderLayer,
    MegaEncoderLayer,
    MegaLayerConfig,
    MovingAverageGatedAttention,
    MultiHeadEMA,
    SequenceNorm,
)
from mega_plugin.modules.activations import get_activation_fn


def small(**kwargs):
    base = dict(embed_dim=4, zdim=2, hdim=6, ndim=2)
    base.update(kwargs)
    return MovingAverageGatedAttention(**base)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(attention_activation="sigmoid"), "attention activation 'sigmoid'"),
        (dict(rel_pos_bias="alibi"), "relative position bias 'alibi'"),
        (dict(norm_type="groupnorm"), "norm type 'groupnorm'"),
        (dict(activation="swish"), "activation 'swish'"),
        (dict(zdim=3, rel_pos_bias="rotary"), "even z_dim"),
        (dict(truncation=-1), "truncation"),
    ],
)
def test_bad_configuration(kwargs, message):
    with pytest.raises(ValueError, match=message):
        small(**kwargs)


def test_bad_names_in_layer_config():
    with pytest.raises(ValueError, match="norm type"):
        MegaEncoderLayer(MegaLayerConfig(embed_dim=4, hidden_dim=4, z_dim=2, n_dim=2, norm_type="nope"))
    with pytest.raises(ValueError, match="activation"):
        get_activation_fn("tanhh")
    with pytest.raises(ValueError, match="norm type"):
        SequenceNorm("layer_norm", 4)


def test_simple_bias_shorter_than_sequence():
    layer = small(max_positions=5, rel_pos_bias="simple", bidirectional=True)
    layer(torch.randn(5, 1, 4))  # fits
    with pytest.raises(ValueError, match="exceeds the simple position bias table"):
        layer(torch.randn(6, 1, 4))
    # chunking sizes the table by the chunk, so any length works
    chunked = small(chunk_size=3, rel_pos_bias="simple", bidirectional=True)
    assert chunked(torch.randn(10, 1, 4))[0].shape == (10, 1, 4)


def test_rotary_bias_accepts_any_length():
    layer = small(max_positions=4, rel_pos_bias="rotary", bidirectional=True)
    assert layer(torch.randn(9, 2, 4))[0].shape == (9, 2, 4)


@pytest.mark.parametrize("shape", [(2, 6), (3, 4), (5, 3), (3,)])
def test_padding_mask_shape_mismatch(shape):
    layer = small(bidirectional=True)
    with pytest.raises(ValueError, match=r"padding_mask must have shape \[batch, length\] = \[3, 5\]"):
        layer(torch.randn(5, 3, 4), torch.zeros(shape, dtype=torch.bool))


def test_cross_attention_mask_shape_mismatch():
    cross = GatedCrossAttention(embed_dim=4, zdim=2)
    with pytest.raises(ValueError, match="padding_mask must have shape"):
        cross(torch.randn(3, 2, 4), torch.randn(5, 2, 4), torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="encoder output"):
        cross(torch.randn(3, 2, 4), None, incremental_state={})


def test_incremental_needs_a_causal_layer():
    with pytest.raises(ValueError, match="causal"):
        small(bidirectional=True)(torch.randn(2, 1, 4), incremental_state={})
    with pytest.raises(ValueError, match="bidirectional EMA"):
        MultiHeadEMA(4, 2, bidirectional=True)(torch.randn(2, 1, 4), incremental_state={})


def test_decoder_layer_without_encoder_output():
    cfg = MegaLayerConfig(embed_dim=4, hidden_dim=4, ffn_hidden_dim=4, z_dim=2, n_dim=2)
    layer = MegaDecoderLayer(cfg, cross_attention=True)
    with pytest.raises(ValueError, match="encoder output"):
        layer(torch.randn(3, 1, 4))
