"""Declarative key tables: fairseq ``mega_lm`` <-> HF ``MegaForCausalLM``, ``mega_mlm`` <-> ``MegaForMaskedLM``.

Each row is ``(fairseq key, HF key, transform)``; both directions read the same rows. ``{i}`` is a layer index,
``{rest}`` the remainder of the key. A transform is either the name of a tensor transform (``transforms.py``:
``embed_scale`` folds fairseq's sqrt(D) embedding scale into the weights, ``rel_pos_table`` resizes the simple
position vector) or a nested table applied to ``{rest}`` (``BLOCK``: inside a Mega layer only nine names differ;
a ``{rest}`` that no nested row matches keeps its name).
"""

import functools
import re

# inside one Mega layer (hf-mapping.md section 3.1)
BLOCK = [
    ("mega_layer.move.delta", "mega_layer.ema_gate.damping_factor", None),
    ("mega_layer.move.alpha", "mega_layer.ema_gate.decay_factor", None),
    ("mega_layer.move.beta", "mega_layer.ema_gate.ema_expansion_matrix", None),
    ("mega_layer.move.gamma", "mega_layer.ema_gate.kernel_projection_matrix", None),
    ("mega_layer.move.omega", "mega_layer.ema_gate.residual_weight", None),
    ("mega_layer.gamma", "mega_layer.qk_weight", None),
    ("mega_layer.beta", "mega_layer.qk_bias", None),
    ("mega_layer.rel_pos_bias.beta", "mega_layer.rel_pos_bias.b_param", None),
    ("mega_layer.rel_pos_bias.rel_pos_bias", "mega_layer.rel_pos_bias.rel_pos_bias", "rel_pos_table"),
    ("cross_attn.rel_pos_bias.beta", "cross_attn.rel_pos_bias.b_param", None),
]

CAUSAL_LM = [
    ("decoder.embed_tokens.weight", "mega.embedding_layer.word_embeddings.weight", "embed_scale"),
    ("decoder.output_projection.weight", "lm_head.weight", None),
    ("decoder.output_projection.bias", "lm_head.bias", None),  # --decoder-output-bias (HF layout)
    ("decoder.final_norm.{rest}", "final_norm.{rest}", None),  # HF: only the --remote-code subclass has it
    ("decoder.layers.{i}.{rest}", "mega.layers.{i}.{rest}", BLOCK),
]

MASKED_LM = [
    ("encoder.embed_tokens.weight", "mega.embedding_layer.word_embeddings.weight", "embed_scale"),
    ("encoder.lm_head.weight", "mlm_head.weight", None),
    ("encoder.lm_head.bias", "mlm_head.bias", None),
    ("encoder.final_norm.{rest}", "final_norm.{rest}", None),  # HF: only the --remote-code subclass has it
    ("encoder.layers.{i}.{rest}", "mega.layers.{i}.{rest}", BLOCK),
]

# the nine renamed block parameters, fairseq suffix -> HF suffix (also used by the benchmarks)
BLOCK_RENAMES = {fairseq: hf for fairseq, hf, _ in BLOCK if fairseq != hf}


@functools.lru_cache(maxsize=None)
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
        if isinstance(transform, list):
            inner = translate(parts["rest"], transform, forward)
            parts["rest"], transform = inner if inner is not None else (parts["rest"], None)
        return target.format(**parts), transform
    return None
