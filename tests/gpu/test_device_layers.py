"""The layers' fast paths on an accelerator (CUDA kernels: SDPA's memory-efficient attention with the rotary bias as
extra features, recomputation in the backward, cuFFT for the EMA) against the float64 plain path on the CPU.

Skipped where no CUDA device is present (CI). ``MEGA_TEST_DEVICE=cpu`` runs the device-independent tests on the
CPU instead, to check the tests themselves. Run on the device tool by ``benchmarks/device_check.sh``.
"""

import copy
import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mega_plugin.modules import MegaDecoderLayer, MegaEncoderLayer, MegaLayerConfig, set_fast_attention

DEVICE = torch.device(os.environ.get("MEGA_TEST_DEVICE", "cuda"))
pytestmark = pytest.mark.skipif(DEVICE.type == "cuda" and not torch.cuda.is_available(), reason="needs CUDA")
needs_cuda = pytest.mark.skipif(DEVICE.type != "cuda", reason="measures CUDA memory")
SETTINGS = settings(max_examples=30, deadline=None)


@st.composite
def layer_pairs(draw, causal_only=False):
    """(reference: float64 CPU plain path, candidate: float32 on DEVICE fast path, same weights, cfg, cross)."""
    cfg = MegaLayerConfig(
        embed_dim=draw(st.sampled_from([16, 32])),
        hidden_dim=draw(st.sampled_from([16, 48])),
        ffn_hidden_dim=draw(st.sampled_from([0, 24])),
        z_dim=draw(st.sampled_from([8, 16])),
        n_dim=draw(st.sampled_from([2, 16])),
        attention_activation=draw(st.sampled_from(["softmax", "relu2", "laplace"])),
        chunk_size=draw(st.sampled_from([-1, 4, 16])),
        truncation=draw(st.sampled_from([None, 8])),
        norm_type=draw(st.sampled_from(["layernorm", "scalenorm", "rmsnorm"])),
        prenorm=draw(st.booleans()),
        rel_pos_bias=draw(st.sampled_from(["simple", "rotary"])),
        max_positions=64,
        cross_max_positions=64,
    )
    causal = causal_only or draw(st.booleans())
    cross = causal and draw(st.booleans())
    torch.manual_seed(draw(st.integers(0, 2**16)))
    reference = MegaDecoderLayer(cfg, cross_attention=cross) if causal else MegaEncoderLayer(cfg)
    for p in reference.parameters():  # away from the initial zeros / tiny values, so every path matters
        p.data.add_(0.1 * torch.randn_like(p))
    candidate = copy.deepcopy(reference).to(DEVICE, torch.float32).eval()
    reference = reference.double().eval()
    set_fast_attention(reference, False)
    return reference, candidate, cfg, cross


def _run(layer, x, mask, encoder=None, state=None):
    if isinstance(layer, MegaEncoderLayer):
        return layer(x, mask)
    enc_out, enc_mask = encoder if encoder is not None else (None, None)
    return layer(x, mask, enc_out, enc_mask, state)[0]


