"""The ``lra`` model without a task: architecture defaults (spec 1.3), key layouts (spec 3.1 / Appendix A.1-A.3,
real-size parameter counts of 3.2), pooling, two-document order, padding invariance, initialisation, errors."""

import argparse

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier_helpers import StandInTask, logits, parse_command, sample, text_dictionary
from fixture_utils import max_abs_diff
from mega_plugin.models import lra
from mega_plugin.models.lra import LRAModel

WORDS = [str(i) for i in range(10)]
COMMON_MEGA = dict(layer_type="mega", apply_bert_init=False, n_dim=16, activation_fn="silu",
                   attention_activation_fn="relu2", sen_rep_type="mp", classifier_layers=1,
                   classifier_activation_fn="gelu", dropout=0.1, attention_dropout=0.1, act_dropout=0.0,
                   encoder_normalize_before=False, normalize_embedding=False, feature_dropout=False)
# spec 1.3 table: layers, D, H, F, Z, chunk, truncation, max_positions, norm, classes, classifier in, out
MEGA_ARCHS = {
    "mega_lra_listop": (6, 80, 160, 160, 64, -1, 1024, 2002, "scalenorm", 10, 80, 160),
    "mega_lra_imdb": (4, 128, 256, 256, 64, -1, 1024, 4002, "scalenorm", 2, 128, 256),
    "mega_lra_aan": (6, 128, 256, 256, 64, -1, 1024, 4002, "scalenorm", 2, 256, 256),  # norm: README value
    "mega_lra_cifar10": (8, 160, 320, 320, 96, 1024, 1024, 1024, "batchnorm", 10, 160, 320),
    "mega_lra_pf32": (6, 128, 256, 256, 64, 1024, 1024, 1024, "batchnorm", 2, 128, 256),
    "mega_lra_pf128": (4, 64, 128, 128, 32, 16384, 4096, 16384, "batchnorm", 2, 64, 128),
}
FIELDS = ("encoder_layers", "encoder_embed_dim", "encoder_hidden_dim", "encoder_ffn_embed_dim", "z_dim",
          "chunk_size", "truncation_length", "max_positions", "norm_type", "sentence_class_num",
          "classifier_in_dim", "classifier_out_dim")


def _arch(name, **given_args):
    args = argparse.Namespace(**given_args)
    getattr(lra, name)(args)
    return vars(args)


@pytest.mark.parametrize("name", list(MEGA_ARCHS))
def test_mega_architecture_defaults(name):
    filled = _arch(name)
    assert {key: filled[key] for key in FIELDS} == dict(zip(FIELDS, MEGA_ARCHS[name]))
    assert {key: filled[key] for key in COMMON_MEGA} == COMMON_MEGA


def test_base_architecture_defaults():
    filled = _arch("base_architecture")
    expected = dict(dropout=0.1, attention_dropout=0.1, act_dropout=0.0, feature_dropout=False,
                    encoder_hidden_dim=2048, encoder_ffn_embed_dim=2048, z_dim=128, n_dim=2, encoder_layers=6,
                    encoder_attention_heads=8, encoder_embed_dim=512, share_encoder_input_output_embed=False,
                    encoder_learned_pos=False, no_token_positional_embeddings=False, classifier_out_dim=2048,
                    sentence_class_num=2, sent_loss=True, apply_bert_init=True, activation_fn="gelu",
                    attention_activation_fn="relu2", classifier_layers=1, classifier_activation_fn="gelu",
                    encoder_normalize_before=False, normalize_embedding=False, layer_type="transformer",
                    adaptive_input=False, classifier_in_dim=512, norm_type="scalenorm")
    assert {key: filled[key] for key in expected} == expected
    assert _arch("base_architecture", layer_type="lstm")["classifier_in_dim"] == 2 * 2048


def test_given_values_win_and_derived_defaults_follow_them():
    """As the original: the FFN size follows --encoder-hidden-dim, AAN's classifier input is 2 x D."""
    filled = _arch("mega_lra_listop", encoder_hidden_dim=32, encoder_embed_dim=16, norm_type="layernorm")
    assert (filled["encoder_ffn_embed_dim"], filled["classifier_in_dim"], filled["norm_type"]) == (32, 16, "layernorm")
    assert _arch("mega_lra_aan", encoder_embed_dim=20)["classifier_in_dim"] == 40
    assert _arch("mega_lra_cifar10", encoder_hidden_dim=48, encoder_ffn_embed_dim=24)["encoder_ffn_embed_dim"] == 24
    assert _arch("mega_lra_imdb", truncation_length=None)["truncation_length"] is None  # present-but-None stays


