"""Cheap elementwise work recomputed in the backward instead of kept for it.

``linear_of(fn, inputs, linear)`` is ``linear(fn(*inputs))`` for an elementwise ``fn`` (a product of two tensors, an
activation). Plain autograd keeps ``fn(*inputs)``, the linear's input, for the weight gradient, beside the inputs
that ``fn``'s own backward keeps; ``RecomputedInputLinears`` keeps only the inputs and the weight and recomputes
``fn`` in the backward (one elementwise pass instead of a stored ``[..., in_features]`` tensor); the matrix product
is not recomputed. ``linears_of`` does so for several linears of the same features (the parts of one
projection). ``elementwise_recomputed(fn, *inputs)`` does the same for an elementwise ``fn`` with no linear after it
(activation checkpointing of elementwise ops only).

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


def linears_of_reference(fn: Callable, inputs: Sequence[torch.Tensor], weights: Sequence[torch.Tensor],
                         biases: Sequence[Optional[torch.Tensor]]) -> Tuple[torch.Tensor, ...]:
    features = fn(*inputs)
    return tuple(F.linear(features, weight, bias) for weight, bias in zip(weights, biases))


class RecomputedInputLinears(torch.autograd.Function):
    """``F.linear(fn(*inputs), w_i, b_i)`` for each of ``count`` linears, saving ``inputs`` and the weights (not
    ``fn(*inputs)``). Arguments: ``fn, count, *weights, *biases, *inputs``."""

    @staticmethod
    def forward(ctx, fn, count, *args):
        weights, biases, inputs = args[:count], args[count : 2 * count], args[2 * count :]
        ctx.fn, ctx.count, ctx.has_bias = fn, count, [bias is not None for bias in biases]
        ctx.save_for_backward(*weights, *inputs)
        ctx.set_materialize_grads(False)  # an output no loss depends on gets None, and costs nothing
        features = fn(*inputs)
        return tuple(F.linear(features, weight, bias) for weight, bias in zip(weights, biases))

    @staticmethod
    def backward(ctx, *grads):
        count = ctx.count
        weights, inputs = ctx.saved_tensors[:count], ctx.saved_tensors[count:]
        needs_weight = ctx.needs_input_grad[2 : 2 + count]
        needs_bias = ctx.needs_input_grad[2 + count : 2 + 2 * count]
        needs_inputs = ctx.needs_input_grad[2 + 2 * count :]
        with torch.enable_grad():
            leaves = [t.detach().requires_grad_(needs) for t, needs in zip(inputs, needs_inputs)]
            features = ctx.fn(*leaves)
        flat_features = features.detach().reshape(-1, features.size(-1))
        grad_weights, grad_biases, grad_features = [None] * count, [None] * count, None
        for i, (grad, weight) in enumerate(zip(grads, weights)):
            if grad is None:
                continue
            grad_2d = grad.reshape(-1, grad.size(-1))
            if needs_weight[i]:
                grad_weights[i] = grad_2d.t().mm(flat_features)
            if ctx.has_bias[i] and needs_bias[i]:
                grad_biases[i] = grad_2d.sum(0)
            if any(needs_inputs):
                part = grad.matmul(weight)
                grad_features = part if grad_features is None else grad_features + part
        grad_inputs = [None] * len(inputs)
        if grad_features is not None:
            wanted = [leaf for leaf, needs in zip(leaves, needs_inputs) if needs]
            grads_of_wanted = iter(torch.autograd.grad(features, wanted, grad_features))
            grad_inputs = [next(grads_of_wanted) if needs else None for needs in needs_inputs]
        return (None, None, *grad_weights, *grad_biases, *grad_inputs)


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


def linears_of(fn: Callable, inputs: Sequence[torch.Tensor], weights: Sequence[torch.Tensor],
               biases: Sequence[Optional[torch.Tensor]]) -> Tuple[torch.Tensor, ...]:
    """``F.linear(fn(*inputs), w, b)`` for each ``(w, b)`` of ``zip(weights, biases)``, for an elementwise ``fn``
    computed once, keeping only ``inputs`` (and the weights) for the backward."""
    if not _recompute(*weights, *inputs):
        return linears_of_reference(fn, inputs, weights, biases)
    return RecomputedInputLinears.apply(fn, len(weights), *weights, *biases, *inputs)


def linear_of(fn: Callable, inputs: Sequence[torch.Tensor], linear: nn.Linear) -> torch.Tensor:
    """``linear(fn(*inputs))`` for an elementwise ``fn``, keeping only ``inputs`` (and the weight) for the backward."""
    if not _recompute(linear.weight, *inputs):
        return linear_of_reference(fn, inputs, linear)
    return RecomputedInputLinears.apply(fn, 1, linear.weight, linear.bias, *inputs)[0]


def elementwise_recomputed(fn: Callable, *inputs: torch.Tensor) -> torch.Tensor:
    """``fn(*inputs)`` for an elementwise ``fn``: its intermediate results are recomputed in the backward."""
    if not _recompute(*inputs):
        return fn(*inputs)
    return checkpoint(fn, *inputs, use_reentrant=False)
