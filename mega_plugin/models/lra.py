"""Long Range Arena classifier (``--arch mega_lra_*``), checkpoint-compatible with the original ``lra`` model.

``model(sample)`` takes the whole sample (as the original and ``lra_cross_entropy`` do): the sentence encoder pools
each input to ``[B, D]``; for two-document retrieval (``net_input1``) the second document's vector comes first
(``[B, 2D]``); then ``classifier_layers`` x (Linear -> dropout -> activation) and a bias-free
``sentence_projection_layer`` give logits ``[B, classes]``. Keys: ``encoder.encoder.*``, ``classifier.{i}.0.*``,
``sentence_projection_layer.weight``.
"""

import torch
import torch.nn as nn
from fairseq.models import FairseqEncoder, FairseqEncoderModel, register_model, register_model_architecture
from fairseq.modules.transformer_sentence_encoder import init_bert_params

from mega_plugin.models.arch_defaults import set_defaults
from mega_plugin.models.sentence_encoder import MegaSentenceEncoder
from mega_plugin.modules.activations import ACTIVATIONS, ATTENTION_ACTIVATIONS, get_activation_fn
from mega_plugin.modules.norms import NORM_TYPES
from mega_plugin.modules.position_bias import REL_POS_BIAS_TYPES

LRA_LAYER_TYPES = ("transformer", "luna", "lstm", "flash", "mega")


def require_mega(args) -> None:
    """Only the Mega encoder of the original classifiers is implemented."""
    layer_type = getattr(args, "layer_type", None)
    if layer_type != "mega":
        raise ValueError(f"--layer-type {layer_type!r} is not available: this plugin implements only "
                         f"--layer-type mega (use a mega_* architecture or pass --layer-type mega)")


class SentenceEncoderWrapper(FairseqEncoder):
    """Holds the Mega sentence encoder under ``encoder.encoder`` (the original key layout)."""

    def __init__(self, args, dictionary, encoder):
        super().__init__(dictionary)
        self.encoder = encoder
        self.max_positions_value = args.max_positions

    def forward(self, src_tokens, src_lengths=None, **kwargs):
        """-> (``[last hidden [L, B, D]]``, pooled ``[B, D]``)."""
        return self.encoder(src_tokens, src_lengths)

    def max_positions(self):
        return self.max_positions_value


class SentenceClassificationModel(FairseqEncoderModel):
    """Encoder + classifier head shared by the LRA and speech-commands models."""

    def __init__(self, args, encoder):
        super().__init__(encoder)
        self.args = args
        self._max_positions = args.max_positions
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
        if getattr(args, "apply_bert_init", False):
            self.apply(init_bert_params)

    def classify(self, rep: torch.Tensor) -> torch.Tensor:
        """Pooled ``[B, classifier_in_dim]`` -> logits ``[B, sentence_class_num]``."""
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

    def max_positions(self):
        return self._max_positions