def _inputs(cfg, cross, length, batch=3):
    x = torch.randn(length, batch, cfg.embed_dim, dtype=torch.float64)
    mask = torch.zeros(batch, length, dtype=torch.bool)
    mask[1, (length + 1) // 2 :] = True  # right padding in one row
    encoder = None
    if cross:
        enc_mask = torch.zeros(batch, 7, dtype=torch.bool)
        enc_mask[0, 5:] = True
        encoder = (torch.randn(7, batch, cfg.embed_dim, dtype=torch.float64), enc_mask)
    return x, mask, encoder


def _to(tensors, device, dtype):
    if tensors is None:
        return None
    return tuple(t.to(device, dtype) if t.is_floating_point() else t.to(device) for t in tensors)


def _forward_backward(layer, x, mask, encoder):
    """Output and gradients (input, then every parameter) of the sum of the real positions' outputs."""
    inp = x.clone().requires_grad_(True)
    out = _run(layer, inp, mask, encoder)
    (out * (~mask).t().unsqueeze(-1).to(out.dtype)).sum().backward()
    return out, [inp.grad] + [p.grad for p in layer.parameters()]


@SETTINGS
@given(layer_pairs(), st.integers(1, 40))
def test_fast_path_on_device_equals_float64_reference(pair, length):
    """Values and gradients (input and every parameter, self and cross) at the real positions, with right padding."""
    reference, candidate, cfg, cross = pair
    x, mask, encoder = _inputs(cfg, cross, length)
    ref_out, ref_grads = _forward_backward(reference, x, mask, encoder)
    out, grads = _forward_backward(candidate, x.to(DEVICE, torch.float32), mask.to(DEVICE),
                                   _to(encoder, DEVICE, torch.float32))
    real = (~mask).t()
    torch.testing.assert_close(out.double().cpu()[real], ref_out[real], rtol=1e-4, atol=1e-5)
    names = ["input"] + [name for name, _ in reference.named_parameters()]
    for name, grad, ref_grad in zip(names, grads, ref_grads):
        assert (grad is None) == (ref_grad is None), name
        if grad is not None:  # float32 sums of many terms: the absolute error scales with the gradient's size
            atol = 1e-5 * max(1.0, ref_grad.abs().max().item())
            torch.testing.assert_close(grad.double().cpu(), ref_grad, rtol=1e-3, atol=atol, msg=name)


@SETTINGS
@given(layer_pairs(causal_only=True), st.integers(1, 40), st.data())
def test_incremental_decoding_on_device_equals_full_forward(pair, length, data):
    _, layer, cfg, cross = pair
    x, mask, encoder = _inputs(cfg, cross, length)
    x, mask, encoder = x.to(DEVICE, torch.float32), mask.to(DEVICE), _to(encoder, DEVICE, torch.float32)
    steps, left = [], length
    while left:
        steps.append(data.draw(st.integers(1, min(left, 9))))
        left -= steps[-1]
    with torch.no_grad():
        full = _run(layer, x, mask, encoder)
        state, outputs, start = {}, [], 0
        for size in steps:
            outputs.append(_run(layer, x[start : start + size], mask[:, start : start + size], encoder, state))
            start += size
    real = (~mask).t()
    torch.testing.assert_close(torch.cat(outputs)[real], full[real], rtol=1e-4, atol=1e-5)


def _benchmark_layer(causal, chunk, length, attention="softmax"):
    """The layer of benchmarks/layer.py (D 128, H = F = 256, Z 64, N 16, rotary, pre-norm)."""
    cfg = MegaLayerConfig(embed_dim=128, hidden_dim=256, ffn_hidden_dim=256, z_dim=64, n_dim=16, chunk_size=chunk,
                          attention_activation=attention, rel_pos_bias="rotary", norm_type="layernorm", prenorm=True,
                          max_positions=length)
    torch.manual_seed(0)
    return MegaDecoderLayer(cfg) if causal else MegaEncoderLayer(cfg)


def _relative_error(a, b):
    return ((a.double().cpu() - b).norm() / b.norm()).item()


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("chunk, attention", [(-1, "softmax"), (128, "softmax"), (128, "laplace")])
def test_bf16_benchmark_layer_tracks_float64(causal, chunk, attention):
    """The benchmarked shapes in bfloat16 (the kernels the timings run) stay close to the float64 plain path: the
    layer's update ``out - x`` (larger than x here: weights moved away from their small initial values) and the
    input gradient, within 2e-2 and 3e-2 relative (about 0.7e-2 and 0.9e-2 on the CPU)."""
    length, batch = 512, 2
    reference = _benchmark_layer(causal, chunk, length, attention)
    for p in reference.parameters():
        p.data.add_(0.1 * torch.randn_like(p))
    candidate = copy.deepcopy(reference).to(DEVICE, torch.bfloat16)
    reference = reference.double()
    set_fast_attention(reference, False)
    x = torch.randn(length, batch, 128).to(torch.bfloat16).double()  # the same input for both
    mask = torch.zeros(batch, length, dtype=torch.bool)
    ref_out, ref_grads = _forward_backward(reference, x, mask, None)
    out, grads = _forward_backward(candidate, x.to(DEVICE, torch.bfloat16), mask.to(DEVICE), None)
    assert _relative_error(out - x.to(out), ref_out - x) < 2e-2
    assert _relative_error(grads[0], ref_grads[0]) < 3e-2


@needs_cuda
@pytest.mark.parametrize("causal", [False, True])
def test_full_attention_memory_is_linear_in_length(causal):
    """With B * L fixed, the fwd+bwd peak of full attention must not grow with L (no L x L weights anywhere): one
    bf16 weight matrix of 16K keys is 512 MB; the layer's backward keeps about 125 MB here (CPU, saved tensors),
    of which only the EMA kernel's buffers (D x 2L) grow with L."""
    tokens, peaks = 16384, []
    for length in (2048, 16384):
        layer = _benchmark_layer(causal, -1, length).to(DEVICE, torch.bfloat16)
        x = torch.randn(length, tokens // length, 128, device=DEVICE, dtype=torch.bfloat16, requires_grad=True)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        _run(layer, x, None).float().sum().backward()
        torch.cuda.synchronize()
        peaks.append(torch.cuda.max_memory_allocated() - base)
        del layer, x
    assert peaks[1] < 1.5 * peaks[0], peaks
    assert peaks[1] < 400 * 2**20, peaks
