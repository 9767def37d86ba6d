"""HF ``MegaForCausalLM`` directory -> fairseq ``mega_lm`` checkpoint (+ dict.txt beside it)."""

import os
import pathlib
import shutil
import tempfile

import torch

from conversion import config_map, key_map, probe
from conversion.errors import ConversionError
from mega_plugin.models.original_behaviour import PLUGIN_VERSION

HF_ONLY_KEYS = {
    "token_type_embeddings": "add_token_type_embeddings",
    "dense.": "add_lm_hidden_dense_layer",
}


def read_hf(hf_dir):
    from safetensors.torch import load_file
    from transformers import AutoConfig

    hf_dir = pathlib.Path(hf_dir)
    if not (hf_dir / "config.json").is_file():
        raise ConversionError(f"config.json not found in {hf_dir}")
    config = AutoConfig.from_pretrained(hf_dir)
    if config.model_type != "mega":
        raise ConversionError(f"model_type {config.model_type!r} is not Mega")
    config_map.refuse_hf_only_features(config)
    architectures = getattr(config, "architectures", None) or []
    if architectures and architectures[0] != "MegaForCausalLM":
        raise ConversionError(f"architecture {architectures[0]} is not supported yet (MegaForCausalLM converts)")
    weights = hf_dir / "model.safetensors"
    if not weights.is_file():
        raise ConversionError(f"model.safetensors not found in {hf_dir}")
    return config, load_file(weights)


def fairseq_state_dict(config, hf_state: dict, args) -> dict:
    for key in hf_state:
        for marker, field in HF_ONLY_KEYS.items():
            if marker in key:
                raise ConversionError(f"fairseq Mega cannot represent {field} (weight {key})")
    if "lm_head.weight" not in hf_state:  # tied head saved once
        hf_state = dict(hf_state, **{"lm_head.weight": hf_state["mega.embedding_layer.word_embeddings.weight"]})
    out = {"decoder.version": torch.tensor([PLUGIN_VERSION])}
    for key, value in hf_state.items():
        mapped = key_map.translate(key, key_map.CAUSAL_LM, forward=False)
        if mapped is None:
            raise ConversionError(f"no fairseq counterpart for HF weight {key}")
        fairseq_key, _ = mapped
        if key.endswith("rel_pos_bias.rel_pos_bias") and args.decoder_chunk_size > 0:
            value = value[: 2 * args.decoder_chunk_size - 1]
        out[fairseq_key] = value.clone()
    for index in range(args.decoder_layers):  # HF may drop the dtype-carrier buffer of the rotary bias
        if args.rel_pos_bias == "rotary":
            out.setdefault(f"decoder.layers.{index}.mega_layer.rel_pos_bias._float_tensor", torch.zeros(1))
    return out


def _dictionary_lines(hf_dir: pathlib.Path, vocab_size: int):
    """dict.txt lines: the one written by to-hf if present, else placeholders ``<hf_ID>`` for ids 4..V-1."""
    existing = hf_dir / "dict.txt"
    if existing.is_file():
        lines = existing.read_text(encoding="utf-8").splitlines()
        if len(lines) + 4 != vocab_size:
            raise ConversionError(f"{existing} has {len(lines) + 4} symbols, the model {vocab_size}")
        return lines
    return [f"<hf_{index}> 1" for index in range(4, vocab_size)]


def from_hf(hf_dir, out_path) -> float:
    """Convert; returns the max abs logit difference measured on the probe batch before writing."""
    import mega_plugin  # noqa: F401
    from fairseq import checkpoint_utils
    from transformers import MegaForCausalLM

    hf_dir, out_path = pathlib.Path(hf_dir), pathlib.Path(out_path)
    config, hf_state = read_hf(hf_dir)
    args = config_map.to_fairseq_args(config)
    state = fairseq_state_dict(config, hf_state, args)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{out_path.name}.", dir=out_path.parent))
    try:
        args.data = str(out_path.parent)
        checkpoint = {
            "args": args,
            "model": state,
            "optimizer_history": [{"criterion_name": "CrossEntropyCriterion", "optimizer_name": "FairseqAdam",
                                   "lr_scheduler_state": {}, "num_updates": 0}],
            "extra_state": {"train_iterator": {"epoch": 1}, "val_loss": None},
        }
        torch.save(checkpoint, staging / out_path.name)
        (staging / "dict.txt").write_text("\n".join(_dictionary_lines(hf_dir, config.vocab_size)) + "\n")
        models, _, _ = checkpoint_utils.load_model_ensemble_and_task(
            [str(staging / out_path.name)], arg_overrides={"data": str(staging)}
        )
        hf_model = MegaForCausalLM.from_pretrained(hf_dir).eval()
        length = probe.probe_length(args.decoder_chunk_size, args.max_target_positions)
        diff = probe.compare(models[0].eval(), hf_model, probe.probe_tokens(config.vocab_size, length))
        os.replace(staging / "dict.txt", out_path.parent / "dict.txt")
        os.replace(staging / out_path.name, out_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return diff
