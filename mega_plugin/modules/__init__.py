"""Pure PyTorch Mega core (no fairseq import): EMA, gated attention, cross-attention, FFN, norms, layers."""

from mega_plugin.modules.cross_attention import GatedCrossAttention
from mega_plugin.modules.ema import MultiHeadEMA
from mega_plugin.modules.ffn import NormalizedFeedForwardNetwork
from mega_plugin.modules.gated_attention import MovingAverageGatedAttention
from mega_plugin.modules.layers import MegaDecoderLayer, MegaEncoderLayer, MegaLayerConfig, set_fast_attention
from mega_plugin.modules.norms import SequenceNorm
from mega_plugin.modules.position_bias import RotaryRelativePositionalBias, SimpleRelativePositionalBias

__all__ = [
    "GatedCrossAttention",
    "MegaDecoderLayer",
    "MegaEncoderLayer",
    "MegaLayerConfig",
    "MovingAverageGatedAttention",
    "MultiHeadEMA",
    "NormalizedFeedForwardNetwork",
    "RotaryRelativePositionalBias",
    "SequenceNorm",
    "SimpleRelativePositionalBias",
    "set_fast_attention",
]
