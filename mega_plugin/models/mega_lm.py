"""Mega causal language model (``--arch mega_lm*``), checkpoint-compatible with the original code.

The decoder (original ``MegaDecoderNoCrossAttn``) embeds tokens (scaled by sqrt(D) unless --no-scale-embedding),
runs causal Mega layers and projects to the vocabulary. Incremental decoding accepts both conventions:
fairseq's SequenceGenerator passes the whole prefix each step; chunked evaluation (``mega-eval-lm``, and the
original code) passes only the new tokens. The rule: the decoder keeps the tokens it has consumed in the
incremental state; a call whose tokens are longer than that history and begin with it is a prefix call, and only
the part after the history is processed; any other call is new tokens only. The one ambiguous case, new tokens
that happen to begin with the whole history, is read as a prefix call; it needs a step longer than everything
consumed before it, which ``mega-eval-lm`` (equal segments) never makes.
"""

import math
from typing import List

import torch
import torch.nn as nn
from fairseq import utils
from fairseq.models import FairseqIncrementalDecoder, FairseqLanguageModel, register_model, register_model_architecture
from fairseq.modules import AdaptiveInput, AdaptiveSoftmax

from mega_plugin.models.arguments import add_block_args, add_side_args
from mega_plugin.models.embeddings import token_embedding
from mega_plugin.models.layer_config import decoder_config
from mega_plugin.models.original_behaviour import PLUGIN_VERSION, add_behaviour_args, apply_behaviour
from mega_plugin.modules import MegaDecoderLayer, SequenceNorm
from mega_plugin.models.arch_defaults import set_defaults
from mega_plugin.modules.dropout import Dropout

DEFAULT_MAX_TARGET_POSITIONS = 1024


@register_model("mega_lm")
class MegaLanguageModel(FairseqLanguageModel):
    def __init__(self, decoder, args):
        super().__init__(decoder)
        self.args = args

    @staticmethod
    def add_args(parser):
        add_block_args(parser)
        add_side_args(parser, "decoder")
        parser.add_argument("--decoder-input-dim", type=int, metavar="N", help="embedding dim before project_in_dim")
        parser.add_argument("--share-decoder-input-output-embed", action="store_true",
                            help="tie input/output embeddings")
        parser.add_argument("--adaptive-softmax-cutoff", metavar="EXPR", help="comma separated cutoffs")
        parser.add_argument("--adaptive-softmax-dropout", type=float, metavar="D")
        parser.add_argument("--adaptive-softmax-factor", type=float, metavar="N")
        parser.add_argument("--adaptive-input", action="store_true")
        parser.add_argument("--adaptive-input-factor", type=float, metavar="N")
        parser.add_argument("--adaptive-input-cutoff", metavar="EXPR")
        parser.add_argument("--tie-adaptive-weights", action="store_true")
        parser.add_argument("--tie-adaptive-proj", action="store_true")
        parser.add_argument("--no-affine-final-norm", action="store_true", help="final norm without parameters")
        parser.add_argument("--no-final-norm", action="store_true",
                            help="pre-norm without the final norm (the Hugging Face layout; not in the original)")
        parser.add_argument("--decoder-output-bias", action="store_true",
                            help="bias in the output projection (the Hugging Face layout; not in the original)")
        parser.add_argument("--report-ema-alpha", action="store_true", default=False, help="(original flag, unused)")
        parser.add_argument("--write-out-alpha", action="store_true", default=False, help="(original flag, unused)")
        add_behaviour_args(parser)

    @classmethod
    def build_model(cls, args, task):
        base_lm_architecture(args)
        if getattr(args, "max_target_positions", None) is None:
            args.max_target_positions = getattr(args, "tokens_per_sample", None) or DEFAULT_MAX_TARGET_POSITIONS
        dictionary = task.target_dictionary
        if args.adaptive_input:
            embed_tokens = AdaptiveInput(
                len(dictionary), dictionary.pad(), args.decoder_input_dim, args.adaptive_input_factor,
                args.decoder_embed_dim, utils.eval_str_list(args.adaptive_input_cutoff, type=int),
            )
        else:
            embed_tokens = token_embedding(len(dictionary), args.decoder_input_dim, dictionary.pad())
        if args.tie_adaptive_weights:
            if not args.adaptive_input:
                raise ValueError("--tie-adaptive-weights needs --adaptive-input")
            if args.adaptive_input_factor != args.adaptive_softmax_factor or \
                    args.adaptive_softmax_cutoff != args.adaptive_input_cutoff or \
                    args.decoder_input_dim != args.decoder_embed_dim:
                raise ValueError("--tie-adaptive-weights needs equal adaptive input/softmax factors, cutoffs and dims")
        model = cls(MegaLMDecoder(args, dictionary, embed_tokens), args)
        apply_behaviour(model, args, PLUGIN_VERSION)
        return model

    def forward(self, src_tokens, src_lengths=None, **kwargs):
        return self.decoder(src_tokens, **kwargs)

    def load_state_dict(self, state_dict, strict=True, model_cfg=None, args=None):
        result = super().load_state_dict(state_dict, strict=strict, model_cfg=model_cfg, args=args)
        apply_behaviour(self, self.args, float(self.decoder.version))
        return result


