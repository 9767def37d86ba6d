"""Helpers of the mega / mega_lm model tests: parse a fairseq-train command, build a model without a task, and
the expected state-dict layout of spec section 3.1 (Appendix A) for the NMT and LM models."""

import torch
from fairseq import options
from fairseq.data import Dictionary

import mega_plugin  # noqa: F401  (registers the models)


class StandInTask:
    """Just what ``build_model`` reads from a task: the dictionaries."""

    def __init__(self, source=None, target=None):
        self.source_dictionary = source
        self.target_dictionary = target
        self.dictionary = target


def dictionary(size: int) -> Dictionary:
    """fairseq dictionary of ``size`` entries (4 specials + words ``w0..``)."""
    vocab = Dictionary()
    for index in range(size - len(vocab)):
        vocab.add_symbol(f"w{index}")
    return vocab


def parse_command(argv):
    """fairseq 0.12 training parser + architecture defaults, as ``fairseq-train`` would parse ``argv``."""
    return options.parse_args_and_arch(options.get_training_parser(), ["DATA", *map(str, argv)])


def unique_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


NORM_KEYS = {"layernorm": [("weight", "D"), ("bias", "D")], "scalenorm": [("scalar", 1)]}


def _shape(spec, sizes):
    return [sizes[s] if isinstance(s, str) else s for s in spec]


def mega_block(prefix, D, H, Z, N, E, bias, norm):
    """(key, shape) of a MEGA sub-layer (spec 3.1); ``bias`` = ("simple", P) or ("rotary",)."""
    sizes = {"D": D}
    keys = [(f"{prefix}.gamma", [2, Z]), (f"{prefix}.beta", [2, Z])]
    keys += [(f"{prefix}.norm.norm.{k}", _shape([s], sizes)) for k, s in NORM_KEYS[norm]]
    keys += [(f"{prefix}.move.delta", [E, N, 1]), (f"{prefix}.move.alpha", [E, N, 1]),
             (f"{prefix}.move.beta", [E, N, 1]), (f"{prefix}.move.gamma", [E, N]), (f"{prefix}.move.omega", [D]),
             (f"{prefix}.v_proj.weight", [H, D]), (f"{prefix}.v_proj.bias", [H]),
             (f"{prefix}.mx_proj.weight", [2 * D + Z + H, D]), (f"{prefix}.mx_proj.bias", [2 * D + Z + H]),
             (f"{prefix}.h_proj.weight", [D, H]), (f"{prefix}.h_proj.bias", [D])]
    return keys + position_bias(f"{prefix}.rel_pos_bias", Z, bias)


def position_bias(prefix, Z, bias):
    if bias[0] == "simple":
        return [(f"{prefix}.rel_pos_bias", [2 * bias[1] - 1])]
    return [(f"{prefix}.alpha", [1, Z]), (f"{prefix}.beta", [1, Z]), (f"{prefix}._float_tensor", [1])]


def ffn_block(prefix, D, F, norm):
    keys = [(f"{prefix}.norm.norm.{k}", _shape([s], {"D": D})) for k, s in NORM_KEYS[norm]]
    return keys + [(f"{prefix}.fc1.weight", [F, D]), (f"{prefix}.fc1.bias", [F]), (f"{prefix}.fc2.weight", [D, F]),
                   (f"{prefix}.fc2.bias", [D])]


def cross_block(prefix, D, Z, bias, norm):
    keys = [(f"{prefix}.norm.norm.{k}", _shape([s], {"D": D})) for k, s in NORM_KEYS[norm]]
    keys += [(f"{prefix}.k_proj.weight", [Z, D]), (f"{prefix}.k_proj.bias", [Z]), (f"{prefix}.v_proj.weight", [D, D]),
             (f"{prefix}.v_proj.bias", [D]), (f"{prefix}.q_proj.weight", [2 * D + Z, D]),
             (f"{prefix}.q_proj.bias", [2 * D + Z]), (f"{prefix}.h_proj.weight", [D, D]),
             (f"{prefix}.h_proj.bias", [D])]
    return keys + position_bias(f"{prefix}.rel_pos_bias", Z, bias)


def layout(model):
    return [(key, list(value.shape)) for key, value in model.state_dict().items()]


def padded(rows, pad=1, left=False):
    """``[B, T]`` batch of token lists padded with ``pad`` on the left or right."""
    width = max(len(row) for row in rows)
    out = torch.full((len(rows), width), pad, dtype=torch.long)
    for index, row in enumerate(rows):
        if left:
            out[index, width - len(row):] = torch.tensor(row)
        else:
            out[index, : len(row)] = torch.tensor(row)
    return out