def add_classifier_args(parser, layer_types=LRA_LAYER_TYPES):
    """Flags shared by the original LRA and speech-commands models (several accepted but unused by Mega)."""
    parser.add_argument("--dropout", type=float, metavar="D", help="dropout probability")
    parser.add_argument("--attention-dropout", type=float, metavar="D", help="dropout on attention weights")
    parser.add_argument("--act-dropout", type=float, metavar="D", help="dropout on v and after the FFN activation")
    parser.add_argument("--feature-dropout", action="store_true", help="drop whole feature channels")
    parser.add_argument("--encoder-hidden-dim", type=int, metavar="N", help="value / gate dimension H")
    parser.add_argument("--encoder-ffn-embed-dim", type=int, metavar="N", help="FFN dimension (default: H)")
    parser.add_argument("--z-dim", type=int, metavar="N", help="shared query/key dimension Z")
    parser.add_argument("--n-dim", type=int, metavar="N", help="EMA expansion dimension N")
    parser.add_argument("--encoder-layers", type=int, metavar="N", help="number of layers")
    parser.add_argument("--encoder-embed-dim", type=int, metavar="N", help="embedding dimension D")
    parser.add_argument("--max-positions", type=int, help="longest input (sizes the unchunked position bias)")
    parser.add_argument("--rel-pos-bias", choices=REL_POS_BIAS_TYPES, default="simple")
    parser.add_argument("--sentence-class-num", type=int, metavar="N", help="number of classes")
    parser.add_argument("--sent-loss", action="store_true", help="(unused)")
    parser.add_argument("--apply-bert-init", action="store_true", help="re-initialise with N(0, 0.02) (BERT)")
    parser.add_argument("--activation-fn", choices=ACTIVATIONS, help="activation of v, h and the FFN")
    parser.add_argument("--attention-activation-fn", choices=ATTENTION_ACTIVATIONS, help="attention function")
    parser.add_argument("--classifier-activation-fn", choices=ACTIVATIONS, help="activation of the classifier")
    parser.add_argument("--encoder-normalize-before", action="store_true", help="pre-norm (adds a final norm)")
    parser.add_argument("--encoder-layerdrop", type=float, metavar="D", default=0, help="(ignored by Mega)")
    parser.add_argument("--layer-type", choices=list(layer_types), help="encoder type (only mega is implemented)")
    parser.add_argument("--norm-type", choices=NORM_TYPES, help="sequence norm of every sub-layer")
    parser.add_argument("--normalize-embedding", action="store_true", help="normalise the embeddings")
    parser.add_argument("--sen-rep-type", choices=["cls", "mp"], help="pooling: first position or mean")
    parser.add_argument("--chunk-size", type=int, metavar="N", help="attention chunk size (-1: none)")
    parser.add_argument("--truncation-length", type=int, metavar="N", help="EMA kernel truncation")


@register_model("lra")
class LRAModel(SentenceClassificationModel):
    @staticmethod
    def add_args(parser):
        add_classifier_args(parser)
        parser.add_argument("--encoder-attention-heads", type=int, metavar="N", help="(unused by Mega)")
        parser.add_argument("--share-encoder-input-output-embed", action="store_true", help="(unused)")
        parser.add_argument("--encoder-learned-pos", action="store_true", help="(unused)")
        parser.add_argument("--no-token-positional-embeddings", action="store_true", help="(unused)")
        parser.add_argument("--input-type", choices=["text", "image"], help="token ids or pixel values (required)")
        parser.add_argument("--use-p", default=False, action="store_true", help="(must stay off for Mega)")
        parser.add_argument("--no-scale-embedding", action="store_true", help="(unused: LRA never scales)")
        parser.add_argument("--quant-noise-pq", type=float, metavar="D", default=0, help="(unused)")
        parser.add_argument("--quant-noise-pq-block-size", type=int, metavar="D", default=8, help="(unused)")
        parser.add_argument("--quant-noise-scalar", type=float, metavar="D", default=0, help="(unused)")
        parser.add_argument("--encoder-projection-length", type=int, metavar="N", help="(Luna, unused)")
        parser.add_argument("--encoder-projected-attention-heads", type=int, metavar="N", help="(Luna, unused)")
        parser.add_argument("--decoder-projected-attention-heads", type=int, metavar="N", help="(Luna, unused)")

    @classmethod
    def build_model(cls, args, task):
        base_architecture(args)
        require_mega(args)
        if getattr(args, "use_p", False):
            raise ValueError("--use-p is not supported by the Mega encoder")
        input_type = getattr(args, "input_type", None)
        if input_type not in ("text", "image"):
            raise ValueError(f"the lra model needs --input-type text or image, got {input_type!r}")
        if getattr(args, "max_positions", None) is None:
            args.max_positions = getattr(args, "tokens_per_sample", None)
        if args.max_positions is None:
            raise ValueError("the lra model needs --max-positions (or the task's --tokens-per-sample)")
        set_defaults(args, max_source_positions=args.max_positions, decoder_embed_dim=args.encoder_embed_dim)
        if input_type == "text":
            dictionary = task.source_dictionary
            if dictionary is None:
                raise ValueError("--input-type text needs a task with a source dictionary (--task lra-text)")
            encoder = MegaSentenceEncoder(args, len(dictionary), dictionary.pad())
        else:
            if args.sen_rep_type != "mp":
                raise ValueError("--input-type image pools with --sen-rep-type mp only (as the original)")
            dictionary, encoder = None, MegaSentenceEncoder(args)
        return cls(args, SentenceEncoderWrapper(args, dictionary, encoder))


