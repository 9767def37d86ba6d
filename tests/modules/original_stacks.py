"""Pure-PyTorch stacks that assemble the core modules the way the original models do, for oracle tests.

Only embeddings, pad zeroing, final norms and output projections are added here; every Mega computation comes
from :mod:`mega_plugin.modules`.
"""

import math

import torch.nn as nn

from fixture_utils import sub_state
from mega_plugin.modules import MegaDecoderLayer, MegaEncoderLayer, MegaLayerConfig, SequenceNorm


def _load(module: nn.Module, state_dict, prefix: str) -> nn.Module:
    module.load_state_dict(sub_state(state_dict, prefix), strict=True)
    return module.eval()


def _final_norm(norm_type, dim, state_dict, prefix, affine=True):
    if not any(key.startswith(prefix) for key in state_dict):
        return None
    return _load(SequenceNorm(norm_type, dim, affine=affine), state_dict, prefix)


class DecoderStack(nn.Module):
    """LM (``mega_lm``) or NMT decoder: scaled embedding -> causal layers -> final norm -> projection."""

    def __init__(self, args, state_dict, cross_attention=False, **overrides):
        super().__init__()
        cfg = MegaLayerConfig(
            embed_dim=args.decoder_embed_dim, hidden_dim=args.decoder_hidden_dim,
            ffn_hidden_dim=args.decoder_ffn_embed_dim, z_dim=args.decoder_z_dim, n_dim=args.decoder_n_dim,
            activation=args.activation_fn, attention_activation=args.attention_activation_fn,
            chunk_size=args.decoder_chunk_size, truncation=args.truncation_length,
            norm_type=args.normalization_type, prenorm=args.normalize_before, rel_pos_bias=args.rel_pos_bias,
            max_positions=args.max_target_positions,
            cross_max_positions=max(args.max_target_positions, getattr(args, "max_source_positions", 0)),
            **overrides,
        )
        layers = nn.ModuleList([MegaDecoderLayer(cfg, cross_attention) for _ in range(args.decoder_layers)])
        self.layers = _load(layers, state_dict, "decoder.layers.")
        self.final_norm = _final_norm(
            args.normalization_type, args.decoder_embed_dim, state_dict, "decoder.final_norm.",
            affine=not getattr(args, "no_affine_final_norm", False),
        )
        self.embed = state_dict["decoder.embed_tokens.weight"]
        self.projection = state_dict["decoder.output_projection.weight"]
        self.pad = 1

    def forward(self, tokens, encoder_out=None, encoder_padding_mask=None, incremental_state=None, inner=None):
        pad = tokens.eq(self.pad)
        x = self.embed[tokens] * math.sqrt(self.embed.size(1))
        x = x.masked_fill(pad.unsqueeze(-1), 0.0).transpose(0, 1)
        for layer in self.layers:
            if inner is not None:
                inner.append(x)
            x, _ = layer(x, pad, encoder_out, encoder_padding_mask, incremental_state)
        if inner is not None:
            inner.append(x)
        if self.final_norm is not None:
            x = self.final_norm(x)
        x = x.masked_fill(pad.t().unsqueeze(-1), 0.0).transpose(0, 1)
        return x @ self.projection.t()


class NMTEncoderStack(nn.Module):
    """``mega`` encoder: scaled embedding -> bidirectional layers -> final norm (pads zeroed)."""

    def __init__(self, args, state_dict):
        super().__init__()
        cfg = MegaLayerConfig(
            embed_dim=args.encoder_embed_dim, hidden_dim=args.encoder_hidden_dim,
            ffn_hidden_dim=args.encoder_ffn_embed_dim, z_dim=args.encoder_z_dim, n_dim=args.encoder_n_dim,
            activation=args.activation_fn, attention_activation=args.attention_activation_fn,
            chunk_size=args.encoder_chunk_size, truncation=args.truncation_length,
            norm_type=args.normalization_type, prenorm=args.normalize_before, rel_pos_bias=args.rel_pos_bias,
            max_positions=args.max_source_positions,
        )
        layers = nn.ModuleList([MegaEncoderLayer(cfg) for _ in range(args.encoder_layers)])
        self.layers = _load(layers, state_dict, "encoder.layers.")
        self.final_norm = _final_norm(args.normalization_type, args.encoder_embed_dim, state_dict, "encoder.final_norm.")
        self.embed = state_dict["encoder.embed_tokens.weight"]

    def forward(self, tokens):
        pad = tokens.eq(1)
        x = (self.embed[tokens] * math.sqrt(self.embed.size(1))).masked_fill(pad.unsqueeze(-1), 0.0).transpose(0, 1)
        for layer in self.layers:
            x = layer(x, pad)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return x.masked_fill(pad.t().unsqueeze(-1), 0.0), pad


class SentenceEncoderStack(nn.Module):
    """LRA / speech-commands encoder: unscaled embedding -> bidirectional layers -> final norm -> mean pooling."""

    def __init__(self, args, state_dict):
        super().__init__()
        cfg = MegaLayerConfig(
            embed_dim=args.encoder_embed_dim, hidden_dim=args.encoder_hidden_dim,
            ffn_hidden_dim=args.encoder_ffn_embed_dim, z_dim=args.z_dim, n_dim=args.n_dim,
            activation=args.activation_fn, attention_activation=args.attention_activation_fn,
            chunk_size=args.chunk_size, truncation=args.truncation_length, norm_type=args.norm_type,
            prenorm=args.encoder_normalize_before, rel_pos_bias=args.rel_pos_bias, max_positions=args.max_positions,
        )
        layers = nn.ModuleList([MegaEncoderLayer(cfg) for _ in range(args.encoder_layers)])
        self.layers = _load(layers, state_dict, "encoder.encoder.layers.")
        self.final_norm = _final_norm(args.norm_type, args.encoder_embed_dim, state_dict, "encoder.encoder.final_norm.")
        self.token_embed = state_dict.get("encoder.encoder.embed_tokens.embed.weight")
        self.real_weight = state_dict.get("encoder.encoder.embed_tokens.weight")
        self.real_bias = state_dict.get("encoder.encoder.embed_tokens.bias")

    def forward(self, src_tokens, src_lengths):
        if self.token_embed is not None:
            pad = src_tokens.eq(1)
            x = self.token_embed[src_tokens].masked_fill(pad.unsqueeze(-1), 0.0)
        else:
            pad = None
            x = src_tokens.unsqueeze(-1) * self.real_weight + self.real_bias
        x = x.transpose(0, 1)
        for layer in self.layers:
            x = layer(x, pad)
        if self.final_norm is not None:
            x = self.final_norm(x)
        if pad is not None:
            x = x.masked_fill(pad.t().unsqueeze(-1), 0.0)
        return x, x.sum(0) / src_lengths.unsqueeze(1).to(x.dtype)
