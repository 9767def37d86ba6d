"""Plugin-built models through the converters (embedding scale fold, tied heads, masked LM with remote code) and
the model options the HF layout needs (mega_lm --decoder-output-bias / --no-final-norm, the mega_mlm model)."""

import json

import pytest
import torch
from safetensors.torch import load_file

from conversion import ConversionError, from_hf, to_hf
from conversion_helpers import TOL, build_plugin_checkpoint, hf_logits, load_fairseq, padded_batch
from fixture_utils import max_abs_diff

LM_DIMS = ["--decoder-layers", 2, "--decoder-embed-dim", 16, "--decoder-hidden-dim", 24, "--decoder-ffn-embed-dim",
           20, "--decoder-z-dim", 8, "--decoder-n-dim", 4, "--tokens-per-sample", 32]
MLM_DIMS = ["--encoder-layers", 2, "--encoder-embed-dim", 16, "--encoder-hidden-dim", 24, "--encoder-ffn-embed-dim",
            20, "--encoder-z-dim", 8, "--encoder-n-dim", 4, "--tokens-per-sample", 32]


def _fairseq_logits(model, tokens, causal=True):
    with torch.no_grad():
        return model.decoder(tokens)[0] if causal else model(tokens)[0]


@pytest.mark.parametrize("tied", [False, True])
def test_scaled_embedding_is_folded_and_a_tied_head_untied(tied, tmp_path):
    """Post-norm mega_lm with the default sqrt(D) embedding scale -> plain MegaForCausalLM, exact both ways."""
    from transformers import AutoModelForCausalLM

    flags = LM_DIMS + ["--attention-activation-fn", "relu2", "--rel-pos-bias", "rotary"]
    checkpoint = build_plugin_checkpoint(tmp_path / "fs", "language_modeling", "mega_lm",
                                         flags + (["--share-decoder-input-output-embed"] if tied else []))
    model, _ = load_fairseq(checkpoint)
    assert model.decoder.embed_scale == 4.0 and model.decoder.final_norm is None
    to_hf(checkpoint, tmp_path / "hf")
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["tie_word_embeddings"] is False and config["use_cache"] is False  # relu2: HF's cache is wrong
    weights = load_file(tmp_path / "hf" / "model.safetensors")
    embedding = model.decoder.embed_tokens.weight
    assert torch.equal(weights["mega.embedding_layer.word_embeddings.weight"], embedding * 4.0)
    assert torch.equal(weights["lm_head.weight"], model.decoder.output_projection.weight)
    assert torch.equal(weights["lm_head.weight"], embedding) is tied
    hf_model = AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    tokens = padded_batch(40, 20)
    keep = tokens.ne(1)
    ours = _fairseq_logits(model, tokens)
    assert max_abs_diff(hf_logits(hf_model, tokens, keep.long(), True), ours, keep) <= TOL
    from_hf(tmp_path / "hf", tmp_path / "back" / "model.pt")
    back, _ = load_fairseq(tmp_path / "back" / "model.pt")
    assert back.decoder.embed_scale == 1.0
    assert max_abs_diff(_fairseq_logits(back, tokens), ours, keep) <= TOL


def test_unscaled_tied_lm_stays_tied(tmp_path):
    from transformers import AutoModelForCausalLM

    flags = LM_DIMS + ["--no-scale-embedding", "--share-decoder-input-output-embed", "--decoder-chunk-size", 8]
    checkpoint = build_plugin_checkpoint(tmp_path / "fs", "language_modeling", "mega_lm", flags)
    to_hf(checkpoint, tmp_path / "hf")
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["tie_word_embeddings"] is True
    assert "lm_head.weight" not in load_file(tmp_path / "hf" / "model.safetensors")  # saved once
    hf_model = AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    assert hf_model.lm_head.weight is hf_model.mega.embedding_layer.word_embeddings.weight
    from_hf(tmp_path / "hf", tmp_path / "back" / "model.pt")
    back, _ = load_fairseq(tmp_path / "back" / "model.pt")
    assert back.args.share_decoder_input_output_embed
    assert back.decoder.output_projection.weight is back.decoder.embed_tokens.weight
    model, _ = load_fairseq(checkpoint)
    tokens = padded_batch(40, 16)  # HF's chunked decoder needs a multiple of the chunk (8)
    keep = tokens.ne(1)
    ours = _fairseq_logits(model, tokens)
    assert max_abs_diff(hf_logits(hf_model, tokens, keep.long(), True), ours, keep) <= TOL
    assert max_abs_diff(_fairseq_logits(back, tokens), ours, keep) <= TOL


@pytest.mark.parametrize("norm, chunk, affine", [("scalenorm", -1, True), ("layernorm", 8, False),
                                                ("batchnorm", 8, True)])
