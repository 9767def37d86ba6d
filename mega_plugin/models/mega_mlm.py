"""Mega masked language model (``--arch mega_mlm``, new: the original code has none) for fairseq's ``masked_lm``.

Token embedding (scaled by sqrt(D) unless --no-scale-embedding; optional --normalize-embedding) -> bidirectional
Mega layers (any length: chunks are padded inside the layers) -> final norm (with pre-norm, unless
--no-final-norm) -> ``lm_head`` (Linear with bias). It is the fairseq side of HF ``MegaForMaskedLM``; keys
``encoder.{embed_tokens,embed_norm,layers.{i},final_norm,lm_head}.*``. ``model(src_tokens [B, T])`` gives logits
``[B, T, V]``, or ``[M, V]`` at the ``masked_tokens`` positions (fairseq's ``masked_lm`` criterion).
"""

import math

import torch
import torch.nn as nn
from fairseq.models import FairseqEncoder, FairseqEncoderModel, register_model, register_model_architecture

from mega_plugin.models.arch_defaults import set_defaults
from mega_plugin.models.arguments import add_block_args, add_side_args
from mega_plugin.models.embeddings import token_embedding
from mega_plugin.models.layer_config import nmt_encoder_config
from mega_plugin.modules import MegaEncoderLayer, SequenceNorm
from mega_plugin.modules.dropout import Dropout


@register_model("mega_mlm")
class MegaMaskedLMModel(FairseqEncoderModel):
    def __init__(self, args, encoder):
        super().__init__(encoder)
        self.args = args

    @staticmethod
    def add_args(parser):
        add_block_args(parser)
        add_side_args(parser, "encoder")
        parser.add_argument("--no-final-norm", action="store_true", help="pre-norm without the final norm")
        parser.add_argument("--no-affine-final-norm", action="store_true", help="final norm without parameters")
        parser.add_argument("--share-encoder-input-output-embed", action="store_true", help="tie embedding and head")

    @classmethod
    def build_model(cls, args, task):
        mega_mlm(args)
        if getattr(args, "max_source_positions", None) is None:
            args.max_source_positions = getattr(args, "tokens_per_sample", None) or 512
        return cls(args, MegaMLMEncoder(args, task.source_dictionary))

    def forward(self, src_tokens, src_lengths=None, masked_tokens=None, **kwargs):
        return self.encoder(src_tokens, masked_tokens=masked_tokens)

    def max_positions(self):
        return self.args.max_source_positions


class MegaMLMEncoder(FairseqEncoder):
    def __init__(self, args, dictionary):
        super().__init__(dictionary)
        dim = args.encoder_embed_dim
        self.padding_idx = dictionary.pad()
        self.embed_tokens = token_embedding(len(dictionary), dim, self.padding_idx)
        self.embed_scale = 1.0 if args.no_scale_embedding else math.sqrt(dim)
        self.embed_norm = SequenceNorm(args.normalization_type, dim) if args.normalize_embedding else None
        self.embedding_dropout = Dropout(args.dropout)
        cfg = nmt_encoder_config(args)
        self.layers = nn.ModuleList([MegaEncoderLayer(cfg) for _ in range(args.encoder_layers)])
        with_final_norm = args.normalize_before and not args.no_final_norm
        self.final_norm = None
        if with_final_norm:
            self.final_norm = SequenceNorm(args.normalization_type, dim, affine=not args.no_affine_final_norm)
        self.lm_head = nn.Linear(dim, len(dictionary))
        nn.init.zeros_(self.lm_head.bias)
        if args.share_encoder_input_output_embed:
            self.lm_head.weight = self.embed_tokens.weight

    def forward(self, src_tokens, masked_tokens=None, **kwargs):
        """src_tokens ``[B, T]`` -> (logits ``[B, T, V]`` or ``[M, V]`` at masked positions, extra)."""
        padding_mask = src_tokens.eq(self.padding_idx)
        x = (self.embed_scale * self.embed_tokens(src_tokens)).transpose(0, 1)  # [T, B, D]
        if self.embed_norm is not None:
            x = self.embed_norm(x)
        x = self.embedding_dropout(x)
        if padding_mask.any():
            x = x.masked_fill(padding_mask.t().unsqueeze(-1), 0.0)
        else:
            padding_mask = None
        for layer in self.layers:
            x = layer(x, padding_mask)
        if self.final_norm is not None:
            x = self.final_norm(x)
        x = x.transpose(0, 1)
        if masked_tokens is not None:
            x = x[masked_tokens]
        return self.lm_head(x), {}

    def max_positions(self):
        return None


@register_model_architecture("mega_mlm", "mega_mlm")
def mega_mlm(args):
    set_defaults(args, encoder_embed_dim=512, encoder_hidden_dim=1024, encoder_z_dim=128, encoder_n_dim=16,
                 encoder_layers=6, encoder_chunk_size=-1, dropout=0.1, attention_dropout=0.0, hidden_dropout=0.0,
                 activation_dropout=0.0, feature_dropout=False, rel_pos_bias="simple", normalization_type="layernorm",
                 normalize_before=False, normalize_embedding=False, no_scale_embedding=False, no_final_norm=False,
                 no_affine_final_norm=False,
                 share_encoder_input_output_embed=False, activation_fn="silu", attention_activation_fn="softmax",
                 truncation_length=None)
    set_defaults(args, encoder_ffn_embed_dim=args.encoder_hidden_dim)
