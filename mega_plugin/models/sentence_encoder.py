"""Mega sentence encoder of the LRA and speech-commands classifiers (original ``MegaLRAEncoder`` /
``MegaSCRawEncoder``): embedding -> bidirectional Mega layers -> final norm (pre-norm) -> pooled sentence vector.

Text inputs are token ids ``[B, L]`` (padding from ``padding_idx``); real-valued inputs (pixels, audio) are floats
``[B, L]`` embedded by ``RealNumberEmbedding`` and never padded. No positional embedding and no embedding scale.
Pooling: ``mp`` = sum over time / ``src_lengths`` (pads zeroed), ``cls`` = the first position.
"""

import torch
import torch.nn as nn

from mega_plugin.models.embeddings import LRATokenEmbedding, RealNumberEmbedding
from mega_plugin.models.layer_config import sentence_encoder_config
from mega_plugin.modules import MegaEncoderLayer, SequenceNorm
from mega_plugin.modules.dropout import Dropout


class MegaSentenceEncoder(nn.Module):
    def __init__(self, args, vocab_size=None, padding_idx=None, embed_norm=True):
        super().__init__()
        if getattr(args, "sen_rep_type", "mp") not in ("mp", "cls"):
            raise ValueError(f"--sen-rep-type must be mp or cls, got {args.sen_rep_type!r}")
        dim = args.encoder_embed_dim
        self.padding_idx = padding_idx
        self.sen_rep_type = args.sen_rep_type
        if vocab_size is not None:
            self.embed_tokens = LRATokenEmbedding(vocab_size, dim, padding_idx)
        else:
            self.embed_tokens = RealNumberEmbedding(dim)
        self.embed_norm = None
        if embed_norm and getattr(args, "normalize_embedding", False):
            self.embed_norm = SequenceNorm(args.norm_type, dim)
        self.embedding_dropout = Dropout(args.dropout)
        cfg = sentence_encoder_config(args)
        self.layers = nn.ModuleList([MegaEncoderLayer(cfg) for _ in range(args.encoder_layers)])
        self.final_norm = SequenceNorm(args.norm_type, dim) if args.encoder_normalize_before else None

    def forward(self, tokens, src_lengths):
        """tokens ``[B, L]`` -> (``[last hidden [L, B, D]]``, sentence representation ``[B, D]``)."""
        padding_mask = None
        if self.padding_idx is not None:
            padding_mask = tokens.eq(self.padding_idx)
            padding_mask = padding_mask if padding_mask.any() else None
        x = self.embed_tokens(tokens)
        if self.embed_norm is not None:
            x = self.embed_norm(x)
        x = self.embedding_dropout(x)
        if padding_mask is not None:
            x = x.masked_fill(padding_mask.unsqueeze(-1), 0.0)
        x = x.transpose(0, 1)
        for layer in self.layers:
            x = layer(x, padding_mask)
        if self.final_norm is not None:
            x = self.final_norm(x)
        if padding_mask is not None:
            x = x.masked_fill(padding_mask.t().unsqueeze(-1), 0.0)
        if self.sen_rep_type == "cls":
            return [x], x[0]
        return [x], x.sum(0) / src_lengths.unsqueeze(1).to(x.dtype)

