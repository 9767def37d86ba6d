"""Mega encoder-decoder for translation (``--arch mega*``), checkpoint-compatible with the original code.

Encoder: scaled embeddings -> bidirectional Mega layers (-> final norm with pre-norm). Decoder: causal Mega layers,
each followed by gated cross-attention over the encoder output, then the output projection. In incremental mode
the decoder keeps only the last token of ``prev_output_tokens`` (fairseq's SequenceGenerator convention).

Source padding: fairseq's translation task LEFT-pads the source. An unchunked encoder does not care (the EMA and
the relative position bias only see offsets, pads are zeroed and masked), but with ``--encoder-chunk-size C`` and a
source longer than C, left padding moves the chunk boundaries, so a sentence's encoding would depend on the batch.
Models built by this plugin (``version`` 4) therefore move every row's real tokens to the front before the encoder
layers and put the outputs back in the caller's layout afterwards (``encoder_out`` stays aligned with
``src_tokens``). Original checkpoints (``version`` 3) keep the original behaviour (chunks over the padded
positions), like their cross-attention positions; ``--original-cross-positions`` switches both.
"""

import math

import torch
import torch.nn as nn
from fairseq.models import (
    FairseqEncoder,
    FairseqEncoderDecoderModel,
    FairseqIncrementalDecoder,
    register_model,
    register_model_architecture,
)

from mega_plugin.models.arguments import add_block_args, add_side_args
from mega_plugin.models.embeddings import token_embedding
from mega_plugin.models.layer_config import decoder_config, nmt_encoder_config
from mega_plugin.models.original_behaviour import PLUGIN_VERSION, add_behaviour_args, apply_behaviour
from mega_plugin.modules import MegaDecoderLayer, MegaEncoderLayer, SequenceNorm
from mega_plugin.models.arch_defaults import set_defaults
from mega_plugin.modules.cross_attention import CROSS_ATTENTION_INITS
from mega_plugin.modules.dropout import Dropout

DEFAULT_MAX_POSITIONS = 1024


@register_model("mega")
class MegaModel(FairseqEncoderDecoderModel):
    def __init__(self, args, encoder, decoder):
        super().__init__(encoder, decoder)
        self.args = args

    @staticmethod
    def add_args(parser):
        add_block_args(parser)
        add_side_args(parser, "encoder")
        add_side_args(parser, "decoder")
        parser.add_argument("--share-decoder-input-output-embed", action="store_true", help="tie decoder in/out")
        parser.add_argument("--share-all-embeddings", action="store_true", help="one embedding for both sides")
        parser.add_argument("--adaptive-softmax-cutoff", metavar="EXPR", help="(not supported by Mega NMT)")
        parser.add_argument("--adaptive-softmax-dropout", type=float, metavar="D", help="(not supported)")
        parser.add_argument("--cross-attention-init", choices=CROSS_ATTENTION_INITS,
                            help="init of the cross-attention projections: normal (the original's N(0, 0.02), "
                                 "default) or xavier (learns to use the source much faster in narrow models)")
        add_behaviour_args(parser)

    @classmethod
    def build_model(cls, args, task):
        base_architecture(args)
        if getattr(args, "max_source_positions", None) is None:
            args.max_source_positions = DEFAULT_MAX_POSITIONS
        if getattr(args, "max_target_positions", None) is None:
            args.max_target_positions = DEFAULT_MAX_POSITIONS
        if args.adaptive_softmax_cutoff is not None:
            raise ValueError("--adaptive-softmax-cutoff is not supported by the Mega NMT model")
        for side in ("encoder", "decoder"):
            if getattr(args, f"{side}_embed_path", None):
                raise ValueError(f"--{side}-embed-path (pre-trained embeddings) is not supported")
        src_dict, tgt_dict = task.source_dictionary, task.target_dictionary
        encoder_embed = token_embedding(len(src_dict), args.encoder_embed_dim, src_dict.pad())
        if args.share_all_embeddings:
            if src_dict != tgt_dict:
                raise ValueError("--share-all-embeddings requires a joined dictionary")
            if args.encoder_embed_dim != args.decoder_embed_dim:
                raise ValueError("--share-all-embeddings requires --encoder-embed-dim == --decoder-embed-dim")
            decoder_embed = encoder_embed
            args.share_decoder_input_output_embed = True
        else:
            decoder_embed = token_embedding(len(tgt_dict), args.decoder_embed_dim, tgt_dict.pad())
        model = cls(args, MegaEncoder(args, src_dict, encoder_embed), MegaDecoder(args, tgt_dict, decoder_embed))
        model._apply_behaviour(PLUGIN_VERSION)
        return model

    def load_state_dict(self, state_dict, strict=True, model_cfg=None, args=None):
        result = super().load_state_dict(state_dict, strict=strict, model_cfg=model_cfg, args=args)
        self._apply_behaviour(float(self.decoder.version))
        return result

    def _apply_behaviour(self, version: float) -> None:
        """Original-code behaviours for original checkpoints (see ``original_behaviour``), incl. encoder chunks."""
        apply_behaviour(self, self.args, version)
        original_positions = getattr(self.args, "original_cross_positions", None)
        if original_positions is None:
            original_positions = version < PLUGIN_VERSION
        self.encoder.pad_invariant_chunks = not original_positions


