"""Long Range Arena classifier (``--arch mega_lra_*``), checkpoint-compatible with the original ``lra`` model.

``model(sample)`` takes the whole sample (as the original and ``lra_cross_entropy`` do): the sentence encoder pools
each input; for two-document retrieval (``net_input1``) the second document's vector comes first; then
``classifier_layers`` x (Linear -> dropout -> activation) and a bias-free ``sentence_projection_layer``.
"""

import torch
import torch.nn as nn
from fairseq.models import FairseqEncoder, FairseqEncoderModel, register_model, register_model_architecture

from mega_plugin.models.sentence_encoder import MegaSentenceEncoder
from mega_plugin.modules.activations import ACTIVATIONS, ATTENTION_ACTIVATIONS, get_activation_fn
from mega_plugin.modules.norms import NORM_TYPES
from mega_plugin.models.arch_defaults import set_defaults
from mega_plugin.modules.position_bias import REL_POS_BIAS_TYPES


class SentenceEncoderWrapper(FairseqEncoder):
    """Holds the Mega sentence encoder under ``encoder.encoder`` (the original key layout)."""

    def __init__(self, args, dictionary, encoder):
        super().__init__(dictionary)
        self.encoder = encoder
        self.max_positions_value = args.max_positions

    def forward(self, src_tokens, src_lengths=None, **kwargs):
        return self.encoder(src_tokens, src_lengths)

    def max_positions(self):
        return self.max_positions_value


class SentenceClassificationModel(FairseqEncoderModel):
    """Encoder + classifier head shared by the LRA and speech-commands models."""

    def __init__(self, args, encoder):
        super().__init__(encoder)
        self.args = args
        if getattr(args, "layer_type", "mega") != "mega":
            raise ValueError(f"--layer-type {args.layer_type!r} is not available: this plugin implements Mega only")
        in_dim, out_dim = args.classifier_in_dim, args.classifier_out_dim
        self.classifier = nn.ModuleList()
        for index in range(args.classifier_layers):
            linear = nn.Linear(in_dim if index == 0 else out_dim, out_dim)
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)
            self.classifier.append(nn.Sequential(linear, nn.Dropout(args.dropout)))
        self.classifier_activation = get_activation_fn(args.classifier_activation_fn)
        self.sentence_projection_layer = nn.Linear(out_dim, args.sentence_class_num, bias=False)
        nn.init.xavier_uniform_(self.sentence_projection_layer.weight)

    def classify(self, rep: torch.Tensor) -> torch.Tensor:
        for layer in self.classifier:
            rep = self.classifier_activation(layer(rep))
        return self.sentence_projection_layer(rep)

    def forward(self, sample):
        net_input = sample["net_input"]
        rep = self.encoder(net_input["src_tokens"], net_input["src_lengths"])[1]
        if "net_input1" in sample:
            other = sample["net_input1"]
            rep = torch.cat([self.encoder(other["src_tokens"], other["src_lengths"])[1], rep], dim=-1)
        return {"encoder_out": self.classify(rep)}

    def get_normalized_probs(self, net_output, log_probs, sample=None):
        logits = net_output["encoder_out"].float()
        return torch.log_softmax(logits, dim=-1) if log_probs else torch.softmax(logits, dim=-1)

    def max_positions(self):
        return self.args.max_positions


