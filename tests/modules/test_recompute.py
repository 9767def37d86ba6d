"""Elementwise work recomputed in the backward (``recompute.py``): values and gradients equal the plain formulas,
what the backward keeps, and dropout masks replayed in the recomputation."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mega_plugin.modules import MegaDecoderLayer, MegaEncoderLayer, MegaLayerConfig, recompute
from mega_plugin.modules.dropout import Dropout, FeatureDropout
from mega_plugin.modules.gated_attention import gated_update
from mega_plugin.modules.recompute import (
    elementwise_recomputed, linear_of, linear_of_reference, linears_of, linears_of_reference,
)

FUNCTIONS = {"product": (torch.mul, 2), "silu": (F.silu, 1), "gelu": (F.gelu, 1)}


@pytest.fixture(autouse=True)
def recompute_on_cpu(monkeypatch):
    """CPU's policy is off (time first); these tests run the recomputing path."""
    monkeypatch.setitem(recompute.RECOMPUTE, "cpu", True)


def kept_storages(fn):
    """data_ptrs of the storages autograd keeps for the backward while ``fn()`` runs, and its result."""
    kept = set()

    def pack(t):
        kept.add(t.untyped_storage().data_ptr())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return kept, out


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(sorted(FUNCTIONS)), st.booleans(), st.booleans(), st.lists(st.booleans(), min_size=3,
       max_size=3), st.integers(1, 6), st.integers(0, 2**16))
def test_linear_of_equals_the_plain_formula(name, bias, transposed, needs_grad, length, seed):
    """Values and gradients (inputs, weight, bias) as plain autograd, for any subset of inputs needing gradients
    and for inputs that are transposed views."""
    fn, arity = FUNCTIONS[name]
    generator = torch.Generator().manual_seed(seed)
    linear = nn.Linear(5, 3, bias=bias).double()
    linear.weight.requires_grad_(needs_grad[2])
    inputs = []
    for i in range(arity):
        t = torch.randn(2, length, 5, dtype=torch.float64, generator=generator)
        t = t.transpose(0, 1) if transposed else t
        inputs.append(t.requires_grad_(needs_grad[i]))
    grad = torch.randn(length, 2, 3, dtype=torch.float64, generator=generator) if transposed else \
        torch.randn(2, length, 3, dtype=torch.float64, generator=generator)
    params = [p for p in linear.parameters() if p.requires_grad]
    leaves = [t for t in inputs if t.requires_grad] + params
    results = []
    for impl in (linear_of, linear_of_reference):
        out = impl(fn, inputs, linear)
        grads = torch.autograd.grad(out, leaves, grad, allow_unused=True) if leaves else ()
        results.append((out, grads))
    (out, grads), (expected, expected_grads) = results
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(sorted(FUNCTIONS)), st.lists(st.tuples(st.integers(1, 4), st.booleans()), min_size=1,
       max_size=4), st.lists(st.booleans(), min_size=4, max_size=4), st.integers(0, 2**16))
def test_linears_of_equals_the_plain_formula(name, parts, needs_grad, seed):
    """The parts of one linear's outputs (each: width, used by the loss): values and gradients (inputs, weight,
    bias) as plain autograd, with parts no loss depends on and any subset needing gradients; each part is its own
    tensor, and only the inputs and the weight are kept."""
    fn, arity = FUNCTIONS[name]
    generator = torch.Generator().manual_seed(seed)
    sizes = [width for width, _ in parts]
    linear = nn.Linear(5, sum(sizes), bias=needs_grad[3]).double()
    linear.weight.requires_grad_(needs_grad[2])
    inputs = [torch.randn(3, 2, 5, dtype=torch.float64, generator=generator).requires_grad_(needs_grad[i])
              for i in range(arity)]
    leaves = [t for t in inputs if t.requires_grad] + [p for p in linear.parameters() if p.requires_grad]
    results = []
    for impl in (linears_of, linears_of_reference):
        kept, outs = kept_storages(lambda: impl(fn, inputs, linear, sizes))
        loss = sum((out * out.detach().sin()).sum() for out, (_, used) in zip(outs, parts) if used)
        grads = torch.autograd.grad(loss, leaves, allow_unused=True) if leaves and torch.is_tensor(loss) else ()
        results.append((kept, outs, grads))
    (kept, outs, grads), (_, expected, expected_grads) = results
    assert len({out.untyped_storage().data_ptr() for out in outs}) == len(sizes)
    for out, want in zip(outs, expected):
        torch.testing.assert_close(out, want, rtol=0, atol=0)
    for got, want in zip(grads, expected_grads):
        if want is None:  # no part the loss uses depends on it
            assert got is None or not got.any()
        else:
            torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    if any(t.requires_grad for t in inputs) or linear.weight.requires_grad:
        assert kept <= {t.untyped_storage().data_ptr() for t in inputs + [linear.weight]}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_linear_of_keeps_its_inputs_and_weight_not_the_features(name):
    fn, arity = FUNCTIONS[name]
    linear = nn.Linear(64, 8)
    inputs = [torch.randn(4, 16, 64, requires_grad=True) for _ in range(arity)]
    allowed = {t.untyped_storage().data_ptr() for t in inputs + [linear.weight]}
    kept, out = kept_storages(lambda: linear_of(fn, inputs, linear))
    assert kept <= allowed
    plain, _ = kept_storages(lambda: linear_of_reference(fn, inputs, linear))
    assert plain - allowed  # the plain formula also keeps fn's output: what recomputation avoids
    out.sum().backward()
    assert all(t.grad is not None for t in inputs) and linear.bias.grad is not None


