"""fairseq ``mega_lm`` / ``mega_mlm`` checkpoint -> HF ``MegaForCausalLM`` / ``MegaForMaskedLM`` directory."""

import json
import pathlib

import torch

from conversion import config_map, families, key_map, probe
from conversion import remote_code as final_norm_code
from conversion.atomic import atomic_directory
from conversion.errors import ConversionError


def load_fairseq_lm(checkpoint, data=None):
    """Load a Mega LM checkpoint with the plugin (``data``: folder with dict.txt, default: the checkpoint's)."""
    import mega_plugin  # noqa: F401
    from fairseq import checkpoint_utils

    checkpoint = pathlib.Path(checkpoint)
    if not checkpoint.is_file():
        raise ConversionError(f"checkpoint not found: {checkpoint}")
    data = pathlib.Path(data) if data else checkpoint.parent
    if not (data / "dict.txt").is_file():
        raise ConversionError(f"dict.txt not found in {data} (pass the data directory with --data)")
    state = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint))
    arch = getattr(state.get("args"), "arch", None) or getattr(state["cfg"].model, "_name", None)
    models, _, task = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)], arg_overrides={"data": str(data)})
    model = models[0].eval()
    family = families.of_fairseq_model(model)
    if family is None:
        raise ConversionError(f"arch {arch!r} has no Hugging Face counterpart (mega_lm and mega_mlm convert)")
    return model, task, family


def hf_state_dict(model, family, config: dict) -> dict:
    """Rename and transform the fairseq state dict through the family's key table."""
    body = getattr(model, family.side)
    out = {}
    for key, value in model.state_dict().items():
        if key == f"{family.side}.version":
            continue
        mapped = key_map.translate(key, family.keys, forward=True)
        if mapped is None:
            raise ConversionError(f"no Hugging Face counterpart for weight {key}")
        hf_key, transform = mapped
        if transform == "scale_embedding":
            value = value * body.embed_scale
        elif key.endswith("rel_pos_bias.rel_pos_bias"):
            table = torch.zeros(2 * config["max_positions"] - 1, dtype=value.dtype)
            table[: value.numel()] = value
            value = table
        out[hf_key] = value.detach().clone().contiguous()
    out.setdefault(f"{family.head}.bias", torch.zeros(len(body.dictionary)))
    return out


def to_hf(checkpoint, out_dir, remote_code: bool = False, data=None) -> float:
    """Convert; returns the max abs logit difference measured on the probe batch before writing."""
    import transformers

    model, task, family = load_fairseq_lm(checkpoint, data)
    args = model.args
    config_fields = config_map.to_hf_config(args, len(task.source_dictionary), remote_code, family.causal)
    shared = getattr(args, family.share_arg) and getattr(model, family.side).embed_scale == 1.0
    config_fields["tie_word_embeddings"] = bool(shared)
    state = hf_state_dict(model, family, config_fields)
    with_final_norm = "final_norm_affine" in config_fields
    if with_final_norm:
        config_fields["auto_map"] = {
            "AutoModelForCausalLM": f"{final_norm_code.MODULE_NAME}.{final_norm_code.CLASS_NAME}"
        }
    config = transformers.MegaConfig(**config_fields)
    with atomic_directory(out_dir) as staging:
        if with_final_norm:
            (staging / f"{final_norm_code.MODULE_NAME}.py").write_text(final_norm_code.SOURCE)
        config.save_pretrained(staging)
        hf_model = _build(config, family, with_final_norm)
        missing, unexpected = hf_model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not (shared and k == f"{family.head}.weight")]
        if missing or unexpected:
            raise ConversionError(f"HF model keys do not match: missing {missing}, unexpected {unexpected}")
        hf_model.save_pretrained(staging, safe_serialization=True)
        _write_vocabulary(task.source_dictionary, staging)
        auto_class = getattr(transformers, family.auto_class)
        reloaded = auto_class.from_pretrained(staging, trust_remote_code=with_final_norm).eval()
        length = probe.probe_length(getattr(args, f"{family.side}_chunk_size"), family.max_positions(args))
        tokens = probe.probe_tokens(len(task.source_dictionary), length)
        with torch.no_grad():
            ours = family.fairseq_logits(model, tokens)
        diff = probe.compare(ours, reloaded, tokens, family.causal)
    return diff


def _build(config, family, with_final_norm):
    """An HF model for ``config``; with the final norm, the class from our own module source."""
    import transformers

    if not with_final_norm:
        return getattr(transformers, family.hf_class)(config).eval()
    namespace = {}
    exec(compile(final_norm_code.SOURCE, final_norm_code.MODULE_NAME, "exec"), namespace)
    return namespace[final_norm_code.CLASS_NAME](config).eval()


def _write_vocabulary(dictionary, folder):
    """The fairseq dictionary (dict.txt) and the id of every symbol (vocab.json); no HF tokenizer is implied."""
    dictionary.save(str(folder / "dict.txt"))
    vocab = {symbol: index for index, symbol in enumerate(dictionary.symbols)}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=0))
