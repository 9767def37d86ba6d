"""The ``mega_lm`` model without a task: architecture defaults (spec 1.2, + the new ``mega_lm_base``), state-dict
layouts (Appendix A.4-A.6, real sizes of 3.2), the incremental-decoding rule (whole prefix or new tokens only),
adaptive input/softmax, SequenceGenerator scores, and errors."""

import argparse

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mega_plugin.models import mega_lm
from mega_plugin.models.mega_lm import MegaLanguageModel
from seq_model_helpers import (
    StandInTask, dictionary, ffn_block, layout, mega_block, padded, parse_command, unique_parameters,
)

COMMON = dict(decoder_n_dim=16, decoder_chunk_size=-1, adaptive_softmax_factor=4, adaptive_input_factor=4,
              feature_dropout=False, rel_pos_bias="simple", normalization_type="layernorm", normalize_before=False,
              normalize_embedding=False, no_scale_embedding=False, no_affine_final_norm=False,
              share_decoder_input_output_embed=False, activation_fn="silu", attention_activation_fn="softmax",
              truncation_length=2048)
NOT_ADAPTIVE = dict(adaptive_input=False, adaptive_input_cutoff=None, adaptive_softmax_cutoff=None,
                    adaptive_softmax_dropout=0, tie_adaptive_weights=False, tie_adaptive_proj=False)
ADAPTIVE = dict(adaptive_input=True, adaptive_input_cutoff="20000,60000", adaptive_softmax_cutoff="20000,60000",
                adaptive_softmax_dropout=0.2, tie_adaptive_weights=True, tie_adaptive_proj=True)
# spec 1.2: layers, D, H (= F), Z, dropout, attention, hidden, activation dropout (0.0 where the original sets none)
ARCHS = {"base_lm_architecture": (6, 512, 1664, 128, 0.1, 0.0, 0.0, 0.0, NOT_ADAPTIVE),
         "mega_lm_big": (16, 1024, 2048, 256, 0.1, 0.0, 0.0, 0.0, NOT_ADAPTIVE),
         "mega_lm_wiki103": (16, 1024, 2048, 256, 0.3, 0.1, 0.1, 0.1, ADAPTIVE),
         "mega_lm_adaptive_big": (16, 1024, 2048, 256, 0.3, 0.1, 0.1, 0.1, ADAPTIVE),
         "mega_lm_adaptive_base": (16, 768, 1536, 128, 0.3, 0.1, 0.1, 0.1, ADAPTIVE),
         "mega_lm_enwik8_base": (12, 512, 1024, 128, 0.1, 0.0, 0.0, 0.0, NOT_ADAPTIVE),
         "mega_lm_enwik8_large": (24, 1024, 1536, 128, 0.2, 0.1, 0.1, 0.0, NOT_ADAPTIVE)}


def _arch(name, **given_args):
    args = argparse.Namespace(**given_args)
    getattr(mega_lm, name)(args)
    return vars(args)


@pytest.mark.parametrize("name", list(ARCHS))
def test_architecture_defaults(name):
    layers, D, H, Z, dropout, attention, hidden, activation, adaptive = ARCHS[name]
    filled = _arch(name)
    expected = dict(COMMON, **adaptive, decoder_layers=layers, decoder_embed_dim=D, decoder_hidden_dim=H,
                    decoder_ffn_embed_dim=H, decoder_z_dim=Z, decoder_input_dim=D, dropout=dropout,
                    attention_dropout=attention, hidden_dropout=hidden, activation_dropout=activation)
    assert {key: filled[key] for key in expected} == expected


def test_registered_names():
    from fairseq.models import ARCH_MODEL_REGISTRY

    names = ["mega_lm", "mega_lm_big", "mega_lm_wiki103", "mega_lm_adaptive_big", "mega_lm_adaptive_base",
             "mega_lm_enwik8_base", "mega_lm_enwik8_large", "mega_lm_base"]
    assert all(ARCH_MODEL_REGISTRY[name] is MegaLanguageModel for name in names)