class _EmbeddingMixin:
    """Scaled token embedding, optional embedding norm, dropout and pad zeroing shared by both sides."""

    def _init_embedding(self, args, embed_tokens, embed_dim):
        self.embed_tokens = embed_tokens
        self.embed_scale = 1.0 if args.no_scale_embedding else math.sqrt(embed_dim)
        self.embed_norm = SequenceNorm(args.normalization_type, embed_dim) if args.normalize_embedding else None
        self.embedding_dropout = Dropout(args.dropout)

    def _embed(self, tokens):
        """tokens ``[B, T]`` -> (x ``[T, B, D]``, padding mask ``[B, T]`` or None, scaled embedding ``[B, T, D]``)."""
        embedding = self.embed_scale * self.embed_tokens(tokens)
        x = self.embed_norm(embedding) if self.embed_norm is not None else embedding
        x = self.embedding_dropout(x)
        padding_mask = tokens.eq(self.padding_idx)
        if padding_mask.any():
            x = x.masked_fill(padding_mask.unsqueeze(-1), 0.0)
        else:
            padding_mask = None
        return x.transpose(0, 1), padding_mask, embedding


class MegaEncoder(_EmbeddingMixin, FairseqEncoder):
    """Bidirectional Mega encoder; ``pad_invariant_chunks`` (see the module docstring) is set by ``MegaModel``."""

    def __init__(self, args, dictionary, embed_tokens):
        super().__init__(dictionary)
        self.register_buffer("version", torch.Tensor([PLUGIN_VERSION]))
        self.padding_idx = dictionary.pad()
        self.max_source_positions = args.max_source_positions
        self._init_embedding(args, embed_tokens, args.encoder_embed_dim)
        cfg = nmt_encoder_config(args)
        self.chunk_size = cfg.chunk_size
        self.pad_invariant_chunks = True
        self.layers = nn.ModuleList([MegaEncoderLayer(cfg) for _ in range(args.encoder_layers)])
        self.final_norm = None
        if args.normalize_before:
            self.final_norm = SequenceNorm(args.normalization_type, args.encoder_embed_dim)

    def forward(self, src_tokens, src_lengths=None, return_all_hiddens=False):
        """src_tokens ``[B, T]`` (any padding side) -> fairseq encoder-out dict (``encoder_out`` ``[T, B, D]``)."""
        order = self._real_tokens_first(src_tokens)
        if order is not None:
            src_tokens = src_tokens.gather(1, order)
        x, padding_mask, embedding = self._embed(src_tokens)
        states = [x] if return_all_hiddens else []
        for layer in self.layers:
            x = layer(x, padding_mask)
            if return_all_hiddens:
                states.append(x)
        if self.final_norm is not None:
            x = self.final_norm(x)
        if padding_mask is not None:
            x = x.masked_fill(padding_mask.t().unsqueeze(-1), 0.0)
        if order is not None:  # back to the caller's layout
            x, states = _unpermute(x, order, 0), [_unpermute(s, order, 0) for s in states]
            embedding, padding_mask = _unpermute(embedding, order, 1), _unpermute(padding_mask, order, 1)
        return {
            "encoder_out": [x],  # [T, B, D]
            "encoder_padding_mask": [] if padding_mask is None else [padding_mask],  # [B, T]
            "encoder_embedding": [embedding],  # [B, T, D]
            "encoder_states": states,
            "src_tokens": [],
            "src_lengths": [],
        }

    def _real_tokens_first(self, src_tokens):
        """Per-row time order ``[B, T]`` putting real tokens first, or None when chunks are not affected."""
        if not self.pad_invariant_chunks or self.chunk_size <= 0 or src_tokens.size(1) <= self.chunk_size:
            return None
        padding_mask = src_tokens.eq(self.padding_idx)
        if not padding_mask[:, :-1].gt(padding_mask[:, 1:]).any():  # already right-padded (or no padding)
            return None
        return padding_mask.long().sort(dim=1, stable=True).indices

    def reorder_encoder_out(self, encoder_out, new_order):
        return {
            "encoder_out": [x.index_select(1, new_order) for x in encoder_out["encoder_out"]],
            "encoder_padding_mask": [m.index_select(0, new_order) for m in encoder_out["encoder_padding_mask"]],
            "encoder_embedding": [e.index_select(0, new_order) for e in encoder_out["encoder_embedding"]],
            "encoder_states": [s.index_select(1, new_order) for s in encoder_out["encoder_states"]],
            "src_tokens": [],
            "src_lengths": [],
        }

    def max_positions(self):
        return self.max_source_positions


