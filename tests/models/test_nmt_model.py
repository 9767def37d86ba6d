"""The ``mega`` NMT model without a task: architecture defaults (spec 1.1), state-dict layouts (Appendix A.7/A.8,
real size of 3.2), padding-side invariance of new models (chunked encoders included), incremental decoding with
beam reordering, SequenceGenerator batch independence, and errors."""

import argparse

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mega_plugin.models import mega_nmt
from mega_plugin.models.mega_nmt import MegaModel
from seq_model_helpers import (
    StandInTask, cross_block, dictionary, ffn_block, layout, mega_block, padded, parse_command, unique_parameters,
)



def max_abs_diff(a, b, mask=None) -> float:
    """Max |a - b| in float64 (the tiny models here run in float64)."""
    diff = (a.double() - b.double()).abs()
    return (diff if mask is None else diff[mask]).max().item()


COMMON = dict(encoder_embed_path=None, encoder_n_dim=16, encoder_layers=6, encoder_chunk_size=-1, decoder_layers=6,
              decoder_n_dim=16, decoder_chunk_size=-1, feature_dropout=False, rel_pos_bias="simple",
              normalization_type="layernorm", normalize_before=False, normalize_embedding=False,
              no_scale_embedding=False, adaptive_softmax_cutoff=None, adaptive_softmax_dropout=0,
              share_decoder_input_output_embed=False, share_all_embeddings=False, adaptive_input=False,
              activation_fn="silu", attention_activation_fn="softmax", truncation_length=1024,
              tie_adaptive_weights=False)
# spec 1.1: D, H, F, Z, dropout, attention, hidden, activation dropout (decoder dims follow the encoder)
ARCHS = {"mega": (512, 1024, 1024, 128, 0.1, 0.0, 0.0, 0.0),
         "mega_wmt_en_de": (512, 1024, 1024, 128, 0.1, 0.1, 0.1, 0.1),
         "mega_wmt_en_de_big": (1024, 2048, 2048, 256, 0.3, 0.1, 0.1, 0.1)}


def _arch(name, **given_args):
    args = argparse.Namespace(**given_args)
    getattr(mega_nmt, {"mega": "base_architecture"}.get(name, name))(args)
    return vars(args)


@pytest.mark.parametrize("name", list(ARCHS))
def test_architecture_defaults(name):
    D, H, F, Z, dropout, attention, hidden, activation = ARCHS[name]
    filled = _arch(name)
    expected = dict(COMMON, encoder_embed_dim=D, encoder_hidden_dim=H, encoder_ffn_embed_dim=F, encoder_z_dim=Z,
                    decoder_embed_dim=D, decoder_hidden_dim=H, decoder_ffn_embed_dim=F, decoder_z_dim=Z,
                    decoder_input_dim=D, dropout=dropout, attention_dropout=attention, hidden_dropout=hidden,
                    activation_dropout=activation)
    assert {key: filled[key] for key in expected} == expected


def test_given_values_win_and_the_decoder_follows_the_encoder():
    filled = _arch("mega_wmt_en_de", encoder_embed_dim=16, encoder_hidden_dim=32, encoder_chunk_size=8,
                   decoder_layers=2, truncation_length=None)
    assert filled["encoder_ffn_embed_dim"] == 1024  # set by mega_wmt_en_de before the base derives it
    assert (filled["decoder_embed_dim"], filled["decoder_hidden_dim"], filled["decoder_chunk_size"]) == (16, 32, 8)
    assert (filled["decoder_layers"], filled["truncation_length"]) == (2, None)
    assert _arch("mega", encoder_hidden_dim=48)["decoder_ffn_embed_dim"] == 48


def _build(argv, vocab=24):
    args = parse_command(["--task", "translation", *argv])
    words = dictionary(vocab)
    return MegaModel.build_model(args, StandInTask(words, words))


SMALL = ["-a", "mega_wmt_en_de", "--encoder-layers", "1", "--decoder-layers", "1", "--encoder-embed-dim", "16",
         "--encoder-hidden-dim", "32", "--encoder-ffn-embed-dim", "24", "--encoder-z-dim", "8", "--encoder-n-dim", "4"]