def _expected_layout(D, H, F, Z, N, P, layers, norm, prenorm, text_vocab, classifier):
    """(key, shape) list of spec 3.1 for an LRA encoder + head (E = 2D: bidirectional EMA)."""
    norm_keys = {"layernorm": [("weight", [D]), ("bias", [D])], "scalenorm": [("scalar", [1])],
                 "batchnorm": [("weight", [D]), ("bias", [D]), ("running_mean", [D]), ("running_var", [D]),
                               ("num_batches_tracked", [])]}[norm]
    E = 2 * D
    keys = ([("encoder.encoder.embed_tokens.embed.weight", [text_vocab, D])] if text_vocab else
            [("encoder.encoder.embed_tokens.weight", [D]), ("encoder.encoder.embed_tokens.bias", [D])])
    for i in range(layers):
        m, f = f"encoder.encoder.layers.{i}.mega_layer", f"encoder.encoder.layers.{i}.nffn"
        keys += [(f"{m}.gamma", [2, Z]), (f"{m}.beta", [2, Z])]
        keys += [(f"{m}.norm.norm.{k}", s) for k, s in norm_keys]
        keys += [(f"{m}.move.delta", [E, N, 1]), (f"{m}.move.alpha", [E, N, 1]), (f"{m}.move.beta", [E, N, 1]),
                 (f"{m}.move.gamma", [E, N]), (f"{m}.move.omega", [D]), (f"{m}.v_proj.weight", [H, D]),
                 (f"{m}.v_proj.bias", [H]), (f"{m}.mx_proj.weight", [2 * D + Z + H, D]),
                 (f"{m}.mx_proj.bias", [2 * D + Z + H]), (f"{m}.h_proj.weight", [D, H]), (f"{m}.h_proj.bias", [D]),
                 (f"{m}.rel_pos_bias.rel_pos_bias", [2 * P - 1])]
        keys += [(f"{f}.norm.norm.{k}", s) for k, s in norm_keys]
        keys += [(f"{f}.fc1.weight", [F, D]), (f"{f}.fc1.bias", [F]), (f"{f}.fc2.weight", [D, F]),
                 (f"{f}.fc2.bias", [D])]
    if prenorm:
        keys += [(f"encoder.encoder.final_norm.norm.{k}", s) for k, s in norm_keys]
    in_dim, out_dim, classes = classifier
    return keys + [("classifier.0.0.weight", [out_dim, in_dim]), ("classifier.0.0.bias", [out_dim]),
                   ("sentence_projection_layer.weight", [classes, out_dim])]


SHRUNK = ["--encoder-layers", "2", "--encoder-embed-dim", "16", "--encoder-hidden-dim", "32", "--z-dim", "8",
          "--n-dim", "4", "--max-positions", "64"]
APPENDIX_A = {  # spec Appendix A: command, key count, parameter count, expected layout arguments
    "A.1": (["-a", "mega_lra_listop", "--task", "lra-text", "--input-type", "text", *SHRUNK,
             "--encoder-ffn-embed-dim", "24", "--chunk-size", "-1", "--norm-type", "layernorm",
             "--attention-activation-fn", "softmax"], 48, 8490, dict(F=24, P=64, norm="layernorm", prenorm=False,
                                                                    text_vocab=15)),
    "A.2": (["-a", "mega_lra_listop", "--task", "lra-text", "--input-type", "text", *SHRUNK,
             "--encoder-ffn-embed-dim", "24", "--chunk-size", "16", "--norm-type", "layernorm",
             "--attention-activation-fn", "softmax"], 48, 8298, dict(F=24, P=16, norm="layernorm", prenorm=False,
                                                                    text_vocab=15)),
    "A.3": (["-a", "mega_lra_cifar10", "--task", "lra-image", "--input-type", "image", *SHRUNK, "--chunk-size",
             "16", "--norm-type", "batchnorm", "--attention-activation-fn", "laplace", "--encoder-normalize-before",
             "--sen-rep-type", "mp"], 66, 8650, dict(F=32, P=16, norm="batchnorm", prenorm=True, text_vocab=None)),
}


@pytest.mark.parametrize("name", list(APPENDIX_A))
def test_state_dict_layout_of_appendix_a(name):
    command, n_keys, n_params, layout = APPENDIX_A[name]
    args = parse_command(["DATA", *command])
    args.classifier_out_dim = 20  # "set in args; not a CLI flag"
    task = StandInTask(text_dictionary(WORDS) if layout["text_vocab"] else None)
    model = LRAModel.build_model(args, task)
    state = model.state_dict()
    assert [(key, list(value.shape)) for key, value in state.items()] == _expected_layout(
        D=16, H=32, Z=8, N=4, layers=2, classifier=(16, 20, 10), **layout)
    assert len(state) == n_keys
    assert sum(p.numel() for p in model.parameters()) == n_params


