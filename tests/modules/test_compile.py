"""torch.compile: the layers trace as one graph (no graph breaks in the training forward) and the traced graph
(AOT autograd, no code generation) gives the eager outputs and gradients."""

import pytest
import torch

from mega_plugin.modules import MegaDecoderLayer, MegaEncoderLayer, MegaLayerConfig

CASES = [
    (MegaEncoderLayer, -1, "softmax", "simple"),
    (MegaEncoderLayer, 16, "laplace", "rotary"),
    (MegaDecoderLayer, -1, "relu2", "rotary"),
    (MegaDecoderLayer, 16, "softmax", "rotary"),
    (MegaDecoderLayer, 16, "laplace", "simple"),
]


def build(cls, chunk, attention, bias):
    torch.manual_seed(0)
    cfg = MegaLayerConfig(embed_dim=32, hidden_dim=64, ffn_hidden_dim=64, z_dim=16, n_dim=4, chunk_size=chunk,
                          rel_pos_bias=bias, attention_activation=attention, max_positions=64)
    return cls(cfg).eval()


def inputs(padded: bool):
    x = torch.randn(48, 2, 32, generator=torch.Generator().manual_seed(1))
    pad = torch.zeros(2, 48, dtype=torch.bool)
    if padded:
        pad[1, 37:] = True
    return x, pad


@pytest.mark.parametrize("cls, chunk, attention, bias", CASES)
@pytest.mark.parametrize("padded", [False, True])
def test_no_graph_breaks(cls, chunk, attention, bias, padded):
    layer = build(cls, chunk, attention, bias)
    torch._dynamo.reset()
    explained = torch._dynamo.explain(layer)(*inputs(padded))
    reasons = [reason.reason.splitlines()[0] for reason in explained.break_reasons]
    assert explained.graph_break_count == 0, reasons
    assert explained.graph_count == 1


@pytest.mark.parametrize("cls, chunk, attention, bias", CASES[1:4])
def test_traced_graph_matches_eager(cls, chunk, attention, bias):
    layer = build(cls, chunk, attention, bias).double()
    x, pad = inputs(padded=True)
    x = x.double()
    torch._dynamo.reset()
    compiled = torch.compile(layer, backend="aot_eager", fullgraph=True)
    results = []
    for module in (layer, compiled):
        inp = x.clone().requires_grad_(True)
        out = module(inp, pad)[0]
        (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
        results.append((out.detach(), inp.grad, [p.grad.clone() for p in layer.parameters()]))
        layer.zero_grad(set_to_none=True)
    (eager_out, eager_dx, eager_dw), (out, dx, dw) = results
    real = ~pad.T[:, :, None]
    torch.testing.assert_close(out * real, eager_out * real, atol=1e-10, rtol=0)
    torch.testing.assert_close(dx, eager_dx, atol=1e-10, rtol=0)
    for grad, expected in zip(dw, eager_dw):
        torch.testing.assert_close(grad, expected, atol=1e-10, rtol=0)