def test_prenorm_masked_lm_converts_with_remote_code(norm, chunk, affine, tmp_path):
    from transformers import AutoModelForMaskedLM

    flags = MLM_DIMS + ["--normalize-before", "--normalization-type", norm, "--encoder-chunk-size", chunk,
                        "--attention-activation-fn", "laplace", "--truncation-length", 6]
    flags += [] if affine else ["--no-affine-final-norm"]
    checkpoint = build_plugin_checkpoint(tmp_path / "fs", "masked_lm", "mega_mlm", flags)
    with pytest.raises(ConversionError, match="normalize_before=True"):
        to_hf(checkpoint, tmp_path / "plain")
    to_hf(checkpoint, tmp_path / "hf", remote_code=True)
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["auto_map"] == {"AutoModelForMaskedLM": "modeling_mega_final_norm.MegaWithFinalNormForMaskedLM"}
    assert config["final_norm_affine"] is affine
    special = json.loads((tmp_path / "hf" / "special_tokens_map.json").read_text())
    vocab = json.loads((tmp_path / "hf" / "vocab.json").read_text())
    assert vocab[special["mask_token"]] == 40 and vocab["<pad>"] == 1 and len(vocab) == 41  # masked_lm adds <mask>
    hf_model = AutoModelForMaskedLM.from_pretrained(tmp_path / "hf", trust_remote_code=True).eval()
    model, _ = load_fairseq(checkpoint)
    assert model.encoder.final_norm is not None
    tokens = padded_batch(41, 21)  # 21: not a multiple of the chunk; the remote class pads like fairseq
    keep = tokens.ne(1)
    ours = _fairseq_logits(model, tokens, causal=False)
    assert max_abs_diff(hf_logits(hf_model, tokens, keep.long(), False), ours, keep) <= TOL
    from_hf(tmp_path / "hf", tmp_path / "back" / "model.pt")  # the remote class maps back to a final norm
    back, _ = load_fairseq(tmp_path / "back" / "model.pt")
    assert back.encoder.final_norm is not None and back.args.no_affine_final_norm is not affine
    assert max_abs_diff(_fairseq_logits(back, tokens, causal=False), ours, keep) <= TOL


def test_decoder_output_bias_and_no_final_norm_options(tmp_path):
    """mega_lm's HF-layout options: defaults keep the original layout; the flags add exactly a bias / drop the norm."""
    base = LM_DIMS + ["--normalize-before"]
    plain = build_plugin_checkpoint(tmp_path / "plain", "language_modeling", "mega_lm", base)
    model, _ = load_fairseq(plain)
    keys = model.state_dict()
    assert "decoder.output_projection.bias" not in keys and "decoder.final_norm.norm.weight" in keys
    biased = build_plugin_checkpoint(tmp_path / "bias", "language_modeling", "mega_lm",
                                     base + ["--decoder-output-bias", "--no-final-norm"])
    other, _ = load_fairseq(biased)
    keys = other.state_dict()
    assert keys["decoder.output_projection.bias"].shape == (40,)
    assert not any(key.startswith("decoder.final_norm") for key in keys)
    tokens = padded_batch(40, 12)
    keep = tokens.ne(1)
    with torch.no_grad():  # both feature paths without gradients: the layers' products are then the same calls
        features = other.decoder(tokens, features_only=True)[0]
        logits = _fairseq_logits(other, tokens)
        expected = features @ other.decoder.output_projection.weight.t() + other.decoder.output_projection.bias
        layers_only = other.decoder.extract_features(tokens)[1]["inner_states"][-1].transpose(0, 1)
    assert max_abs_diff(logits, expected, keep) <= 1e-6
    assert max_abs_diff(features, layers_only, keep) == 0.0  # no final norm after the last layer


def test_mega_mlm_masked_positions_padding_and_embedding_norm(tmp_path):
    flags = MLM_DIMS + ["--encoder-chunk-size", 4, "--normalize-embedding", "--normalize-before"]
    checkpoint = build_plugin_checkpoint(tmp_path, "masked_lm", "mega_mlm", flags)
    model, task = load_fairseq(checkpoint)
    assert "encoder.embed_norm.norm.weight" in model.state_dict()
    assert model.encoder.lm_head.bias is not None
    tokens = padded_batch(len(task.source_dictionary), 11)
    full = _fairseq_logits(model, tokens, causal=False)
    masked = torch.zeros_like(tokens, dtype=torch.bool)
    masked[0, 3] = masked[1, 0] = masked[2, 4] = True
    with torch.no_grad():
        selected = model(tokens, masked_tokens=masked)[0]
        alone = model(tokens[2:, :5])[0]  # row 2 has 5 real tokens
    assert selected.shape == (3, len(task.source_dictionary))
    assert max_abs_diff(selected, full[masked]) <= 1e-6
    assert max_abs_diff(alone[0], full[2, :5]) <= 1e-5  # padding does not change real positions
    with pytest.raises(ConversionError, match="normalize_embedding"):
        to_hf(checkpoint, tmp_path / "hf", remote_code=True)
