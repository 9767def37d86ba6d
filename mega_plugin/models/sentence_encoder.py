"""Mega sentence encoder of the LRA and speech-commands classifiers (original ``MegaLRAEncoder`` /
``MegaSCRawEncoder``): embedding -> bidirectional Mega layers -> final norm (pre-norm) -> pooled sentence vector.

Text inputs are token ids ``[B, L]`` (padding = ``padding_idx``, weights at ``embed_tokens.embed.weight``);
real-valued inputs (pixels, audio) are floats ``[B, L]`` embedded by ``RealNumberEmbedding`` and never masked.
No positional embedding, no embedding scale, any length (the layers chunk internally).
Pooling: ``mp`` = sum over time / ``src_lengths`` (pads zeroed first), ``cls`` = the first position.
"""

from typing import List, Optional, Tuple

import torch
import torch.nn as nn

from mega_plugin.models.embeddings import LRATokenEmbedding, RealNumberEmbedding
from mega_plugin.models.layer_config import sentence_encoder_config
from mega_plugin.modules import MegaEncoderLayer, SequenceNorm
from mega_plugin.modules.dropout import Dropout


class MegaSentenceEncoder(nn.Module):
    """``vocab_size`` given: token ids with a padding mask; else real numbers. ``embed_norm``: honour
    ``--normalize-embedding`` (the speech-commands encoder has no embedding norm)."""

    def __init__(self, args, vocab_size: Optional[int] = None, padding_idx: Optional[int] = None,
                 embed_norm: bool = True):
        super().__init__()
        if args.sen_rep_type not in ("mp", "cls"):
            raise ValueError(f"--sen-rep-type must be mp or cls, got {args.sen_rep_type!r}")
        dim = args.encoder_embed_dim
        self.sen_rep_type = args.sen_rep_type
        self.padding_idx = padding_idx if vocab_size is not None else None
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

    def forward(self, tokens: torch.Tensor, src_lengths: Optional[torch.Tensor]
                ) -> Tuple[List[torch.Tensor], torch.Tensor]:
        """tokens ``[B, L]`` -> (``[last hidden [L, B, D]]`` with pads zeroed, sentence vector ``[B, D]``)."""
        if tokens.dim() != 2:
            raise ValueError(f"expected inputs [batch, length], got shape {list(tokens.shape)}")
        if self.sen_rep_type == "mp" and src_lengths is None:
            raise ValueError("mean pooling (--sen-rep-type mp) needs src_lengths")
        padding_mask = None
        if self.padding_idx is not None:
            padding_mask = tokens.eq(self.padding_idx)
            padding_mask = padding_mask if padding_mask.any() else None
        x = self.embed_tokens(tokens)
        if self.embed_norm is not None:
            x = self.embed_norm(x.transpose(0, 1)).transpose(0, 1)
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