def test_mega_lm_base_defaults():
    """The new base LM: enwik8-base shape, pre-norm layernorm, rotary, chunk 128, untruncated, tied embeddings."""
    filled = _arch("mega_lm_base")
    expected = dict(decoder_layers=12, decoder_embed_dim=512, decoder_hidden_dim=1024, decoder_ffn_embed_dim=1024,
                    decoder_z_dim=128, decoder_n_dim=16, decoder_chunk_size=128, rel_pos_bias="rotary",
                    normalize_before=True, no_affine_final_norm=True, share_decoder_input_output_embed=True,
                    truncation_length=None, normalization_type="layernorm", dropout=0.1, attention_dropout=0.0,
                    hidden_dropout=0.0, activation_dropout=0.0, activation_fn="silu", attention_activation_fn="softmax",
                    adaptive_input=False, adaptive_softmax_cutoff=None)
    assert {key: filled[key] for key in expected} == expected
    assert _arch("mega_lm_base", decoder_chunk_size=-1, decoder_hidden_dim=48)["decoder_ffn_embed_dim"] == 1024


def test_given_values_win_and_derived_defaults_follow_them():
    filled = _arch("base_lm_architecture", decoder_hidden_dim=40, decoder_embed_dim=20, truncation_length=None)
    assert (filled["decoder_ffn_embed_dim"], filled["decoder_input_dim"], filled["truncation_length"]) == (40, 20, None)


def _build(argv, vocab=24):
    args = parse_command(["--task", "language_modeling", *argv])
    return MegaLanguageModel.build_model(args, StandInTask(target=dictionary(vocab)))


SMALL = ["--decoder-embed-dim", "16", "--decoder-hidden-dim", "32", "--decoder-ffn-embed-dim", "24",
         "--decoder-z-dim", "8", "--decoder-n-dim", "4", "--max-target-positions", "64"]


def _decoder_layers(count, bias, D=16):
    keys = []
    for i in range(count):
        keys += mega_block(f"decoder.layers.{i}.mega_layer", D, 32, 8, 4, D, bias, "layernorm")
        keys += ffn_block(f"decoder.layers.{i}.nffn", D, 24, "layernorm")
    return keys


def test_state_dict_layout_of_appendix_a4():
    model = _build(["-a", "mega_lm", *SMALL, "--decoder-layers", "2", "--decoder-chunk-size", "8", "--normalize-before",
                    "--no-affine-final-norm", "--rel-pos-bias", "simple", "--share-decoder-input-output-embed",
                    "--activation-dropout", "0.0"])
    expected = [("decoder.version", [1]), ("decoder.embed_tokens.weight", [24, 16])]
    expected += _decoder_layers(2, ("simple", 8)) + [("decoder.output_projection.weight", [24, 16])]
    assert layout(model) == expected
    assert (len(expected), unique_parameters(model)) == (47, 7358)
    assert model.state_dict()["decoder.version"].item() == 4.0


def test_state_dict_layout_of_appendix_a5():
    model = _build(["-a", "mega_lm", *SMALL, "--decoder-layers", "1", "--decoder-chunk-size", "-1", "--rel-pos-bias",
                    "rotary", "--decoder-input-dim", "12", "--activation-dropout", "0.0"])
    expected = [("decoder.version", [1]), ("decoder.embed_tokens.weight", [24, 12]),
                ("decoder.project_in_dim.weight", [16, 12])]
    expected += _decoder_layers(1, ("rotary",)) + [("decoder.output_projection.weight", [24, 16])]
    assert layout(model) == expected
    assert (len(expected), unique_parameters(model)) == (28, 4352)


ADAPTIVE_SMALL = ["-a", "mega_lm_adaptive_big", *SMALL, "--decoder-layers", "1", "--decoder-chunk-size", "8",
                  "--normalize-before", "--no-affine-final-norm", "--rel-pos-bias", "rotary",
                  "--adaptive-input-cutoff", "8,16", "--adaptive-softmax-cutoff", "8,16"]


def test_state_dict_layout_of_appendix_a6():
    model = _build(ADAPTIVE_SMALL)
    expected = [("decoder.version", [1]), ("decoder.embed_tokens._float_tensor", [1])]
    for band, width in enumerate([16, 4, 1]):
        expected += [(f"decoder.embed_tokens.embeddings.{band}.0.weight", [8, width]),
                     (f"decoder.embed_tokens.embeddings.{band}.1.weight", [16, width])]
    expected += _decoder_layers(1, ("rotary",))
    expected += [("decoder.adaptive_softmax.version", [1]), ("decoder.adaptive_softmax.head._float_tensor", [1]),
                 ("decoder.adaptive_softmax.head.word_proj.weight", [8, 16]),
                 ("decoder.adaptive_softmax.head.class_proj.weight", [2, 16]),
                 ("decoder.adaptive_softmax.tail.0.0.weight", [16, 4]),
                 ("decoder.adaptive_softmax.tail.0.2.weight", [8, 4]),
                 ("decoder.adaptive_softmax.tail.1.0.weight", [16, 1]),
                 ("decoder.adaptive_softmax.tail.1.2.weight", [8, 1])]
    assert layout(model) == expected
    assert (len(expected), unique_parameters(model)) == (40, 4024)
    assert model.state_dict()["decoder.adaptive_softmax.version"].dtype == torch.int64