@pytest.mark.parametrize("dropout", [Dropout(0.5), FeatureDropout(0.5)])
def test_gated_update_replays_the_dropout_mask_in_the_backward(dropout):
    """The recomputed backward differentiates the same masked activation as the forward: gradients equal those of
    the plain formula under the same seed."""
    generator = torch.Generator().manual_seed(0)
    residual, u, a = (torch.randn(7, 3, 6, dtype=torch.float64, generator=generator) for _ in range(3))
    results = []
    for recomputed in (True, False):
        leaves = [t.clone().requires_grad_() for t in (residual, u, a)]
        torch.manual_seed(5)
        if recomputed:
            out = gated_update(*leaves, F.silu, dropout.train())
        else:
            out = torch.addcmul(leaves[0], leaves[1], dropout.train()(F.silu(leaves[2])) - leaves[0])
        results.append((out, torch.autograd.grad(out.square().sum(), leaves)))
    (out, grads), (expected, expected_grads) = results
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert (out != residual).any()


def test_elementwise_recomputed_keeps_only_its_inputs():
    x, y = torch.randn(32, 32, requires_grad=True), torch.randn(32, 32, requires_grad=True)

    def fn(x, y):
        return torch.sigmoid(x) * torch.tanh(y) + x.exp()

    kept, out = kept_storages(lambda: elementwise_recomputed(fn, x, y))
    assert kept <= {x.untyped_storage().data_ptr(), y.untyped_storage().data_ptr()}
    expected_x, expected_y = torch.autograd.grad(fn(x, y).sum(), (x, y))
    got_x, got_y = torch.autograd.grad(out.sum(), (x, y))
    torch.testing.assert_close(got_x, expected_x, rtol=0, atol=0)
    torch.testing.assert_close(got_y, expected_y, rtol=0, atol=0)


def kept_activation_bytes(fn, module):
    """Bytes of the distinct storages, parameters' aside, that autograd keeps for the backward while ``fn()`` runs."""
    kept = {}

    def pack(t):
        kept[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    params = {p.untyped_storage().data_ptr() for p in module.parameters()}
    return sum(nbytes for ptr, nbytes in kept.items() if ptr not in params), out


@pytest.mark.parametrize("decoder", [False, True])
def test_layers_recompute_to_the_same_outputs_and_gradients_keeping_less(decoder, monkeypatch):
    """A whole layer (decoder: with cross-attention) with recomputation on and off: equal outputs and gradients
    (input, encoder output, every parameter), and on keeps exactly these out of the backward's memory, per token:
    the products ``h * silu(r)`` (H) and ``silu(r)`` (H) and ``silu(z)`` (Z) feeding q and k, the EMA's silu (D),
    the FFN activation (F), the gate difference (D) and, with cross-attention, the same three of its own (its h, r
    and gate are D wide)."""
    torch.manual_seed(0)
    cfg = MegaLayerConfig(embed_dim=16, hidden_dim=24, ffn_hidden_dim=20, z_dim=8, n_dim=4, chunk_size=4,
                          prenorm=decoder, rel_pos_bias="rotary", max_positions=12)
    layer = (MegaDecoderLayer(cfg, cross_attention=True) if decoder else MegaEncoderLayer(cfg)).double()
    x = torch.randn(10, 3, 16, dtype=torch.float64)
    encoder_out = torch.randn(7, 3, 16, dtype=torch.float64)
    results = []
    for on in (True, False):
        monkeypatch.setitem(recompute.RECOMPUTE, "cpu", on)
        layer.zero_grad()
        inputs = [x.clone().requires_grad_(), encoder_out.clone().requires_grad_()]
        call = (lambda: layer(inputs[0], encoder_out=inputs[1])[0]) if decoder else (lambda: layer(inputs[0]))
        kept, out = kept_activation_bytes(call, layer)
        out.square().sum().backward()
        grads = [t.grad for t in inputs if t.grad is not None] + [p.grad.clone() for p in layer.parameters()]
        results.append((out, grads, kept))
    (out, grads, kept_on), (expected, expected_grads, kept_off) = results
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    per_token = 2 * cfg.hidden_dim + cfg.z_dim + cfg.ffn_hidden_dim + 2 * cfg.embed_dim + decoder * 3 * cfg.embed_dim
    assert kept_off - kept_on == 10 * 3 * per_token * 8