def _expected(D, H, F, Z, N, self_bias, enc_bias, cross_bias, norm, prenorm):
    keys = [("encoder.version", [1]), ("encoder.embed_tokens.weight", [24, D])]
    keys += mega_block("encoder.layers.0.mega_layer", D, H, Z, N, 2 * D, enc_bias, norm)
    keys += ffn_block("encoder.layers.0.nffn", D, F, norm)
    keys += [(f"encoder.final_norm.norm.{k}", [1]) for k in (["scalar"] if prenorm else [])]
    keys += [("decoder.version", [1]), ("decoder.embed_tokens.weight", [24, D])]
    keys += mega_block("decoder.layers.0.mega_layer", D, H, Z, N, D, self_bias, norm)
    keys += cross_block("decoder.layers.0.cross_attn", D, Z, cross_bias, norm)
    keys += ffn_block("decoder.layers.0.nffn", D, F, norm)
    keys += [(f"decoder.final_norm.norm.{k}", [1]) for k in (["scalar"] if prenorm else [])]
    return keys + [("decoder.output_projection.weight", [24, D])]


def test_state_dict_layout_of_appendix_a7():
    model = _build([*SMALL, "--share-all-embeddings", "--max-source-positions", "64", "--max-target-positions", "48"])
    assert layout(model) == _expected(16, 32, 24, 8, 4, ("simple", 48), ("simple", 64), ("simple", 64),
                                      "layernorm", False)
    assert (len(model.state_dict()), unique_parameters(model)) == (60, 9325)
    assert model.encoder.embed_tokens.weight is model.decoder.output_projection.weight
    assert model.state_dict()["decoder.version"].item() == 4.0  # written by the plugin (original: 3.0)


def test_state_dict_layout_of_appendix_a8():
    model = _build([*SMALL, "--max-source-positions", "64", "--max-target-positions", "64", "--normalize-before",
                    "--normalization-type", "scalenorm", "--rel-pos-bias", "rotary"])
    assert layout(model) == _expected(16, 32, 24, 8, 4, ("rotary",), ("rotary",), ("rotary",), "scalenorm", True)
    assert (len(model.state_dict()), unique_parameters(model)) == (63, 9639)


def test_real_size_parameter_count_of_wmt16():
    """spec 3.2: mega_wmt_en_de with the README flags and a shared vocabulary = 46,359,534 + 512 V."""
    with torch.device("meta"):
        model = _build(["-a", "mega_wmt_en_de", "--share-all-embeddings"], vocab=1000)
    assert unique_parameters(model) == 46_359_534 + 512 * 1000


def _tiny(chunk=4, original=None, **extra):
    argv = ["-a", "mega", "--encoder-layers", "2", "--decoder-layers", "2", "--encoder-embed-dim", "16",
            "--encoder-hidden-dim", "24", "--encoder-z-dim", "8", "--encoder-n-dim", "4", "--encoder-chunk-size",
            str(chunk), "--decoder-chunk-size", "3", "--truncation-length", "5", "--dropout", "0", "--normalize-before",
            "--max-source-positions", "64", "--max-target-positions", "64", *extra]
    torch.manual_seed(0)
    model = _build(argv, vocab=20).double().eval()
    if original is not None:  # reload as an original checkpoint (version 3) would be
        state = model.state_dict()
        state["encoder.version"].fill_(3.0)
        state["decoder.version"].fill_(3.0)
        if original is False:
            model.args.original_cross_positions = False
        model.load_state_dict(state)
    return model


def _random_rows(seed, count=4, low=2, high=12):
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(low, high, (count,), generator=generator).tolist()
    return [torch.randint(4, 20, (n - 1,), generator=generator).tolist() + [2] for n in lengths]


def _logits(model, src, prev):
    with torch.no_grad():
        return model(src, src.ne(1).sum(1), prev)[0]