@pytest.mark.parametrize("argv, vocab, count", [
    (["-a", "mega_lm_adaptive_big", "--decoder-hidden-dim", "2048", "--decoder-chunk-size", "1024",
      "--max-target-positions", "8096", "--truncation-length", "8192", "--rel-pos-bias", "rotary",
      "--normalize-before", "--no-affine-final-norm"], 267_744, 252_237_824),
    (["-a", "mega_lm_enwik8_base", "--decoder-chunk-size", "2048", "--max-target-positions", "10384",
      "--truncation-length", "8192", "--rel-pos-bias", "rotary", "--normalize-before", "--no-affine-final-norm",
      "--share-decoder-input-output-embed"], 208, 39_031_296 + 512 * 208),
])
def test_real_size_parameter_counts(argv, vocab, count):
    """spec 3.2: the README WikiText-103 and enwik8 models."""
    with torch.device("meta"):
        model = _build(argv, vocab=vocab)
    assert unique_parameters(model) == count


def _tiny(*extra, chunk=3, truncation=4, layers=2, double=True):
    torch.manual_seed(0)
    model = _build(["-a", "mega_lm_base", "--decoder-layers", str(layers), "--decoder-embed-dim", "16",
                    "--decoder-hidden-dim", "24", "--decoder-ffn-embed-dim", "24", "--decoder-z-dim", "8",
                    "--decoder-n-dim", "4", "--decoder-chunk-size", str(chunk), "--truncation-length", str(truncation),
                    "--dropout", "0", "--max-target-positions", "64", *extra], vocab=20).eval()
    return model.double() if double else model


def max_abs_diff(a, b, mask=None) -> float:
    diff = (a.double() - b.double()).abs()
    return (diff if mask is None else diff[mask]).max().item()


