"""Activation functions used by Mega, looked up by the original's names.

fairseq 0.12 lacks ``silu`` (its ``swish`` returns a class, not a function), so the plugin keeps its own table.
Element-wise attention functions (``relu2``, ``laplace``) and the float32 softmax also live here.
"""

import math
from typing import Callable

import torch
import torch.nn.functional as F

ACTIVATIONS = ("relu", "gelu", "gelu_fast", "gelu_accurate", "linear", "silu")
ATTENTION_ACTIVATIONS = ("softmax", "relu2", "laplace")

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
# laplace attention: mu = sqrt(1/2), sigma = sqrt(1/(4*pi)) (Ma et al. 2022, section 3.4)
LAPLACE_MU = 0.707107
LAPLACE_SIGMA = 0.282095


def gelu(x: torch.Tensor) -> torch.Tensor:
    """Exact (erf) GELU, evaluated in (at least) float32 and cast back."""
    return F.gelu(x.to(torch.promote_types(x.dtype, torch.float32))).type_as(x)


def gelu_accurate(x: torch.Tensor) -> torch.Tensor:
    """tanh approximation of GELU."""
    return 0.5 * x * (1.0 + torch.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * torch.pow(x, 3))))


def linear(x: torch.Tensor) -> torch.Tensor:
    return x


def relu2(x: torch.Tensor) -> torch.Tensor:
    """Squared ReLU."""
    return torch.square(F.relu(x))


def laplace(x: torch.Tensor, mu: float = LAPLACE_MU, sigma: float = LAPLACE_SIGMA) -> torch.Tensor:
    """Laplace attention function 0.5 * (1 + erf((x - mu) / (sigma * sqrt(2))))."""
    return 0.5 * (1.0 + torch.erf((x - mu) / (sigma * math.sqrt(2.0))))


def get_activation_fn(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Map an original activation name (``--activation-fn``) to a function."""
    table = {
        "relu": F.relu,
        "gelu": gelu,
        "gelu_fast": gelu_accurate,
        "gelu_accurate": gelu_accurate,
        "linear": linear,
        "silu": F.silu,
    }
    if name not in table:
        raise ValueError(f"unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}")
    return table[name]


def check_attention_activation(name: str) -> str:
    if name not in ATTENTION_ACTIVATIONS:
        raise ValueError(
            f"unknown attention activation {name!r}; expected one of {', '.join(ATTENTION_ACTIVATIONS)}"
        )
    return name