def add_classifier_args(parser):
    """Flags of the original LRA / speech-commands models (several accepted but unused by Mega)."""
    parser.add_argument("--dropout", type=float, metavar="D")
    parser.add_argument("--attention-dropout", type=float, metavar="D")
    parser.add_argument("--act-dropout", type=float, metavar="D", help="dropout on v and after the FFN activation")
    parser.add_argument("--feature-dropout", action="store_true")
    parser.add_argument("--encoder-hidden-dim", type=int, metavar="N")
    parser.add_argument("--encoder-ffn-embed-dim", type=int, metavar="N")
    parser.add_argument("--z-dim", type=int, metavar="N")
    parser.add_argument("--n-dim", type=int, metavar="N")
    parser.add_argument("--encoder-layers", type=int, metavar="N")
    parser.add_argument("--encoder-embed-dim", type=int, metavar="N")
    parser.add_argument("--max-positions", type=int, help="longest input (sizes the simple position bias)")
    parser.add_argument("--rel-pos-bias", choices=REL_POS_BIAS_TYPES, default="simple")
    parser.add_argument("--sentence-class-num", type=int, metavar="N")
    parser.add_argument("--sent-loss", action="store_true", help="(unused)")
    parser.add_argument("--apply-bert-init", action="store_true", help="(unused by Mega)")
    parser.add_argument("--activation-fn", choices=ACTIVATIONS)
    parser.add_argument("--attention-activation-fn", choices=ATTENTION_ACTIVATIONS)
    parser.add_argument("--classifier-activation-fn", choices=ACTIVATIONS)
    parser.add_argument("--encoder-normalize-before", action="store_true", help="pre-norm (adds a final norm)")
    parser.add_argument("--encoder-layerdrop", type=float, default=0.0, help="(ignored by Mega)")
    parser.add_argument("--layer-type", choices=["transformer", "luna", "lstm", "flash", "mega"])
    parser.add_argument("--norm-type", choices=NORM_TYPES)
    parser.add_argument("--normalize-embedding", action="store_true")
    parser.add_argument("--sen-rep-type", choices=["cls", "mp"])
    parser.add_argument("--chunk-size", type=int, help="attention chunk size (-1: none)")
    parser.add_argument("--truncation-length", type=int, help="EMA kernel truncation")


@register_model("lra")
class LRAModel(SentenceClassificationModel):
    @staticmethod
    def add_args(parser):
        add_classifier_args(parser)
        parser.add_argument("--input-type", choices=["text", "image"], help="token ids or pixel values")
        parser.add_argument("--encoder-attention-heads", type=int, help="(unused by Mega)")
        parser.add_argument("--share-encoder-input-output-embed", action="store_true", help="(unused)")
        parser.add_argument("--encoder-learned-pos", action="store_true", help="(unused)")
        parser.add_argument("--no-token-positional-embeddings", action="store_true", help="(unused)")
        parser.add_argument("--use-p", default=False, action="store_true", help="(must stay off for Mega)")
        parser.add_argument("--no-scale-embedding", action="store_true", help="(unused: LRA never scales)")
        parser.add_argument("--quant-noise-pq", type=float, default=0.0, help="(unused)")
        parser.add_argument("--quant-noise-pq-block-size", type=int, default=8, help="(unused)")
        parser.add_argument("--quant-noise-scalar", type=float, default=0.0, help="(unused)")
        parser.add_argument("--encoder-projection-length", type=int, help="(Luna, unused)")
        parser.add_argument("--encoder-projected-attention-heads", type=int, help="(Luna, unused)")
        parser.add_argument("--decoder-projected-attention-heads", type=int, help="(Luna, unused)")

    @classmethod
    def build_model(cls, args, task):
        base_architecture(args)
        if getattr(args, "input_type", None) not in ("text", "image"):
            raise ValueError("--input-type text|image is required for the lra model")
        if getattr(args, "max_positions", None) is None:
            args.max_positions = getattr(args, "tokens_per_sample", None)
        if args.max_positions is None:
            raise ValueError("--max-positions is required for the lra model")
        if not hasattr(args, "max_source_positions"):
            args.max_source_positions = args.max_positions
        if args.input_type == "text":
            dictionary = task.source_dictionary
            encoder = MegaSentenceEncoder(args, len(dictionary), dictionary.pad())
        else:
            dictionary, encoder = None, MegaSentenceEncoder(args)
        return cls(args, SentenceEncoderWrapper(args, dictionary, encoder))