def _rows(seed, count=3, low=3, high=14):
    """Rows starting with </s> (2) whose other tokens are never 2 (no call is ambiguous, see mega_lm)."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(low, high, (count,), generator=generator).tolist()
    return [[2] + torch.randint(4, 20, (n - 1,), generator=generator).tolist() for n in lengths]


_MODEL = {}


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), data=st.data())
def test_incremental_in_either_convention_equals_full_forward(seed, data):
    """Property: split a ragged batch into steps of any sizes, pass each step either as the whole prefix (as
    SequenceGenerator does) or as the new tokens only (chunked evaluation): logits == full forward."""
    if "model" not in _MODEL:
        _MODEL["model"] = _tiny()
    model = _MODEL["model"]
    tokens = padded(_rows(seed))
    length = tokens.size(1)
    cuts = sorted(data.draw(st.sets(st.integers(1, length - 1), max_size=6)))
    bounds = list(zip([0] + cuts, cuts + [length]))
    conventions = data.draw(st.lists(st.booleans(), min_size=len(bounds), max_size=len(bounds)))
    state, pieces = {}, []
    with torch.no_grad():
        for (start, end), whole_prefix in zip(bounds, conventions):
            step = tokens[:, :end] if whole_prefix else tokens[:, start:end]
            pieces.append(model.decoder(step, incremental_state=state)[0])
        full = model.decoder(tokens)[0]
    assert max_abs_diff(torch.cat(pieces, 1), full, tokens.ne(1)) <= 1e-9


def test_the_rule_for_ambiguous_calls():
    """Tokens that extend the consumed history are a prefix call; anything else is new tokens."""
    model = _tiny()
    tokens = torch.tensor([[2, 7, 7, 7, 7, 9]])
    with torch.no_grad():
        full = model.decoder(tokens)[0]
        state = {}
        first = model.decoder(tokens[:, :1], incremental_state=state)[0]
        # [2, 7] starts with the history [2]: read as the prefix, only 7 is new
        second = model.decoder(tokens[:, :2], incremental_state=state)[0]
        # [7] is shorter than the history [2, 7]: new tokens
        third = model.decoder(tokens[:, 2:3], incremental_state=state)[0]
        # [7, 7, 9]: does not start with the history [2, 7, 7]: new tokens
        fourth = model.decoder(tokens[:, 3:], incremental_state=state)[0]
    assert (first.size(1), second.size(1), third.size(1), fourth.size(1)) == (1, 1, 1, 3)
    assert max_abs_diff(torch.cat([first, second, third, fourth], 1), full) <= 1e-9


def test_reorder_incremental_state_follows_the_beams():
    model = _tiny()
    tokens = padded(_rows(7, count=3, low=9, high=10))
    order = torch.tensor([2, 2, 0])
    with torch.no_grad():
        state = {}
        for t in range(5):
            model.decoder(tokens[:, : t + 1], incremental_state=state)
        model.decoder.reorder_incremental_state_scripting(state, order)
        after = torch.cat([model.decoder(tokens[order, : t + 1], incremental_state=state)[0]
                           for t in range(5, tokens.size(1))], 1)
        expected = model.decoder(tokens[order])[0][:, 5:]
    assert max_abs_diff(after, expected) <= 1e-9


def test_adaptive_input_and_softmax():
    """Adaptive LM: incremental == full, normalized probabilities sum to one, tied weights shared."""
    model = _build([*ADAPTIVE_SMALL, "--dropout", "0", "--adaptive-softmax-dropout", "0", "--attention-dropout", "0",
                    "--hidden-dropout", "0", "--activation-dropout", "0"]).double().eval()
    assert model.decoder.adaptive_softmax.tail[0][2].weight is model.decoder.embed_tokens.embeddings[1][0].weight
    tokens = padded(_rows(3, high=20), pad=1)
    with torch.no_grad():
        full = model.decoder(tokens)
        state = {}
        steps = [model.decoder(tokens[:, : t + 1], incremental_state=state)[0] for t in range(tokens.size(1))]
        lprobs = model.get_normalized_probs(full, log_probs=True)
    assert full[0].shape == (3, tokens.size(1), 16)  # features: the adaptive softmax is applied by the criterion
    assert max_abs_diff(torch.cat(steps, 1), full[0], tokens.ne(1)) <= 1e-9
    assert lprobs.shape == (3, tokens.size(1), 24)
    assert torch.allclose(lprobs.exp().sum(-1), torch.ones(3, tokens.size(1), dtype=lprobs.dtype), atol=1e-9)


def test_embedding_scale_projection_and_pad_zeroing():
    model = _tiny("--decoder-input-dim", "12", "--no-scale-embedding")
    assert model.decoder.embed_scale == 1.0 and model.decoder.project_in_dim.weight.shape == (16, 12)
    assert _tiny().decoder.embed_scale == 4.0
    tokens = padded(_rows(4))
    with torch.no_grad():
        features = model.decoder(tokens, features_only=True)[0]
    assert features[tokens.eq(1)].abs().sum() == 0 and features[tokens.ne(1)].abs().sum() > 0


def test_sequence_generator_scores_are_the_full_forward_log_probs():
    """fairseq's SequenceGenerator (whole prefix each step) with a prompt: each hypothesis' positional scores equal
    the teacher-forced log-probabilities of its tokens."""
    from fairseq.sequence_generator import SequenceGenerator

    model = _tiny(double=False)
    words = model.decoder.dictionary
    generator = SequenceGenerator([model], words, beam_size=3, max_len_b=12, min_len=10)
    prompt = torch.tensor([[7, 8, 9]])
    sample = {"net_input": {"src_tokens": prompt, "src_lengths": torch.tensor([3])}}
    with torch.no_grad():
        hypotheses = generator.generate([model], sample, prefix_tokens=prompt)[0]
        for hypothesis in hypotheses:
            target = hypothesis["tokens"]
            source = torch.cat([torch.tensor([words.eos()]), target[:-1]])[None]
            lprobs = model.get_normalized_probs(model(source), log_probs=True)[0]
            expected = lprobs.gather(-1, target[:, None])[:, 0]
            assert torch.allclose(hypothesis["positional_scores"], expected, atol=1e-5)
            assert target[:3].tolist() == [7, 8, 9]


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="needs --adaptive-input"):
        _build(["-a", "mega_lm", *SMALL, "--decoder-layers", "1", "--tie-adaptive-weights",
                "--adaptive-softmax-cutoff", "8,16"])
    with pytest.raises(ValueError, match="equal adaptive"):
        _build(["-a", "mega_lm_adaptive_big", *SMALL, "--decoder-layers", "1", "--adaptive-input-cutoff", "8,16",
                "--adaptive-softmax-cutoff", "8,12"])
