"""Raw speech-commands classifier (``--arch mega_sc_raw*``), checkpoint-compatible with the original ``sc_raw``.

Waveforms ``[B, T]`` (T = 16000) are embedded sample by sample (``RealNumberEmbedding``, no padding mask),
encoded by chunked Mega layers (laplace attention, batch norm, pre-norm by default), mean-pooled to ``[B, D]``
(sum / ``src_lengths``) and classified by the LRA head into logits ``[B, classes]``.
"""

from fairseq.models import register_model, register_model_architecture

from mega_plugin.models.arch_defaults import set_defaults
from mega_plugin.models.lra import (
    SentenceClassificationModel,
    SentenceEncoderWrapper,
    add_classifier_args,
    require_mega,
)
from mega_plugin.models.sentence_encoder import MegaSentenceEncoder


@register_model("sc_raw")
class SCRawModel(SentenceClassificationModel):
    @staticmethod
    def add_args(parser):
        add_classifier_args(parser, layer_types=["mega"])

    @classmethod
    def build_model(cls, args, task):
        sc_raw_base(args)
        require_mega(args)
        if args.sen_rep_type != "mp":
            raise ValueError("sc_raw pools with --sen-rep-type mp only (as the original)")
        if getattr(args, "max_positions", None) is None:
            args.max_positions = getattr(args, "tokens_per_sample", None)
        set_defaults(args, max_source_positions=args.max_positions)
        return cls(args, SentenceEncoderWrapper(args, None, MegaSentenceEncoder(args, embed_norm=False)))


@register_model_architecture("sc_raw", "sc_raw")
def sc_raw_base(args):
    set_defaults(args, apply_bert_init=False, layer_type="mega", encoder_layers=6, encoder_embed_dim=60,
                 encoder_hidden_dim=120)
    set_defaults(args, encoder_ffn_embed_dim=args.encoder_hidden_dim, z_dim=30, n_dim=16, dropout=0.0,
                 attention_dropout=0.0, act_dropout=0.0, feature_dropout=False, activation_fn="silu",
                 attention_activation_fn="laplace", norm_type="batchnorm", encoder_normalize_before=True,
                 classifier_layers=1, classifier_out_dim=2 * args.encoder_embed_dim, sentence_class_num=10,
                 classifier_activation_fn="gelu", classifier_in_dim=args.encoder_embed_dim, sent_loss=True,
                 chunk_size=1000, truncation_length=1000, max_positions=16000, sen_rep_type="mp")
    set_defaults(args, rel_pos_bias="simple")  # the flag's default, for args built without the parser


@register_model_architecture("sc_raw", "mega_sc_raw")
def mega_sc_raw(args):
    sc_raw_base(args)


@register_model_architecture("sc_raw", "mega_sc_raw_base")
def mega_sc_raw_base(args):
    mega_sc_raw(args)


@register_model_architecture("sc_raw", "mega_sc_raw_big")
def mega_sc_raw_big(args):
    set_defaults(args, encoder_layers=6, encoder_embed_dim=72, encoder_hidden_dim=144, z_dim=36)
    sc_raw_base(args)