@register_model_architecture("lra", "lra")
def base_architecture(args):
    set_defaults(args, dropout=0.1, attention_dropout=0.1, act_dropout=0.0, feature_dropout=False,
                 encoder_hidden_dim=2048)
    set_defaults(args, encoder_ffn_embed_dim=args.encoder_hidden_dim, z_dim=128, n_dim=2, encoder_layers=6,
                 encoder_attention_heads=8, encoder_embed_dim=512, share_encoder_input_output_embed=False,
                 encoder_learned_pos=False, no_token_positional_embeddings=False, classifier_out_dim=2048,
                 sentence_class_num=2, sent_loss=True, apply_bert_init=True, activation_fn="gelu",
                 attention_activation_fn="relu2", classifier_layers=1, classifier_activation_fn="gelu",
                 encoder_normalize_before=False, normalize_embedding=False, layer_type="transformer",
                 adaptive_input=False)
    set_defaults(args, classifier_in_dim=2 * args.encoder_ffn_embed_dim if args.layer_type == "lstm"
                 else args.encoder_embed_dim)
    # Not set by the original base architecture: norm_type (it crashed without --norm-type; scalenorm is the
    # README value for the text tasks) and the fallbacks its Mega encoder read with getattr.
    set_defaults(args, norm_type="scalenorm", sen_rep_type="mp", chunk_size=-1, truncation_length=None,
                 rel_pos_bias="simple")


def _mega_lra(args, two_documents=False, **settings):
    """What every ``mega_lra_*`` architecture sets, then its own values, then ``base_architecture``."""
    set_defaults(args, apply_bert_init=False, layer_type="mega", n_dim=16, activation_fn="silu",
                 classifier_layers=1, sen_rep_type="mp", **settings)
    if two_documents:
        set_defaults(args, classifier_in_dim=2 * args.encoder_embed_dim)
    base_architecture(args)


@register_model_architecture("lra", "mega_lra_listop")
def mega_lra_listop(args):
    _mega_lra(args, encoder_hidden_dim=160, z_dim=64, encoder_layers=6, encoder_embed_dim=80, classifier_out_dim=160,
              chunk_size=-1, truncation_length=1024, max_positions=2002, norm_type="scalenorm", sentence_class_num=10)


@register_model_architecture("lra", "mega_lra_imdb")
def mega_lra_imdb(args):
    _mega_lra(args, encoder_hidden_dim=256, z_dim=64, encoder_layers=4, encoder_embed_dim=128, classifier_out_dim=256,
              chunk_size=-1, truncation_length=1024, max_positions=4002, norm_type="scalenorm")


@register_model_architecture("lra", "mega_lra_aan")
def mega_lra_aan(args):
    # norm_type: unset in the original (crashed without --norm-type); scalenorm as its README command
    _mega_lra(args, two_documents=True, encoder_hidden_dim=256, z_dim=64, encoder_layers=6, encoder_embed_dim=128,
              classifier_out_dim=256, chunk_size=-1, truncation_length=1024, max_positions=4002,
              norm_type="scalenorm")


@register_model_architecture("lra", "mega_lra_cifar10")
def mega_lra_cifar10(args):
    _mega_lra(args, encoder_hidden_dim=320, z_dim=96, encoder_layers=8, encoder_embed_dim=160, norm_type="batchnorm",
              classifier_out_dim=320, sentence_class_num=10, chunk_size=1024, truncation_length=1024,
              max_positions=1024)


@register_model_architecture("lra", "mega_lra_pf32")
def mega_lra_pf32(args):
    _mega_lra(args, encoder_hidden_dim=256, z_dim=64, encoder_layers=6, encoder_embed_dim=128, norm_type="batchnorm",
              classifier_out_dim=256, sentence_class_num=2, chunk_size=1024, truncation_length=1024,
              max_positions=1024)


@register_model_architecture("lra", "mega_lra_pf128")
def mega_lra_pf128(args):
    _mega_lra(args, encoder_hidden_dim=128, z_dim=32, encoder_layers=4, encoder_embed_dim=64, norm_type="batchnorm",
              classifier_out_dim=128, sentence_class_num=2, chunk_size=128 * 128, truncation_length=4096,
              max_positions=128 * 128)