# spec 3.2: README flags per task and the counted parameters (text: + D x V for the embedding)
README_SIZES = {
    "mega_lra_listop": (["--norm-type", "layernorm", "--attention-activation-fn", "softmax"], 600658, 80),
    "mega_lra_imdb": (["--attention-activation-fn", "softmax"], 957204, 128),
    "mega_lra_aan": (["--attention-activation-fn", "softmax"], 1451806, 128),
    "mega_lra_cifar10": (["--attention-activation-fn", "laplace", "--encoder-normalize-before"], 2839096, 0),
    "mega_lra_pf32": (["--attention-activation-fn", "laplace", "--encoder-normalize-before"], 1386874, 0),
    "mega_lra_pf128": (["--attention-activation-fn", "laplace", "--encoder-normalize-before", "--chunk-size",
                        "4096"], 283644, 0),
}


@pytest.mark.parametrize("name", list(README_SIZES))
def test_real_size_parameter_counts(name):
    flags, count, per_word = README_SIZES[name]
    text = per_word > 0
    task = ["--task", "lra-text", "--input-type", "text"] if text else ["--task", "lra-image", "--input-type",
                                                                          "image"]
    args = parse_command(["DATA", "-a", name, *task, *flags])
    dictionary = text_dictionary(WORDS) if text else None
    model = LRAModel.build_model(args, StandInTask(dictionary))
    vocab = len(dictionary) if text else 0
    assert sum(p.numel() for p in model.parameters()) == count + per_word * vocab


def _tiny(name="mega_lra_listop", **overrides):
    """A small text model of ``name`` with random weights (eval mode)."""
    settings_ = dict(encoder_layers=2, encoder_embed_dim=8, encoder_hidden_dim=16, z_dim=4, n_dim=2,
                     max_positions=32, classifier_out_dim=12, input_type="text", dropout=0.0,
                     attention_dropout=0.0)
    settings_.update(overrides)
    args = argparse.Namespace(**settings_)
    getattr(lra, name)(args)
    return LRAModel.build_model(args, StandInTask(text_dictionary(WORDS))).eval()


def _padded_batch(lengths, generator, pad=1):
    """Right-padded random token batch (ids 4..13 = the 10 words) and its lengths."""
    tokens = torch.full((len(lengths), max(lengths)), pad, dtype=torch.long)
    for row, n in enumerate(lengths):
        tokens[row, :n] = torch.randint(4, 14, (n,), generator=generator)
    return tokens, torch.tensor(lengths)


@settings(max_examples=25, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 12), min_size=2, max_size=4),
    chunk=st.sampled_from([-1, 2, 3, 5, 8, 16]),
    attention=st.sampled_from(["softmax", "relu2", "laplace"]),
    norm=st.sampled_from(["layernorm", "scalenorm", "rmsnorm", "batchnorm"]),
    prenorm=st.booleans(),
    pooling=st.sampled_from(["mp", "cls"]),
    position_bias=st.sampled_from(["simple", "rotary"]),
    embed_norm=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_padding_invariance(lengths, chunk, attention, norm, prenorm, pooling, position_bias, embed_norm, seed):
    """Each example alone (no pads) == its row of a right-padded batch, for any chunk size (also chunks longer
    than the batch, which crashed the original) and every attention / norm / pooling / position variant."""
    torch.manual_seed(seed)
    model = _tiny(chunk_size=chunk, attention_activation_fn=attention, norm_type=norm,
                  encoder_normalize_before=prenorm, sen_rep_type=pooling, rel_pos_bias=position_bias,
                  normalize_embedding=embed_norm)
    tokens, lengths = _padded_batch(lengths, torch.Generator().manual_seed(seed))
    batch = logits(model, tokens, lengths)
    for row, n in enumerate(lengths.tolist()):
        alone = logits(model, tokens[row : row + 1, :n], lengths[row : row + 1])
        assert max_abs_diff(alone[0], batch[row]) <= 1e-5


@pytest.mark.parametrize("pooling", ["mp", "cls"])
def test_pooling_and_zeroed_pads(pooling):
    torch.manual_seed(0)
    model = _tiny(chunk_size=4, sen_rep_type=pooling)
    tokens, lengths = _padded_batch([3, 7, 5], torch.Generator().manual_seed(0))
    with torch.no_grad():
        (hidden,), pooled = model.encoder(tokens, lengths)
    assert hidden.shape == (7, 3, 8)
    for row, n in enumerate(lengths.tolist()):
        assert (hidden[n:, row] == 0).all()
        expected = hidden[:n, row].mean(0) if pooling == "mp" else hidden[0, row]
        assert max_abs_diff(pooled[row], expected) <= 1e-6
    # the head: Linear -> (dropout) -> gelu -> bias-free projection
    head = model.classifier[0][0]
    expected_logits = torch.nn.functional.gelu(head(pooled)) @ model.sentence_projection_layer.weight.t()
    assert max_abs_diff(logits(model, tokens, lengths), expected_logits) <= 1e-6


