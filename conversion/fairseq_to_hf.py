"""fairseq ``mega_lm`` / ``mega_mlm`` checkpoint -> HF ``MegaForCausalLM`` / ``MegaForMaskedLM`` folder.

Steps: read the checkpoint's args and refuse what HF cannot represent (before building anything); load the model
with the plugin; rename and transform every weight through the family's key table; build the HF model, save it into
a temporary folder beside ``out_dir``, reload it from there and compare logits on a padded probe batch; rename the
folder into place only if they agree.
"""

import copy
import json
import pathlib
from argparse import Namespace

import torch

from conversion import config_map, families, key_map, probe, transforms, vocabulary
from conversion import remote_code as final_norm_module
from conversion.atomic import atomic_directory
from conversion.errors import ConversionError


def checkpoint_args(checkpoint: pathlib.Path):
    """``(args, arch, registered model name)`` of a fairseq checkpoint (original ``args`` or 0.12 ``cfg``)."""
    import mega_plugin  # noqa: F401  (registers the models)
    from fairseq.models import ARCH_MODEL_NAME_REGISTRY
    from mega_plugin.compat.safe_load import load_checkpoint

    if not checkpoint.is_file():
        raise ConversionError(f"checkpoint not found: {checkpoint}")
    state = load_checkpoint(checkpoint)
    args = state.get("args")
    if args is None and state.get("cfg") is not None:
        args = state["cfg"]["model"]
    if not isinstance(args, Namespace):
        raise ConversionError(f"{checkpoint} has no argparse model args (not a Mega plugin/original checkpoint)")
    arch = getattr(args, "arch", None) or getattr(args, "_name", None)
    if arch not in ARCH_MODEL_NAME_REGISTRY:
        raise ConversionError(f"{checkpoint}: arch {arch!r} is not registered by the Mega plugin")
    return args, arch, ARCH_MODEL_NAME_REGISTRY[arch]


def _data_folder(checkpoint: pathlib.Path, args, data) -> pathlib.Path:
    """Where dict.txt is: ``data`` if given, else beside the checkpoint, else the checkpoint's own data path."""
    candidates = [pathlib.Path(data)] if data else [checkpoint.parent]
    if not data and getattr(args, "data", None):
        candidates.append(pathlib.Path(str(args.data).split(":")[0]))
    for folder in candidates:
        if (folder / "dict.txt").is_file():
            return folder
    where = " or ".join(map(str, candidates))
    raise ConversionError(f"dict.txt not found in {where} (pass the data folder with --data)")


def load_fairseq(checkpoint, data=None, remote_code: bool = False):
    """Refuse early, then load the model with the plugin: ``(model, dictionary, family)``."""
    from fairseq import checkpoint_utils
    from fairseq.models import ARCH_CONFIG_REGISTRY

    checkpoint = pathlib.Path(checkpoint)
    args, arch, model_name = checkpoint_args(checkpoint)
    family = families.of_fairseq_model(model_name, arch)
    filled = copy.deepcopy(args)
    ARCH_CONFIG_REGISTRY[arch](filled)  # the arch defaults the checkpoint may leave out
    config_map.refuse_fairseq_only_features(filled, family.causal, remote_code)
    folder = _data_folder(checkpoint, args, data)
    models, _, task = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)],
                                                                    arg_overrides={"data": str(folder)})
    return models[0].eval(), task.source_dictionary, family


def hf_state_dict(model, family, layout: transforms.Layout) -> dict:
    """The fairseq state dict renamed and transformed through the family's key table (fairseq -> HF)."""
    out = {}
    for key, value in model.state_dict().items():
        if key == f"{family.side}.version":
            continue
        mapped = key_map.translate(key, family.keys, forward=True)
        if mapped is None:
            raise ConversionError(f"no Hugging Face counterpart for weight {key}")
        hf_key, transform = mapped
        out[hf_key] = transforms.to_hf(transform, value.detach(), layout).clone().contiguous()
    out.setdefault(f"{family.head}.bias", torch.zeros(out[f"{family.head}.weight"].size(0)))
    return out


def to_hf(checkpoint, out_dir, remote_code: bool = False, data=None) -> float:
    """Convert; returns the max abs logit difference measured on the probe batch before writing."""
    import transformers

    model, dictionary, family = load_fairseq(checkpoint, data, remote_code)
    args = model.args
    body = getattr(model, family.side)
    fields = config_map.to_hf_config(args, len(dictionary), family.causal)
    # a tied head stays tied only if the embedding needs no scale folded in (else the head keeps the unscaled copy)
    fields["tie_word_embeddings"] = bool(getattr(args, family.share_arg, False)) and body.embed_scale == 1.0
    with_final_norm = "final_norm_affine" in fields
    if with_final_norm:
        fields["auto_map"] = {family.auto_class: f"{final_norm_module.MODULE_NAME}.{family.remote_class}"}
    config = transformers.MegaConfig(**fields)
    layout = transforms.Layout(body.embed_scale, family.chunk_size(args), config.max_positions)
    state = hf_state_dict(model, family, layout)
    with atomic_directory(out_dir) as staging:
        if with_final_norm:
            (staging / f"{final_norm_module.MODULE_NAME}.py").write_text(final_norm_module.SOURCE, encoding="utf-8")
            hf_model = final_norm_module.build(family.remote_class, config)
        else:
            hf_model = getattr(transformers, family.hf_class)(config)
        try:
            missing, unexpected = hf_model.load_state_dict(state, strict=False)
        except RuntimeError as error:  # shape mismatch
            raise ConversionError(" ".join(str(error).split())) from None
        missing = [key for key in missing if not (config.tie_word_embeddings and key == f"{family.head}.weight")]
        if missing or unexpected:
            raise ConversionError(f"HF model keys do not match: missing {missing}, unexpected {unexpected}")
        hf_model.save_pretrained(staging, safe_serialization=True)
        _write_tie_explicitly(staging / "config.json", config.tie_word_embeddings)
        vocabulary.write_hf_vocabulary(dictionary, staging)
        auto_class = getattr(transformers, family.auto_class)
        reloaded = auto_class.from_pretrained(staging, trust_remote_code=with_final_norm).eval()
        tokens = probe.probe_tokens(len(dictionary), probe.probe_length(family.chunk_size(args), config.max_positions))
        with torch.no_grad():
            ours = family.fairseq_logits(model, tokens)
        diff = probe.compare(ours, reloaded, tokens, family.causal)
    return diff


def _write_tie_explicitly(path: pathlib.Path, tied: bool) -> None:
    """HF omits ``tie_word_embeddings`` when it equals the PretrainedConfig default (True); write it always."""
    fields = json.loads(path.read_text(encoding="utf-8"))
    fields["tie_word_embeddings"] = tied
    path.write_text(json.dumps(fields, indent=2, sort_keys=True) + "\n", encoding="utf-8")