def test_chunked_encoder_of_a_new_model_is_padding_side_invariant():
    """Left-padded sources (fairseq's default) give the right-padded, and the row-alone, results."""
    model = _tiny()
    src_rows = _random_rows(1, high=14)
    prev = padded([[2] + row[:-1] for row in _random_rows(2)])
    left = model.encoder(padded(src_rows, left=True))
    right = model.encoder(padded(src_rows))
    for b, row in enumerate(src_rows):
        alone = model.encoder(torch.tensor([row]))["encoder_out"][0][:, 0]
        n = len(row)
        assert max_abs_diff(left["encoder_out"][0][-n:, b], alone) <= 1e-9  # real tokens at the end, as given
        assert max_abs_diff(right["encoder_out"][0][:n, b], alone) <= 1e-9
        width = left["encoder_out"][0].size(0)
        assert left["encoder_out"][0][: width - n, b].abs().sum() == 0  # pads zeroed
    assert torch.equal(left["encoder_padding_mask"][0], padded(src_rows, left=True).eq(1))
    valid = prev.ne(1)
    logits_left = _logits(model, padded(src_rows, left=True), prev)
    assert max_abs_diff(logits_left, _logits(model, padded(src_rows), prev), valid) <= 1e-9


def test_original_checkpoints_keep_the_padded_chunk_boundaries():
    """Version 3: chunks over the padded positions (original behaviour); --original-cross-positions False fixes it."""
    src_rows = _random_rows(1, high=14)
    left, right = padded(src_rows, left=True), padded(src_rows)

    def real_positions(model, src, is_left):
        out = model.encoder(src)["encoder_out"][0]
        return [out[-len(row):, b] if is_left else out[: len(row), b] for b, row in enumerate(src_rows)]

    original = _tiny(original=True)
    assert not original.encoder.pad_invariant_chunks
    diffs = [max_abs_diff(a, b) for a, b in zip(real_positions(original, left, True),
                                                 real_positions(original, right, False))]
    assert max(diffs) > 1e-5  # the gated attention is still small at initialisation
    fixed = _tiny(original=False)
    assert fixed.encoder.pad_invariant_chunks
    for a, b in zip(real_positions(fixed, left, True), real_positions(fixed, right, False)):
        assert max_abs_diff(a, b) <= 1e-9


_MODELS = {}


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), chunk=st.sampled_from([-1, 2, 3, 5]))
def test_batched_rows_equal_rows_alone(seed, chunk):
    """Property: with any chunk size, each left-padded batch row decodes exactly as the sentence alone."""
    if chunk not in _MODELS:
        _MODELS[chunk] = _tiny(chunk=chunk)
    model = _MODELS[chunk]
    src_rows, tgt_rows = _random_rows(seed), _random_rows(seed + 1)
    src, prev = padded(src_rows, left=True), padded([[2] + row[:-1] for row in tgt_rows])
    batched = _logits(model, src, prev)
    for b, (s, t) in enumerate(zip(src_rows, tgt_rows)):
        alone = _logits(model, torch.tensor([s]), torch.tensor([[2] + t[:-1]]))[0]
        assert max_abs_diff(batched[b, : len(t)], alone) <= 1e-9


def test_reorder_encoder_out_equals_encoding_the_reordered_batch():
    model = _tiny()
    src = padded(_random_rows(3), left=True)
    order = torch.tensor([3, 0, 0, 2])
    with torch.no_grad():
        reordered = model.encoder.reorder_encoder_out(model.encoder(src, return_all_hiddens=True), order)
        direct = model.encoder(src[order], return_all_hiddens=True)
    for key in ("encoder_out", "encoder_padding_mask", "encoder_embedding", "encoder_states"):
        assert len(reordered[key]) == len(direct[key]) > 0
        for a, b in zip(reordered[key], direct[key]):
            assert max_abs_diff(a.double(), b.double()) <= 1e-9


def test_incremental_decoding_with_beam_reordering_equals_full_forward():
    """SequenceGenerator convention (whole prefix, decoder keeps the last token) + reorder of every module."""
    model = _tiny()
    src = padded(_random_rows(4), left=True)
    prev = padded([[2] + row for row in _random_rows(5, low=8, high=9)])
    order = torch.tensor([1, 1, 3, 0])
    with torch.no_grad():
        encoder_out = model.encoder(src)
        state, steps = {}, []
        for t in range(prev.size(1)):
            if t == 4:  # beams change: reorder states, the encoder output and the prefix
                model.decoder.reorder_incremental_state_scripting(state, order)
                encoder_out = model.encoder.reorder_encoder_out(encoder_out, order)
                prev, src, steps = prev[order], src[order], [s[order] for s in steps]
            steps.append(model.decoder(prev[:, : t + 1], encoder_out, incremental_state=state)[0])
        full = model(src, None, prev)[0]
    assert max_abs_diff(torch.cat(steps, 1), full) <= 1e-9


