"""Cheap elementwise work recomputed in the backward instead of kept for it.

``linear_of(fn, inputs, linear)`` is ``linear(fn(*inputs))`` for an elementwise ``fn`` (a product of two tensors, an
activation). Plain autograd keeps ``fn(*inputs)``, the linear's input, for the weight gradient, beside the inputs
that ``fn``'s own backward keeps; ``RecomputedInputLinears`` keeps only the inputs and the weight and recomputes
``fn`` in the backward (one elementwise pass instead of a stored ``[..., in_features]`` tensor); the matrix product
is not recomputed. ``linears_of`` does so for the parts of one linear's outputs, each its own tensor.
``elementwise_recomputed(fn, *inputs)`` does the same for an elementwise ``fn`` with no linear after it (activation
checkpointing of elementwise ops only).

All three fall back to the plain formula without gradients, under ``torch.compile`` (whose partitioner makes its own
choice of what to recompute) and on devices where ``RECOMPUTE`` says so. ``linear_of_reference`` is the plain
formula they are tested against (``linears_of_reference`` for ``linears_of``).
"""

from typing import Callable, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


def linear_of_reference(fn: Callable, inputs: Sequence[torch.Tensor], linear: nn.Linear) -> torch.Tensor:
    return linear(fn(*inputs))


def _parts(weight: torch.Tensor, bias: Optional[torch.Tensor], sizes: Sequence[int]):
    """``(weight, bias)`` of each part of a linear's outputs, ``sizes`` of them in turn."""
    return zip(weight.split(sizes), [None] * len(sizes) if bias is None else bias.split(sizes))


def linears_of_reference(fn: Callable, inputs: Sequence[torch.Tensor], linear: nn.Linear,
                         sizes: Sequence[int]) -> Tuple[torch.Tensor, ...]:
    features = fn(*inputs)
    return tuple(F.linear(features, w, b) for w, b in _parts(linear.weight, linear.bias, sizes))


class RecomputedInputLinears(torch.autograd.Function):
    """The parts ``F.linear(fn(*inputs), w_i, b_i)`` of one linear's outputs (``sizes`` of them; each part its own
    tensor), saving ``inputs`` and the weight (not ``fn(*inputs)``). The backward joins the parts' gradients, so
    the weight, the bias and ``fn``'s output get one product (or sum) each."""

    @staticmethod
    def forward(ctx, fn, sizes, weight, bias, *inputs):
        ctx.fn, ctx.has_bias = fn, bias is not None
        ctx.save_for_backward(weight, *inputs)
        features = fn(*inputs)
        return tuple(F.linear(features, w, b) for w, b in _parts(weight, bias, sizes))

    @staticmethod
    def backward(ctx, *grads):
        weight, *inputs = ctx.saved_tensors
        needs_weight, needs_bias = ctx.needs_input_grad[2:4]
        needs_inputs = ctx.needs_input_grad[4:]
        with torch.enable_grad():
            leaves = [t.detach().requires_grad_(needs) for t, needs in zip(inputs, needs_inputs)]
            features = ctx.fn(*leaves)
        grad = torch.cat(grads, dim=-1) if len(grads) > 1 else grads[0]
        grad_2d = grad.reshape(-1, grad.size(-1))
        grad_weight = grad_2d.t().mm(features.detach().reshape(-1, features.size(-1))) if needs_weight else None
        grad_bias = grad_2d.sum(0) if ctx.has_bias and needs_bias else None
        grad_inputs = [None] * len(inputs)
        if any(needs_inputs):
            wanted = [leaf for leaf, needs in zip(leaves, needs_inputs) if needs]
            grads_of_wanted = iter(torch.autograd.grad(features, wanted, grad.matmul(weight)))
            grad_inputs = [next(grads_of_wanted) if needs else None for needs in needs_inputs]
        return (None, None, grad_weight, grad_bias, *grad_inputs)


# Whether to recompute, by device type (others: True). In a Mega layer this keeps the product h * silu(r), the
# silu of the EMA output, z and r, the FFN's activation and the gate's difference out of the backward's memory:
# 2.2 KB per token in bfloat16. Measured on CPU (one layer, D 128, H = F = 256, softmax, rotary): what the backward
# keeps at 65K tokens falls by 136 MB, from 449-559 to 313-423 MB (decoder) and 552-845 to 412-709 MB (encoder);
# fwd+bwd time in fp32 at 8192 tokens is 0.98-1.09x. CPU runs favour time; on CUDA it is on for the memory target
# (not measured there: no GPU was lent).
RECOMPUTE = {"cpu": False, "cuda": True}


def grad_needed(*tensors: torch.Tensor) -> bool:
    """Whether autograd will differentiate through an op on ``tensors`` (recording, and one of them requires grad)."""
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def _recompute(*tensors: torch.Tensor) -> bool:
    return (grad_needed(*tensors) and not torch.compiler.is_compiling()
            and RECOMPUTE.get(tensors[0].device.type, True))


def linears_of(fn: Callable, inputs: Sequence[torch.Tensor], linear: nn.Linear,
               sizes: Sequence[int]) -> Tuple[torch.Tensor, ...]:
    """``split(linear(fn(*inputs)), sizes, -1)`` for an elementwise ``fn``, each part computed as its own product
    (its own tensor), keeping only ``inputs`` (and the weight) for the backward."""
    if not _recompute(linear.weight, *inputs):
        return linears_of_reference(fn, inputs, linear, sizes)
    return RecomputedInputLinears.apply(fn, sizes, linear.weight, linear.bias, *inputs)


def linear_of(fn: Callable, inputs: Sequence[torch.Tensor], linear: nn.Linear) -> torch.Tensor:
    """``linear(fn(*inputs))`` for an elementwise ``fn``, keeping only ``inputs`` (and the weight) for the backward."""
    if not _recompute(linear.weight, *inputs):
        return linear_of_reference(fn, inputs, linear)
    return RecomputedInputLinears.apply(fn, [linear.out_features], linear.weight, linear.bias, *inputs)[0]


def elementwise_recomputed(fn: Callable, *inputs: torch.Tensor) -> torch.Tensor:
    """``fn(*inputs)`` for an elementwise ``fn``: its intermediate results are recomputed in the backward."""
    if not _recompute(*inputs):
        return fn(*inputs)
    return checkpoint(fn, *inputs, use_reentrant=False)