def _unpermute(x, order, time_dim):
    """Inverse of ``x.gather(time_dim, order)`` for ``order`` ``[B, T]`` (time at ``time_dim``, batch at the other)."""
    index = order if time_dim == 1 else order.t()
    index = index.reshape(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return torch.empty_like(x).scatter_(time_dim, index, x)


class MegaDecoder(_EmbeddingMixin, FairseqIncrementalDecoder):
    def __init__(self, args, dictionary, embed_tokens):
        super().__init__(dictionary)
        self.register_buffer("version", torch.Tensor([PLUGIN_VERSION]))
        self.padding_idx = dictionary.pad()
        self.max_target_positions = args.max_target_positions
        self._init_embedding(args, embed_tokens, args.decoder_embed_dim)
        cfg = decoder_config(args)
        self.layers = nn.ModuleList([MegaDecoderLayer(cfg, cross_attention=True) for _ in range(args.decoder_layers)])
        self.final_norm = None
        if args.normalize_before:
            self.final_norm = SequenceNorm(args.normalization_type, args.decoder_embed_dim)
        self.output_projection = nn.Linear(args.decoder_embed_dim, len(dictionary), bias=False)
        if args.share_decoder_input_output_embed:
            self.output_projection.weight = self.embed_tokens.weight
        else:
            nn.init.normal_(self.output_projection.weight, mean=0.0, std=args.decoder_embed_dim**-0.5)

    def forward(self, prev_output_tokens, encoder_out=None, incremental_state=None, features_only=False,
                full_context_alignment=False, alignment_layer=None, src_lengths=None, return_all_hiddens=False):
        x, extra = self.extract_features(prev_output_tokens, encoder_out, incremental_state, alignment_layer,
                                         full_context_alignment=full_context_alignment)
        if not features_only:
            x = self.output_layer(x)
        return x, extra

    def extract_features(self, prev_output_tokens, encoder_out=None, incremental_state=None, alignment_layer=None,
                         **kwargs):
        if encoder_out is None:
            raise ValueError("the Mega NMT decoder needs the encoder output")
        if kwargs.get("full_context_alignment"):
            raise ValueError("full_context_alignment (non-causal decoding) is not supported by the Mega decoder")
        if incremental_state is not None:
            prev_output_tokens = prev_output_tokens[:, -1:]
        alignment_layer = len(self.layers) - 1 if alignment_layer is None else alignment_layer
        enc = encoder_out["encoder_out"][0]
        enc_mask = encoder_out["encoder_padding_mask"][0] if encoder_out["encoder_padding_mask"] else None
        x, padding_mask, _ = self._embed(prev_output_tokens)
        inner_states, attn = [x], None
        for index, layer in enumerate(self.layers):
            x, layer_attn = layer(x, padding_mask, enc, enc_mask, incremental_state, need_attn=index == alignment_layer)
            inner_states.append(x)
            if index == alignment_layer and layer_attn is not None:
                attn = layer_attn.float()
        if self.final_norm is not None:
            x = self.final_norm(x)
        if padding_mask is not None:
            x = x.masked_fill(padding_mask.t().unsqueeze(-1), 0.0)
        return x.transpose(0, 1), {"attn": [attn], "inner_states": inner_states}

    def output_layer(self, features):
        return self.output_projection(features)

    def max_positions(self):
        return self.max_target_positions


@register_model_architecture("mega", "mega")
def base_architecture(args):
    set_defaults(args, encoder_embed_path=None, encoder_embed_dim=512, encoder_hidden_dim=1024, encoder_z_dim=128,
          encoder_n_dim=16, encoder_layers=6, encoder_chunk_size=-1)
    set_defaults(args, encoder_ffn_embed_dim=args.encoder_hidden_dim)
    set_defaults(args, decoder_embed_path=None, decoder_embed_dim=args.encoder_embed_dim,
          decoder_hidden_dim=args.encoder_hidden_dim, decoder_ffn_embed_dim=args.encoder_ffn_embed_dim,
          decoder_z_dim=args.encoder_z_dim, decoder_n_dim=args.encoder_n_dim, decoder_layers=6,
          decoder_chunk_size=args.encoder_chunk_size)
    set_defaults(args, decoder_input_dim=args.decoder_embed_dim, dropout=0.1, attention_dropout=0.0, hidden_dropout=0.0,
          activation_dropout=0.0, feature_dropout=False, rel_pos_bias="simple", normalization_type="layernorm",
          normalize_before=False, normalize_embedding=False, no_scale_embedding=False, adaptive_softmax_cutoff=None,
          adaptive_softmax_dropout=0, share_decoder_input_output_embed=False, share_all_embeddings=False,
          adaptive_input=False, activation_fn="silu", attention_activation_fn="softmax", truncation_length=1024,
          tie_adaptive_weights=False)
    if args.normalize_before and args.normalize_embedding:
        raise ValueError("--normalize-before and --normalize-embedding cannot be combined")


@register_model_architecture("mega", "mega_wmt_en_de")
def mega_wmt_en_de(args):
    set_defaults(args, encoder_embed_dim=512, encoder_hidden_dim=1024, encoder_ffn_embed_dim=1024, encoder_z_dim=128,
          dropout=0.1, attention_dropout=0.1, hidden_dropout=0.1, activation_dropout=0.1)
    base_architecture(args)


@register_model_architecture("mega", "mega_wmt_en_de_big")
def mega_wmt_en_de_big(args):
    set_defaults(args, encoder_embed_dim=1024, encoder_hidden_dim=2048, encoder_ffn_embed_dim=2048, encoder_z_dim=256,
          dropout=0.3, attention_dropout=0.1, hidden_dropout=0.1, activation_dropout=0.1)
    base_architecture(args)