class MegaLMDecoder(FairseqIncrementalDecoder):
    """Causal Mega decoder without cross-attention (keys ``decoder.*`` of the original)."""

    def __init__(self, args, dictionary, embed_tokens):
        super().__init__(dictionary)
        self.register_buffer("version", torch.Tensor([PLUGIN_VERSION]))
        self.padding_idx = dictionary.pad()
        self.max_target_positions = args.max_target_positions
        embed_dim = args.decoder_embed_dim
        self.embed_tokens = embed_tokens
        self.embed_scale = 1.0 if args.no_scale_embedding else math.sqrt(embed_dim)
        self.project_in_dim = None
        if args.decoder_input_dim != embed_dim:
            self.project_in_dim = nn.Linear(args.decoder_input_dim, embed_dim, bias=False)
            nn.init.xavier_uniform_(self.project_in_dim.weight)
        self.embed_norm = SequenceNorm(args.normalization_type, embed_dim) if args.normalize_embedding else None
        self.embedding_dropout = Dropout(args.dropout)
        cfg = decoder_config(args)
        self.layers = nn.ModuleList([MegaDecoderLayer(cfg) for _ in range(args.decoder_layers)])
        self.final_norm = None
        if args.normalize_before and not args.no_final_norm:
            self.final_norm = SequenceNorm(args.normalization_type, embed_dim, affine=not args.no_affine_final_norm)
        self.adaptive_softmax = None
        self.output_projection = None
        if args.adaptive_softmax_cutoff is not None:
            self.adaptive_softmax = AdaptiveSoftmax(
                len(dictionary), embed_dim, utils.eval_str_list(args.adaptive_softmax_cutoff, type=int),
                dropout=args.adaptive_softmax_dropout,
                adaptive_inputs=embed_tokens if args.tie_adaptive_weights else None,
                factor=args.adaptive_softmax_factor, tie_proj=args.tie_adaptive_proj,
            )
        else:
            self.output_projection = nn.Linear(embed_dim, len(dictionary), bias=args.decoder_output_bias)
            if args.decoder_output_bias:
                nn.init.zeros_(self.output_projection.bias)
            if args.share_decoder_input_output_embed:
                self.output_projection.weight = self.embed_tokens.weight
            else:
                nn.init.normal_(self.output_projection.weight, mean=0.0, std=embed_dim**-0.5)

    def forward(self, prev_output_tokens, encoder_out=None, incremental_state=None, features_only=False,
                src_lengths=None, return_all_hiddens=False, **kwargs):
        """prev_output_tokens ``[B, T]`` -> (logits or features ``[B, T', *]``, extra)."""
        x, extra = self.extract_features(prev_output_tokens, incremental_state)
        if not features_only:
            x = self.output_layer(x)
        return x, extra

    def extract_features(self, prev_output_tokens, incremental_state=None, **kwargs):
        tokens = self._new_tokens(prev_output_tokens, incremental_state)
        padding_mask = tokens.eq(self.padding_idx)
        x = self.embed_scale * self.embed_tokens(tokens)
        if self.project_in_dim is not None:
            x = self.project_in_dim(x)
        if self.embed_norm is not None:
            x = self.embed_norm(x)
        x = self.embedding_dropout(x)
        if not padding_mask.any():
            padding_mask = None
        else:
            x = x.masked_fill(padding_mask.unsqueeze(-1), 0.0)
        x = x.transpose(0, 1)  # [T, B, D]
        inner_states: List[torch.Tensor] = [x]
        for layer in self.layers:
            x, _ = layer(x, padding_mask, incremental_state=incremental_state)
            inner_states.append(x)
        if self.final_norm is not None:
            x = self.final_norm(x)
        if padding_mask is not None:
            x = x.masked_fill(padding_mask.t().unsqueeze(-1), 0.0)
        return x.transpose(0, 1), {"inner_states": inner_states, "attn": [None]}

    def _new_tokens(self, tokens, incremental_state):
        """The tokens not yet consumed (see the module docstring) and the updated token history."""
        if incremental_state is None:
            return tokens
        saved = self.get_incremental_state(incremental_state, "consumed") or {}
        history = saved.get("tokens")
        if history is not None and tokens.size(1) > history.size(1) and \
                torch.equal(tokens[:, : history.size(1)], history):
            tokens = tokens[:, history.size(1):]
        history = tokens if history is None else torch.cat([history, tokens], dim=1)
        self.set_incremental_state(incremental_state, "consumed", {"tokens": history})
        return tokens

    def reorder_incremental_state(self, incremental_state, new_order):
        saved = self.get_incremental_state(incremental_state, "consumed")
        if saved is not None:
            self.set_incremental_state(incremental_state, "consumed",
                                       {"tokens": saved["tokens"].index_select(0, new_order)})

    def output_layer(self, features, **kwargs):
        return features if self.adaptive_softmax is not None else self.output_projection(features)

    def max_positions(self):
        return self.max_target_positions

    def get_normalized_probs(self, net_output, log_probs, sample=None):
        return self.get_normalized_probs_scriptable(net_output, log_probs, sample)


