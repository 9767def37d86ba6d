"""Cheap elementwise work recomputed in the backward instead of kept for it.

``linear_of(fn, inputs, linear)`` is ``linear(fn(*inputs))`` for an elementwise ``fn`` (a product of two tensors, an
activation). Plain autograd keeps ``fn(*inputs)``, the linear's input, for the weight gradient, beside the inputs
that ``fn``'s own backward keeps; ``RecomputedInputLinear`` keeps only the inputs and the weight and recomputes
``fn`` in the backward (one elementwise pass instead of a stored ``[..., in_features]`` tensor); the matrix product
is not recomputed. ``elementwise_recomputed(fn, *inputs)`` does the same for an elementwise ``fn`` with no linear
after it (activation checkpointing of elementwise ops only).

Both fall back to the plain formula without gradients, under ``torch.compile`` (whose partitioner makes its own
choice of what to recompute) and on devices where ``RECOMPUTE`` says so. ``linear_of_reference`` is the plain
formula they are tested against.
"""

from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


def linear_of_reference(fn: Callable, inputs: Sequence[torch.Tensor], linear: nn.Linear) -> torch.Tensor:
    return linear(fn(*inputs))


class RecomputedInputLinear(torch.autograd.Function):
    """``F.linear(fn(*inputs), weight, bias)`` saving ``inputs`` and ``weight`` (not ``fn(*inputs)``)."""

    @staticmethod
    def forward(ctx, fn, weight, bias, *inputs):
        ctx.fn, ctx.has_bias = fn, bias is not None
        ctx.save_for_backward(weight, *inputs)
        return F.linear(fn(*inputs), weight, bias)

    @staticmethod
    def backward(ctx, grad):
        weight, *inputs = ctx.saved_tensors
        needs_inputs = ctx.needs_input_grad[3:]
        with torch.enable_grad():
            leaves = [t.detach().requires_grad_(needs) for t, needs in zip(inputs, needs_inputs)]
            features = ctx.fn(*leaves)
        grad_2d = grad.reshape(-1, grad.size(-1))
        grad_weight = grad_bias = None
        if ctx.needs_input_grad[1]:
            grad_weight = grad_2d.t().mm(features.detach().reshape(-1, features.size(-1)))
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_2d.sum(0)
        grad_inputs = [None] * len(inputs)
        if any(needs_inputs):
            wanted = [leaf for leaf, needs in zip(leaves, needs_inputs) if needs]
            grads = iter(torch.autograd.grad(features, wanted, grad.matmul(weight)))
            grad_inputs = [next(grads) if needs else None for needs in needs_inputs]
        return (None, grad_weight, grad_bias, *grad_inputs)


# Whether to recompute, by device type (others: True). In a Mega layer this keeps the product h * r, the FFN's
# activation and the gate's difference out of the backward's memory: 1.3 KB per token in bfloat16. Measured on CPU
# (one layer, D 128, H = F = 256, softmax, rotary): what the backward keeps at 65K tokens falls by 80 MB, from
# 483-559 to 403-479 MB (decoder) and 548-621 to 468-541 MB (encoder); fwd+bwd time in fp32 at 8192 tokens rises
# to 0.99-1.09x (1.08-1.09x in decoder layers with chunks of 128). CPU runs favour time; on CUDA it is on for the
# memory target (not measured there: no GPU was lent).
RECOMPUTE = {"cpu": False, "cuda": True}


def grad_needed(*tensors: torch.Tensor) -> bool:
    """Whether autograd will differentiate through an op on ``tensors`` (recording, and one of them requires grad)."""
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def _recompute(*tensors: torch.Tensor) -> bool:
    return (grad_needed(*tensors) and not torch.compiler.is_compiling()
            and RECOMPUTE.get(tensors[0].device.type, True))


def linear_of(fn: Callable, inputs: Sequence[torch.Tensor], linear: nn.Linear) -> torch.Tensor:
    """``linear(fn(*inputs))`` for an elementwise ``fn``, keeping only ``inputs`` (and the weight) for the backward."""
    if not _recompute(linear.weight, *inputs):
        return linear_of_reference(fn, inputs, linear)
    return RecomputedInputLinear.apply(fn, linear.weight, linear.bias, *inputs)


def elementwise_recomputed(fn: Callable, *inputs: torch.Tensor) -> torch.Tensor:
    """``fn(*inputs)`` for an elementwise ``fn``: its intermediate results are recomputed in the backward."""
    if not _recompute(*inputs):
        return fn(*inputs)
    return checkpoint(fn, *inputs, use_reentrant=False)