def test_two_documents_second_document_first():
    """AAN (``net_input1``): rep = cat([rep(document 2), rep(document 1)]) before the classifier."""
    torch.manual_seed(0)
    model = _tiny("mega_lra_aan")
    assert model.classifier[0][0].in_features == 16
    first = _padded_batch([5, 9], torch.Generator().manual_seed(1))
    second = _padded_batch([7, 4], torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = model({**sample(*first), "net_input1": sample(*second)["net_input"]})["encoder_out"]
        rep1, rep2 = model.encoder(*first)[1], model.encoder(*second)[1]
        assert max_abs_diff(out, model.classify(torch.cat([rep2, rep1], -1))) <= 1e-6
        assert max_abs_diff(out, model.classify(torch.cat([rep1, rep2], -1))) > 1e-4


def test_initialisation_follows_apply_bert_init():
    """mega archs: original init (LRA embedding pad row NOT zeroed, xavier head); base ``lra`` arch has
    apply_bert_init on: every Linear / Embedding N(0, 0.02), zero biases, zero pad row."""
    torch.manual_seed(0)
    plain = _tiny(encoder_embed_dim=64, encoder_hidden_dim=128)
    assert plain.encoder.encoder.embed_tokens.embed.weight[1].abs().sum() > 0
    head = plain.classifier[0][0].weight  # xavier uniform: std = sqrt(2 / (fan_in + fan_out))
    assert head.std().item() == pytest.approx((2.0 / sum(head.shape)) ** 0.5, rel=0.15)
    assert (plain.classifier[0][0].bias == 0).all()
    bert = _tiny("base_architecture", layer_type="mega", encoder_embed_dim=64, encoder_hidden_dim=128)
    assert bert.args.apply_bert_init is True
    assert (bert.encoder.encoder.embed_tokens.embed.weight[1] == 0).all()
    linears = [m for m in bert.modules() if isinstance(m, torch.nn.Linear)]
    weights = torch.cat([m.weight.flatten() for m in linears])
    assert abs(weights.std().item() - 0.02) < 0.001
    assert all(m.bias is None or (m.bias == 0).all() for m in linears)


def test_max_positions_and_every_original_flag_is_accepted():
    flags = ["--encoder-attention-heads", "4", "--share-encoder-input-output-embed", "--encoder-learned-pos",
             "--no-token-positional-embeddings", "--sent-loss", "--no-scale-embedding", "--quant-noise-pq", "0",
             "--quant-noise-pq-block-size", "8", "--quant-noise-scalar", "0", "--encoder-projection-length", "4",
             "--encoder-projected-attention-heads", "2", "--decoder-projected-attention-heads", "2",
             "--encoder-layerdrop", "0.1", "--feature-dropout", "--normalize-embedding", "--rel-pos-bias", "rotary",
             "--classifier-activation-fn", "relu", "--act-dropout", "0.1", "--apply-bert-init", "--layer-type",
             "mega", "--sentence-class-num", "3", "--truncation-length", "16"]
    args = parse_command(["DATA", "-a", "mega_lra_listop", "--task", "lra-text", "--input-type", "text", *SHRUNK,
                          *flags])
    model = LRAModel.build_model(args, StandInTask(text_dictionary(WORDS)))
    keys = model.state_dict().keys()
    assert "encoder.encoder.embed_norm.norm.scalar" in keys  # --normalize-embedding (scalenorm default)
    assert "encoder.encoder.layers.0.mega_layer.rel_pos_bias.alpha" in keys  # rotary
    assert model.sentence_projection_layer.weight.shape == (3, 160)
    assert model.max_positions() == 64 and model.encoder.max_positions() == 64
    assert args.max_source_positions == 64 and args.decoder_embed_dim == 16


@pytest.mark.parametrize("overrides, message", [
    (dict(layer_type="transformer"), "layer-type 'transformer'"),
    (dict(layer_type="luna"), "only --layer-type mega"),
    (dict(input_type=None), "input-type text or image"),
    (dict(input_type="image", sen_rep_type="cls"), "sen-rep-type mp"),
    (dict(sen_rep_type="max"), "sen-rep-type must be mp or cls"),
    (dict(use_p=True), "use-p"),
])
def test_clear_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        _tiny(**overrides)


def test_base_arch_is_transformer_and_refused():
    args = argparse.Namespace(input_type="text", max_positions=16)
    with pytest.raises(ValueError, match="implements only --layer-type mega"):
        LRAModel.build_model(args, StandInTask(text_dictionary(WORDS)))


def test_text_needs_a_source_dictionary():
    args = argparse.Namespace(input_type="text")
    lra.mega_lra_listop(args)
    with pytest.raises(ValueError, match="source dictionary"):
        LRAModel.build_model(args, StandInTask(None))
