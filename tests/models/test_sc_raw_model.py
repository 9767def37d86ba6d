"""The ``sc_raw`` model without a task: architecture defaults (spec 1.4), key layout (Appendix A.9), real-size
parameter counts (spec 3.2), real-number inputs without a padding mask, errors."""

import argparse

import pytest
import torch

from classifier_helpers import StandInTask, logits, parse_command
from fixture_utils import max_abs_diff
from mega_plugin.models import sc_raw
from mega_plugin.models.sc_raw import SCRawModel

BASE = dict(apply_bert_init=False, layer_type="mega", encoder_layers=6, encoder_embed_dim=60, encoder_hidden_dim=120,
            encoder_ffn_embed_dim=120, z_dim=30, n_dim=16, dropout=0.0, attention_dropout=0.0, act_dropout=0.0,
            feature_dropout=False, activation_fn="silu", attention_activation_fn="laplace", norm_type="batchnorm",
            encoder_normalize_before=True, classifier_layers=1, classifier_out_dim=120, sentence_class_num=10,
            classifier_activation_fn="gelu", classifier_in_dim=60, sent_loss=True, chunk_size=1000,
            truncation_length=1000, max_positions=16000, sen_rep_type="mp")
BIG = {**BASE, "encoder_embed_dim": 72, "encoder_hidden_dim": 144, "encoder_ffn_embed_dim": 144, "z_dim": 36,
       "classifier_out_dim": 144, "classifier_in_dim": 72}


def _arch(name, **given_args):
    args = argparse.Namespace(**given_args)
    getattr(sc_raw, name)(args)
    return vars(args)


@pytest.mark.parametrize("name, expected", [("sc_raw_base", BASE), ("mega_sc_raw", BASE),
                                            ("mega_sc_raw_base", BASE), ("mega_sc_raw_big", BIG)])
def test_architecture_defaults(name, expected):
    filled = _arch(name)
    assert {key: filled[key] for key in expected} == expected
    assert "normalize_embedding" not in filled  # never set by the original sc_raw archs


def test_derived_defaults_follow_given_values():
    """Classifier sizes follow D and the FFN follows H, for the big arch too (as the original)."""
    filled = _arch("mega_sc_raw_big", encoder_embed_dim=8, encoder_hidden_dim=20)
    assert (filled["classifier_in_dim"], filled["classifier_out_dim"], filled["encoder_ffn_embed_dim"]) == (8, 16, 20)
    assert filled["z_dim"] == 36


A9 = ["DATA", "-a", "mega_sc_raw_base", "--task", "speech_commands", "--encoder-layers", "2", "--encoder-embed-dim",
      "16", "--encoder-hidden-dim", "32", "--z-dim", "8", "--n-dim", "4", "--chunk-size", "16", "--max-positions", "64",
      "--encoder-normalize-before"]


def test_state_dict_layout_of_appendix_a9():
    model = SCRawModel.build_model(parse_command(A9), StandInTask())
    state = model.state_dict()
    assert len(state) == 66
    assert sum(p.numel() for p in model.parameters()) == 8974
    keys = list(state)
    assert keys[:2] == ["encoder.encoder.embed_tokens.weight", "encoder.encoder.embed_tokens.bias"]
    assert keys[-8:] == [f"encoder.encoder.final_norm.norm.{k}" for k in
                         ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")] + [
        "classifier.0.0.weight", "classifier.0.0.bias", "sentence_projection_layer.weight"]
    shapes = {key: list(value.shape) for key, value in state.items()}
    assert shapes["encoder.encoder.embed_tokens.weight"] == [16]
    assert shapes["encoder.encoder.layers.1.mega_layer.move.delta"] == [32, 4, 1]  # bidirectional: E = 2D
    assert shapes["encoder.encoder.layers.1.mega_layer.rel_pos_bias.rel_pos_bias"] == [31]  # 2 x chunk - 1
    assert shapes["encoder.encoder.layers.1.nffn.fc1.weight"] == [32, 16]  # F follows H
    assert shapes["classifier.0.0.weight"] == [32, 16] and shapes["sentence_projection_layer.weight"] == [10, 32]
    assert not any("embed_norm" in key for key in keys)


@pytest.mark.parametrize("arch, count", [("mega_sc_raw_base", 343134), ("mega_sc_raw_big", 475890)])
def test_real_size_parameter_counts(arch, count):
    args = parse_command(["DATA", "-a", arch, "--task", "speech_commands", "--encoder-normalize-before",
                          "--sentence-class-num", "10", "--max-positions", "16000"])
    assert sum(p.numel() for p in SCRawModel.build_model(args, StandInTask()).parameters()) == count


def _tiny(**overrides):
    args = argparse.Namespace(encoder_layers=2, encoder_embed_dim=8, encoder_hidden_dim=16, z_dim=4, n_dim=2,
                              chunk_size=16, max_positions=64, **overrides)
    sc_raw.mega_sc_raw_base(args)
    return SCRawModel.build_model(args, StandInTask()).eval()


def test_real_inputs_have_no_padding_mask_and_pool_by_src_lengths():
    """Samples equal to 1.0 (the text pad id) are ordinary values; pooling divides the sum by src_lengths."""
    torch.manual_seed(0)
    model = _tiny(normalize_embedding=True)  # ignored by sc_raw: no embedding norm
    assert model.encoder.encoder.embed_norm is None
    waves = torch.randn(3, 40)
    waves[:, 30:] = 1.0
    lengths = torch.full((3,), 40)
    with torch.no_grad():
        (hidden,), pooled = model.encoder(waves, lengths)
        assert (hidden[30:].abs().sum(-1) > 0).all()
        assert max_abs_diff(pooled, hidden.sum(0) / 40) <= 1e-6
        halved = model.encoder(waves, lengths * 2)[1]
    assert max_abs_diff(halved, pooled / 2) <= 1e-6
    out = logits(model, waves, lengths)
    assert max_abs_diff(logits(model, waves[2:], lengths[2:])[0], out[2]) <= 1e-5


@pytest.mark.parametrize("overrides, message", [
    (dict(sen_rep_type="cls"), "sen-rep-type mp only"),
    (dict(layer_type="lstm"), "only --layer-type mega"),
])
def test_clear_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        _tiny(**overrides)


def test_layer_type_choices_are_mega_only():
    with pytest.raises(SystemExit):
        parse_command([*A9, "--layer-type", "transformer"])
