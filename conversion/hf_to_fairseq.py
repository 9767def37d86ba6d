"""HF ``MegaForCausalLM`` / ``MegaForMaskedLM`` directory -> fairseq ``mega_lm`` / ``mega_mlm`` checkpoint.

``dict.txt`` is written beside the checkpoint: the one ``to_hf`` stored in the HF folder, or placeholder symbols
``<hf_ID>`` (ids 4..V-1, fairseq's four special symbols first). For a masked LM fairseq's ``masked_lm`` task appends
``<mask>``, which takes the last id.
"""

import os
import pathlib
import shutil
import tempfile

import torch

from conversion import config_map, families, key_map, probe
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
    architectures = getattr(config, "architectures", None) or ["MegaForCausalLM" if config.is_decoder else "?"]
    family = families.BY_HF_CLASS.get(architectures[0])
    if family is None:
        raise ConversionError(f"architecture {architectures[0]} does not convert (MegaForCausalLM, MegaForMaskedLM do)")
    weights = hf_dir / "model.safetensors"
    if not weights.is_file():
        raise ConversionError(f"model.safetensors not found in {hf_dir}")
    return config, load_file(weights), family


def fairseq_state_dict(config, hf_state: dict, args, family) -> dict:
    for key in hf_state:
        for marker, field in HF_ONLY_KEYS.items():
            if marker in key:
                raise ConversionError(f"fairseq Mega cannot represent {field} (weight {key})")
    head = f"{family.head}.weight"
    if head not in hf_state:  # tied head saved once
        hf_state = dict(hf_state, **{head: hf_state["mega.embedding_layer.word_embeddings.weight"]})
    out = {"decoder.version": torch.tensor([PLUGIN_VERSION])} if family.causal else {}
    chunk = getattr(args, f"{family.side}_chunk_size")
    for key, value in hf_state.items():
        mapped = key_map.translate(key, family.keys, forward=False)
        if mapped is None:
            raise ConversionError(f"no fairseq counterpart for HF weight {key}")
        fairseq_key, _ = mapped
        if key.endswith("rel_pos_bias.rel_pos_bias") and chunk > 0:
            value = value[: 2 * chunk - 1]
        out[fairseq_key] = value.clone()
    for index in range(getattr(args, f"{family.side}_layers")):  # HF may drop the rotary dtype-carrier buffer
        if args.rel_pos_bias == "rotary":
            out.setdefault(f"{family.side}.layers.{index}.mega_layer.rel_pos_bias._float_tensor", torch.zeros(1))
    return out


def _dictionary_lines(hf_dir: pathlib.Path, vocab_size: int, masked: bool):
    """dict.txt lines: the one written by to-hf if present, else placeholders (see the module docstring)."""
    existing = hf_dir / "dict.txt"
    if existing.is_file():
        lines = existing.read_text(encoding="utf-8").splitlines()
        symbols = len(lines) + 4 + (masked and not any(line.split()[0] == "<mask>" for line in lines))
        if symbols != vocab_size:
            raise ConversionError(f"{existing} gives {symbols} symbols, the model has {vocab_size}")
        return lines
    return [f"<hf_{index}> 1" for index in range(4, vocab_size - masked)]


def from_hf(hf_dir, out_path) -> float:
    """Convert; returns the max abs logit difference measured on the probe batch before writing."""
    import mega_plugin  # noqa: F401
    import transformers
    from fairseq import checkpoint_utils

    hf_dir, out_path = pathlib.Path(hf_dir), pathlib.Path(out_path)
    config, hf_state, family = read_hf(hf_dir)
    args = config_map.to_fairseq_args(config, family.causal)
    state = fairseq_state_dict(config, hf_state, args, family)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{out_path.name}.", dir=out_path.parent))
    try:
        args.data = str(out_path.parent)
        checkpoint = {
            "args": args,
            "model": state,
            "optimizer_history": [{"criterion_name": "CrossEntropyCriterion" if family.causal else "MaskedLmLoss",
                                   "optimizer_name": "FairseqAdam",
                                   "lr_scheduler_state": {}, "num_updates": 0}],
            "extra_state": {"train_iterator": {"epoch": 1}, "val_loss": None},
        }
        torch.save(checkpoint, staging / out_path.name)
        lines = _dictionary_lines(hf_dir, config.vocab_size, not family.causal)
        (staging / "dict.txt").write_text("\n".join(lines) + "\n")
        models, _, _ = checkpoint_utils.load_model_ensemble_and_task(
            [str(staging / out_path.name)], arg_overrides={"data": str(staging)}
        )
        hf_model = getattr(transformers, family.hf_class).from_pretrained(hf_dir).eval()
        length = probe.probe_length(getattr(args, f"{family.side}_chunk_size"), config.max_positions)
        tokens = probe.probe_tokens(config.vocab_size, length)
        with torch.no_grad():
            ours = family.fairseq_logits(models[0].eval(), tokens)
        diff = probe.compare(ours, hf_model, tokens, family.causal)
        os.replace(staging / "dict.txt", out_path.parent / "dict.txt")
        os.replace(staging / out_path.name, out_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return diff
