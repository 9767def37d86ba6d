"""Declarative key maps: fairseq ``mega_lm`` <-> HF ``MegaForCausalLM``, ``mega_mlm`` <-> ``MegaForMaskedLM``.

Inside a Mega block only nine names differ (``BLOCK_RENAMES``). Model-level entries (``CAUSAL_LM``) map whole
keys; ``{i}`` stands for the layer index. Tensor transforms are named in the tables and applied by the converters:
``scale_embedding`` folds fairseq's ``sqrt(D)`` embedding scale into the weights; ``rel_pos_table`` resizes the
simple position vector (fairseq keeps ``2C - 1`` entries when chunked, HF always ``2M - 1`` of which it reads the
first ``2C - 1``).
"""

import re

BLOCK_RENAMES = {
    "mega_layer.move.delta": "mega_layer.ema_gate.damping_factor",
    "mega_layer.move.alpha": "mega_layer.ema_gate.decay_factor",
    "mega_layer.move.beta": "mega_layer.ema_gate.ema_expansion_matrix",
    "mega_layer.move.gamma": "mega_layer.ema_gate.kernel_projection_matrix",
    "mega_layer.move.omega": "mega_layer.ema_gate.residual_weight",
    "mega_layer.gamma": "mega_layer.qk_weight",
    "mega_layer.beta": "mega_layer.qk_bias",
    "mega_layer.rel_pos_bias.beta": "mega_layer.rel_pos_bias.b_param",
    "cross_attn.rel_pos_bias.beta": "cross_attn.rel_pos_bias.b_param",
}

# (fairseq key, HF key, transform)
CAUSAL_LM = [
    ("decoder.embed_tokens.weight", "mega.embedding_layer.word_embeddings.weight", "scale_embedding"),
    ("decoder.output_projection.weight", "lm_head.weight", None),
    ("decoder.output_projection.bias", "lm_head.bias", None),
    ("decoder.final_norm.{rest}", "final_norm.{rest}", None),  # only with --remote-code
    ("decoder.layers.{i}.{rest}", "mega.layers.{i}.{rest}", "block"),
]


MASKED_LM = [
    ("encoder.embed_tokens.weight", "mega.embedding_layer.word_embeddings.weight", "scale_embedding"),
    ("encoder.lm_head.weight", "mlm_head.weight", None),
    ("encoder.lm_head.bias", "mlm_head.bias", None),
    ("encoder.layers.{i}.{rest}", "mega.layers.{i}.{rest}", "block"),
]


def _pattern(template: str) -> re.Pattern:
    regex = re.escape(template).replace(r"\{i\}", r"(?P<i>\d+)").replace(r"\{rest\}", r"(?P<rest>.+)")
    return re.compile(f"^{regex}$")


def translate(key: str, table, forward: bool):
    """Map one key through ``table`` (fairseq -> HF if ``forward``); returns ``(new_key, transform)`` or None."""
    for fairseq_key, hf_key, transform in table:
        source, target = (fairseq_key, hf_key) if forward else (hf_key, fairseq_key)
        match = _pattern(source).match(key)
        if match is None:
            continue
        parts = match.groupdict()
        if transform == "block":
            renames = BLOCK_RENAMES if forward else {v: k for k, v in BLOCK_RENAMES.items()}
            parts["rest"] = renames.get(parts["rest"], parts["rest"])
        return target.format(**parts), transform
    return None
