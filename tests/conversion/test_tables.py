"""The declarative tables: key map and config map are inverses of themselves; tensor transforms invert."""

from argparse import Namespace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conversion import ConversionError, config_map, families, key_map, transforms

BLOCK_SUFFIXES = [row[0] for row in key_map.BLOCK] + [
    "mega_layer.v_proj.weight", "mega_layer.mx_proj.bias", "mega_layer.norm.norm.scalar", "nffn.fc1.weight",
    "nffn.norm.norm.running_var", "mega_layer.rel_pos_bias._float_tensor", "mega_layer.rel_pos_bias.alpha",
]


def test_nine_block_names_differ():
    assert len(key_map.BLOCK_RENAMES) == 9
    assert key_map.BLOCK_RENAMES["mega_layer.move.delta"] == "mega_layer.ema_gate.damping_factor"
    assert key_map.BLOCK_RENAMES["mega_layer.gamma"] == "mega_layer.qk_weight"
    assert key_map.BLOCK_RENAMES["mega_layer.rel_pos_bias.beta"] == "mega_layer.rel_pos_bias.b_param"


@given(family=st.sampled_from(families.FAMILIES), layer=st.integers(0, 99), suffix=st.sampled_from(BLOCK_SUFFIXES))
def test_block_keys_map_both_ways(family, layer, suffix):
    fairseq_key = f"{family.side}.layers.{layer}.{suffix}"
    hf_key, transform = key_map.translate(fairseq_key, family.keys, forward=True)
    assert hf_key.startswith(f"mega.layers.{layer}.")
    assert hf_key.endswith(key_map.BLOCK_RENAMES.get(suffix, suffix))
    assert transform == ("rel_pos_table" if suffix.endswith("rel_pos_bias.rel_pos_bias") else None)
    assert key_map.translate(hf_key, family.keys, forward=False) == (fairseq_key, transform)


@pytest.mark.parametrize("family", families.FAMILIES)
def test_model_level_keys_map_both_ways_and_unknown_keys_do_not(family):
    for fairseq_key, hf_key, transform in family.keys:
        if "{" in fairseq_key:
            continue
        assert key_map.translate(fairseq_key, family.keys, forward=True) == (hf_key, transform)
        assert key_map.translate(hf_key, family.keys, forward=False) == (fairseq_key, transform)
    assert key_map.translate(f"{family.side}.embed_norm.norm.weight", family.keys, forward=True) is None
    assert key_map.translate("mega.embedding_layer.token_type_embeddings.weight", family.keys, forward=False) is None
    assert key_map.translate("mega.layers.x.nffn.fc1.weight", family.keys, forward=False) is None


@given(chunk=st.integers(1, 20), extra=st.integers(0, 40), scale=st.sampled_from([1.0, 4.0, 22.627417]))
def test_transforms_invert(chunk, extra, scale):
    max_positions = chunk + extra
    layout = transforms.Layout(scale, chunk, max_positions)
    table = torch.randn(2 * chunk - 1)
    hf_table = transforms.to_hf("rel_pos_table", table, layout)
    assert hf_table.shape == (2 * max_positions - 1,) and not hf_table[2 * chunk - 1:].any()
    assert torch.equal(transforms.to_fairseq("rel_pos_table", hf_table, layout), table)
    unchunked = transforms.Layout(scale, -1, max_positions)
    full = torch.randn(2 * max_positions - 1)
    assert torch.equal(transforms.to_fairseq("rel_pos_table", transforms.to_hf("rel_pos_table", full, unchunked),
                                             unchunked), full)
    embedding = torch.randn(5, 3)
    assert torch.equal(transforms.to_hf("embed_scale", embedding, layout), embedding * scale)
    assert torch.allclose(transforms.to_fairseq("embed_scale", embedding * scale, layout), embedding)


LM_ARGS = st.fixed_dictionaries({
    "embed_dim": st.sampled_from([8, 16, 32]), "layers": st.integers(1, 4), "hidden_dim": st.sampled_from([8, 24]),
    "n_dim": st.integers(1, 8), "z_dim": st.sampled_from([4, 8]), "ffn": st.sampled_from([0, 12]),
    "chunk": st.sampled_from([-1, 4, 16]), "truncation": st.sampled_from([None, 5, 100]),
    "norm": st.sampled_from(["layernorm", "scalenorm", "batchnorm"]), "prenorm": st.booleans(),
    "activation": st.sampled_from(["silu", "gelu", "relu"]),
    "attention": st.sampled_from(["softmax", "laplace", "relu2"]), "rel_pos": st.sampled_from(["simple", "rotary"]),
    "dropout": st.sampled_from([0.0, 0.1]), "max_positions": st.sampled_from([32, 64]),
})


def _fairseq_args(family, v) -> Namespace:
    side = family.side
    args = {f"{side}_embed_dim": v["embed_dim"], f"{side}_layers": v["layers"], f"{side}_hidden_dim": v["hidden_dim"],
            f"{side}_n_dim": v["n_dim"], f"{side}_z_dim": v["z_dim"], f"{side}_ffn_embed_dim": v["ffn"],
            f"{side}_chunk_size": v["chunk"], "truncation_length": v["truncation"], "normalization_type": v["norm"],
            "normalize_before": v["prenorm"], "no_final_norm": True, "activation_fn": v["activation"],
            "attention_activation_fn": v["attention"], "rel_pos_bias": v["rel_pos"], "dropout": v["dropout"],
            "attention_dropout": 0.0, "hidden_dropout": 0.1, "activation_dropout": 0.2, "feature_dropout": False}
    if family.causal:
        args.update(max_target_positions=v["max_positions"], decoder_input_dim=v["embed_dim"])
    else:
        args.update(max_source_positions=v["max_positions"])
    return Namespace(**args)


@settings(max_examples=60, deadline=None)
@given(family=st.sampled_from(families.FAMILIES), values=LM_ARGS)
def test_config_map_round_trip(family, values):
    from transformers import MegaConfig

    args = _fairseq_args(family, values)
    config = MegaConfig(**config_map.to_hf_config(args, 50, family.causal))
    assert config.chunk_size == (values["chunk"] if values["chunk"] > 0 else -1)  # HF reads chunk_size, not the flag
    assert config.normalize_before_mega == config.normalize_before_ffn == values["prenorm"]
    assert config.is_decoder == family.causal and config.bidirectional == (not family.causal)
    back = config_map.to_fairseq_args(config, family.causal)
    for name, value in vars(args).items():
        if name != "decoder_input_dim" or family.causal:
            assert getattr(back, name) == value, name
    assert back.no_scale_embedding and back.arch == family.fairseq_model


def test_refusals_name_every_field():
    values = {"embed_dim": 16, "layers": 2, "hidden_dim": 24, "n_dim": 4, "z_dim": 8, "ffn": 12, "chunk": -1,
              "truncation": None, "norm": "layernorm", "prenorm": False, "activation": "silu",
              "attention": "softmax", "rel_pos": "simple", "dropout": 0.0, "max_positions": 32}
    args = _fairseq_args(families.CAUSAL, values)
    args.normalization_type, args.adaptive_softmax_cutoff, args.normalize_embedding = "rmsnorm", "10,20", True
    args.normalize_before, args.no_final_norm = True, False
    with pytest.raises(ConversionError) as error:
        config_map.refuse_fairseq_only_features(args, causal=True, remote_code=False)
    for field in ("rmsnorm", "adaptive_softmax_cutoff", "normalize_embedding", "normalize_before", "--remote-code"):
        assert field in str(error.value)
    assert "\n" not in str(error.value)
