"""HF ``MegaForCausalLM`` / ``MegaForMaskedLM`` folder -> fairseq ``mega_lm`` / ``mega_mlm`` checkpoint.

The checkpoint stores ``args`` (an argparse Namespace, as the original code; fairseq 0.12 converts it on load) and
the model; ``dict.txt`` goes beside it (``vocabulary.py``). Both are written into a temporary folder, loaded back
with ``checkpoint_utils.load_model_ensemble_and_task``, compared with the HF model on a padded probe batch, and
moved into place only if they agree.
"""

import pathlib

import torch

from conversion import config_map, families, key_map, probe, transforms, vocabulary
from conversion.atomic import atomic_files
from conversion.errors import ConversionError

# marker in an HF weight name -> the MegaConfig option that created it
HF_ONLY_KEYS = {
    "token_type_embeddings": "add_token_type_embeddings",
    "dense.": "add_lm_hidden_dense_layer",
}


def read_hf(hf_dir: pathlib.Path):
    """``(config, state dict, family, with_final_norm)`` of an HF Mega folder; refuses HF-only features."""
    from safetensors.torch import load_file
    from transformers import AutoConfig

    if not (hf_dir / "config.json").is_file():
        raise ConversionError(f"config.json not found in {hf_dir}")
    config = AutoConfig.from_pretrained(hf_dir)
    if config.model_type != "mega":
        raise ConversionError(f"model_type {config.model_type!r} is not Mega")
    architectures = getattr(config, "architectures", None)
    if architectures:
        family, final_norm = families.of_hf_architecture(architectures[0])
    else:
        family, final_norm = (families.CAUSAL if config.is_decoder else families.MASKED), False
    config_map.refuse_hf_only_features(config)
    weights = hf_dir / "model.safetensors"
    if not weights.is_file():
        raise ConversionError(f"model.safetensors not found in {hf_dir}")
    return config, load_file(weights), family, final_norm


def fairseq_state_dict(hf_state: dict, family, layout: transforms.Layout, args) -> dict:
    """The HF state dict renamed and transformed through the family's key table (HF -> fairseq)."""
    for key in hf_state:
        for marker, field in HF_ONLY_KEYS.items():
            if marker in key:
                raise ConversionError(f"fairseq Mega cannot represent {field} (weight {key})")
    head = f"{family.head}.weight"
    if head not in hf_state:  # a tied head is saved once
        hf_state = dict(hf_state, **{head: hf_state["mega.embedding_layer.word_embeddings.weight"]})
    out = {}
    if family.causal:
        from mega_plugin.models.original_behaviour import PLUGIN_VERSION

        out["decoder.version"] = torch.tensor([float(PLUGIN_VERSION)])
    for key, value in hf_state.items():
        mapped = key_map.translate(key, family.keys, forward=False)
        if mapped is None:
            raise ConversionError(f"no fairseq counterpart for HF weight {key}")
        fairseq_key, transform = mapped
        out[fairseq_key] = transforms.to_fairseq(transform, value, layout).clone()
    if args.rel_pos_bias == "rotary":  # HF files may lack the rotary dtype-carrier buffer
        for index in range(getattr(args, f"{family.side}_layers")):
            out.setdefault(f"{family.side}.layers.{index}.mega_layer.rel_pos_bias._float_tensor", torch.zeros(1))
    return out


def _checkpoint(args, state, family) -> dict:
    return {
        "args": args,
        "model": state,
        "optimizer_history": [{"criterion_name": "CrossEntropyCriterion" if family.causal else "MaskedLmLoss",
                               "optimizer_name": "FairseqAdam", "lr_scheduler_state": {}, "num_updates": 0}],
        "extra_state": {"train_iterator": {"epoch": 1}, "val_loss": None},
    }


def from_hf(hf_dir, out_path) -> float:
    """Convert; returns the max abs logit difference measured on the probe batch before writing."""
    import mega_plugin  # noqa: F401
    import transformers
    from fairseq import checkpoint_utils

    hf_dir, out_path = pathlib.Path(hf_dir), pathlib.Path(out_path)
    config, hf_state, family, final_norm = read_hf(hf_dir)
    args = config_map.to_fairseq_args(config, family.causal, final_norm)
    layout = transforms.Layout(1.0, family.chunk_size(args), config.max_positions)
    state = fairseq_state_dict(hf_state, family, layout, args)
    lines = vocabulary.fairseq_dictionary_lines(hf_dir, config.vocab_size, masked=not family.causal)
    dict_text = "".join(line + "\n" for line in lines)
    folder = out_path.parent
    if out_path.exists():
        raise FileExistsError(f"output exists: {out_path}")
    existing = folder / "dict.txt"
    if existing.exists() and existing.read_text(encoding="utf-8") != dict_text:
        raise FileExistsError(f"a different dict.txt is already beside the output: {existing}")
    args.data = str(folder.resolve())
    with atomic_files(folder, [out_path.name, "dict.txt"]) as staging:
        torch.save(_checkpoint(args, state, family), staging / out_path.name)
        (staging / "dict.txt").write_text(dict_text, encoding="utf-8")
        models, _, _ = checkpoint_utils.load_model_ensemble_and_task(
            [str(staging / out_path.name)], arg_overrides={"data": str(staging)}
        )
        auto_class = getattr(transformers, family.auto_class)
        hf_model = auto_class.from_pretrained(hf_dir, trust_remote_code=final_norm).eval()
        length = probe.probe_length(family.chunk_size(args), config.max_positions)
        tokens = probe.probe_tokens(config.vocab_size, length)
        with torch.no_grad():
            ours = family.fairseq_logits(models[0].eval(), tokens)
        diff = probe.compare(ours, hf_model, tokens, family.causal)
    return diff