@register_model_architecture("mega_lm", "mega_lm")
def base_lm_architecture(args):
    set_defaults(args, decoder_embed_dim=512, decoder_hidden_dim=1664, decoder_z_dim=128, decoder_n_dim=16,
          decoder_layers=6, decoder_chunk_size=-1, dropout=0.1, attention_dropout=0.0, hidden_dropout=0.0,
          activation_dropout=0.0, adaptive_softmax_cutoff=None, adaptive_softmax_dropout=0,
          adaptive_softmax_factor=4, adaptive_input=False, adaptive_input_factor=4, adaptive_input_cutoff=None,
          tie_adaptive_weights=False, tie_adaptive_proj=False, feature_dropout=False, rel_pos_bias="simple",
          normalization_type="layernorm", normalize_before=False, normalize_embedding=False,
          no_scale_embedding=False, no_affine_final_norm=False, no_final_norm=False, decoder_output_bias=False,
          share_decoder_input_output_embed=False,
          activation_fn="silu", attention_activation_fn="softmax", truncation_length=2048)
    set_defaults(args, decoder_ffn_embed_dim=args.decoder_hidden_dim, decoder_input_dim=args.decoder_embed_dim)


@register_model_architecture("mega_lm", "mega_lm_big")
def mega_lm_big(args):
    set_defaults(args, decoder_layers=16, decoder_embed_dim=1024, decoder_hidden_dim=2048, decoder_ffn_embed_dim=2048,
          decoder_z_dim=256)
    base_lm_architecture(args)


@register_model_architecture("mega_lm", "mega_lm_adaptive_big")
def mega_lm_adaptive_big(args):
    set_defaults(args, dropout=0.3, attention_dropout=0.1, hidden_dropout=0.1, activation_dropout=0.1,
          adaptive_input=True, tie_adaptive_weights=True, tie_adaptive_proj=True, adaptive_input_cutoff="20000,60000",
          adaptive_softmax_cutoff="20000,60000", adaptive_softmax_dropout=0.2)
    mega_lm_big(args)


@register_model_architecture("mega_lm", "mega_lm_wiki103")
def mega_lm_wiki103(args):
    mega_lm_adaptive_big(args)


@register_model_architecture("mega_lm", "mega_lm_adaptive_base")
def mega_lm_adaptive_base(args):
    set_defaults(args, decoder_layers=16, decoder_embed_dim=768, decoder_hidden_dim=1536, decoder_ffn_embed_dim=1536,
          decoder_z_dim=128)
    mega_lm_adaptive_big(args)


@register_model_architecture("mega_lm", "mega_lm_enwik8_base")
def mega_lm_enwik8_base(args):
    set_defaults(args, decoder_layers=12, decoder_embed_dim=512, decoder_hidden_dim=1024, decoder_ffn_embed_dim=1024,
          decoder_z_dim=128, dropout=0.1, attention_dropout=0.0, hidden_dropout=0.0, activation_dropout=0.0)
    base_lm_architecture(args)


@register_model_architecture("mega_lm", "mega_lm_enwik8_large")
def mega_lm_enwik8_large(args):
    set_defaults(args, decoder_layers=24, decoder_embed_dim=1024, decoder_hidden_dim=1536, decoder_ffn_embed_dim=1536,
          decoder_z_dim=128, dropout=0.2, attention_dropout=0.1, hidden_dropout=0.1)
    base_lm_architecture(args)


@register_model_architecture("mega_lm", "mega_lm_base")
def mega_lm_base(args):
    """A base LM for new training runs (not in the original code).

    The enwik8-base shape of the paper (12 layers, D 512, H = F 1024, Z 128, N 16) with the settings the authors
    used for their released LMs: pre-norm layernorm without final-norm affine parameters, rotary relative
    position bias (so evaluation may use any chunk size), chunked attention (128 here: works for any
    --tokens-per-sample, the layers pad internally), untruncated EMA, shared input/output embeddings.
    """
    set_defaults(args, decoder_layers=12, decoder_embed_dim=512, decoder_hidden_dim=1024, decoder_ffn_embed_dim=1024,
          decoder_z_dim=128, decoder_n_dim=16, decoder_chunk_size=128, rel_pos_bias="rotary",
          normalize_before=True, no_affine_final_norm=True, share_decoder_input_output_embed=True,
          truncation_length=None, dropout=0.1, attention_dropout=0.0, hidden_dropout=0.0, activation_dropout=0.0)
    base_lm_architecture(args)