def test_generation_is_batch_independent():
    """fairseq's SequenceGenerator: beam 3 over a left-padded batch of 4 == each sentence alone (chunked model)."""
    from fairseq.sequence_generator import SequenceGenerator

    model = _tiny().float()
    words = model.encoder.dictionary
    generator = SequenceGenerator([model], words, beam_size=3, max_len_b=8)
    src_rows = _random_rows(6, high=14)

    def generate(rows):
        src = padded(rows, left=True)
        sample = {"net_input": {"src_tokens": src, "src_lengths": src.ne(1).sum(1)}}
        with torch.no_grad():
            return generator.generate([model], sample)

    batched = generate(src_rows)
    for b, row in enumerate(src_rows):
        alone = generate([row])[0]
        assert [h["tokens"].tolist() for h in batched[b]] == [h["tokens"].tolist() for h in alone]
        assert torch.allclose(torch.tensor([h["score"] for h in batched[b]]),
                              torch.tensor([h["score"] for h in alone]), atol=1e-5)


def test_errors_name_the_problem():
    model = _tiny()
    prev = torch.tensor([[2, 5]])
    with pytest.raises(ValueError, match="needs the encoder output"):
        model.decoder(prev)
    with pytest.raises(ValueError, match="full_context_alignment"):
        model.decoder(prev, model.encoder(torch.tensor([[5, 2]])), full_context_alignment=True)
    with pytest.raises(ValueError, match="not supported"):
        _build([*SMALL, "--adaptive-softmax-cutoff", "8,16"])
    with pytest.raises(ValueError, match="embed-path"):
        _build([*SMALL, "--encoder-embed-path", "vectors.txt"])
    args = parse_command(["--task", "translation", *SMALL, "--share-all-embeddings"])
    with pytest.raises(ValueError, match="joined dictionary"):
        MegaModel.build_model(args, StandInTask(dictionary(24), dictionary(30)))
    with pytest.raises(ValueError, match="cannot be combined"):
        _build([*SMALL, "--normalize-before", "--normalize-embedding"])


@pytest.mark.parametrize("init", [None, "normal", "xavier"])
def test_cross_attention_init_flag(init):
    """--cross-attention-init: the original N(0, 0.02) by default, xavier-uniform on request (biases 0 both ways);
    only the cross-attention projections change."""
    torch.manual_seed(0)
    model = _build([*SMALL, "--encoder-embed-dim", "64", "--encoder-hidden-dim", "64", "--encoder-z-dim", "16",
                    *([] if init is None else ["--cross-attention-init", init])])
    cross = model.decoder.layers[0].cross_attn
    for linear in (cross.k_proj, cross.v_proj, cross.q_proj, cross.h_proj):
        fan_out, fan_in = linear.weight.shape
        bound = (6.0 / (fan_in + fan_out)) ** 0.5
        std = linear.weight.std().item()
        if init == "xavier":  # uniform(-bound, bound): std = bound / sqrt(3)
            assert linear.weight.abs().max().item() <= bound
            assert std == pytest.approx(bound / 3 ** 0.5, rel=0.1)
        else:
            assert std == pytest.approx(0.02, rel=0.1)
        assert not linear.bias.any()
    assert model.decoder.layers[0].mega_layer.v_proj.weight.std().item() == pytest.approx(0.02, rel=0.1)
    with pytest.raises(SystemExit):
        _build([*SMALL, "--cross-attention-init", "kaiming"])


def test_cross_attention_init_is_checked_in_the_module():
    from mega_plugin.modules.cross_attention import GatedCrossAttention

    with pytest.raises(ValueError, match="unknown cross-attention init 'kaiming'"):
        GatedCrossAttention(embed_dim=8, zdim=4, init="kaiming")