@register_model_architecture("lra", "lra")
def base_architecture(args):
    set_defaults(args, dropout=0.1, attention_dropout=0.1, act_dropout=0.0, feature_dropout=False, encoder_hidden_dim=2048)
    set_defaults(args, encoder_ffn_embed_dim=args.encoder_hidden_dim, z_dim=128, n_dim=2, encoder_layers=6,
          encoder_attention_heads=8, encoder_embed_dim=512, share_encoder_input_output_embed=False,
          encoder_learned_pos=False, no_token_positional_embeddings=False, classifier_out_dim=2048,
          sentence_class_num=2, sent_loss=True, apply_bert_init=True, activation_fn="gelu",
          attention_activation_fn="relu2", classifier_layers=1, classifier_activation_fn="gelu",
          encoder_normalize_before=False, normalize_embedding=False, layer_type="transformer", adaptive_input=False,
          norm_type="scalenorm", sen_rep_type="mp", chunk_size=-1, truncation_length=None, rel_pos_bias="simple")
    set_defaults(args, classifier_in_dim=2 * args.encoder_ffn_embed_dim if args.layer_type == "lstm" else args.encoder_embed_dim)


def _mega_lra(args, **settings):
    set_defaults(args, layer_type="mega", apply_bert_init=False, n_dim=16, activation_fn="silu", **settings)
    base_architecture(args)


@register_model_architecture("lra", "mega_lra_listop")
def mega_lra_listop(args):
    _mega_lra(args, encoder_layers=6, encoder_embed_dim=80, encoder_hidden_dim=160, encoder_ffn_embed_dim=160,
              z_dim=64, chunk_size=-1, truncation_length=1024, max_positions=2002, norm_type="scalenorm",
              sentence_class_num=10, classifier_out_dim=160)


@register_model_architecture("lra", "mega_lra_imdb")
def mega_lra_imdb(args):
    _mega_lra(args, encoder_layers=4, encoder_embed_dim=128, encoder_hidden_dim=256, encoder_ffn_embed_dim=256,
              z_dim=64, chunk_size=-1, truncation_length=1024, max_positions=4002, norm_type="scalenorm",
              sentence_class_num=2, classifier_out_dim=256)


@register_model_architecture("lra", "mega_lra_aan")
def mega_lra_aan(args):
    set_defaults(args, encoder_embed_dim=128)
    set_defaults(args, classifier_in_dim=2 * args.encoder_embed_dim)
    _mega_lra(args, encoder_layers=6, encoder_hidden_dim=256, encoder_ffn_embed_dim=256, z_dim=64, chunk_size=-1,
              truncation_length=1024, max_positions=4002, norm_type="scalenorm", sentence_class_num=2,
              classifier_out_dim=256)


@register_model_architecture("lra", "mega_lra_cifar10")
def mega_lra_cifar10(args):
    _mega_lra(args, encoder_layers=8, encoder_embed_dim=160, encoder_hidden_dim=320, encoder_ffn_embed_dim=320,
              z_dim=96, chunk_size=1024, truncation_length=1024, max_positions=1024, norm_type="batchnorm",
              sentence_class_num=10, classifier_out_dim=320)


@register_model_architecture("lra", "mega_lra_pf32")
def mega_lra_pf32(args):
    _mega_lra(args, encoder_layers=6, encoder_embed_dim=128, encoder_hidden_dim=256, encoder_ffn_embed_dim=256,
              z_dim=64, chunk_size=1024, truncation_length=1024, max_positions=1024, norm_type="batchnorm",
              sentence_class_num=2, classifier_out_dim=256)


@register_model_architecture("lra", "mega_lra_pf128")
def mega_lra_pf128(args):
    _mega_lra(args, encoder_layers=4, encoder_embed_dim=64, encoder_hidden_dim=128, encoder_ffn_embed_dim=128,
              z_dim=32, chunk_size=16384, truncation_length=4096, max_positions=16384, norm_type="batchnorm",
              sentence_class_num=2, classifier_out_dim=128)
