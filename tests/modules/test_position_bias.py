"""The rotary relative position bias against its formula, its relative-position property, and the shared rotation of
alpha and beta (one rotation when queries and keys have the same positions) against two separate ones."""

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mega_plugin.modules import RotaryRelativePositionalBias

SETTINGS = settings(max_examples=30, deadline=None)


def _bias(seed, z_dim):
    torch.manual_seed(seed)
    bias = RotaryRelativePositionalBias(z_dim, max_positions=8).double()
    bias.alpha.data.normal_()
    bias.beta.data.normal_()
    return bias


def _rotated(x, m):
    """rot(x, m) by the formula, one scalar at a time."""
    half = len(x) // 2
    out = [0.0] * len(x)
    for k in range(half):
        angle = m * 10000.0 ** (-k / half)
        out[k] = x[k] * math.cos(angle) - x[half + k] * math.sin(angle)
        out[half + k] = x[half + k] * math.cos(angle) + x[k] * math.sin(angle)
    return out


@SETTINGS
@given(st.integers(0, 2**16), st.sampled_from([2, 4, 6]), st.integers(1, 6), st.integers(0, 5))
def test_rotary_bias_equals_its_formula(seed, z_dim, length, shift):
    """bias[i, j] = rot(alpha, i) . rot(beta, j), in the [L, L] matrix and at shifted positions, where it depends
    only on j - i (up to float rounding of the angles)."""
    bias = _bias(seed, z_dim)
    alpha, beta = bias.alpha[0].tolist(), bias.beta[0].tolist()
    expected = torch.tensor([[sum(a * b for a, b in zip(_rotated(alpha, i), _rotated(beta, j))) for j in range(length)]
                             for i in range(length)], dtype=torch.float64)
    with torch.no_grad():
        matrix = bias(length)
        positions = torch.arange(shift, shift + length)
        shifted = bias.at(positions, positions)
    torch.testing.assert_close(matrix, expected, rtol=1e-5, atol=1e-5)  # angles are float32
    torch.testing.assert_close(shifted, expected, rtol=1e-4, atol=1e-4)


@SETTINGS
@given(st.integers(0, 2**16), st.sampled_from([2, 4, 6]), st.integers(1, 6), st.integers(0, 3))
def test_shared_rotation_equals_separate_rotations(seed, z_dim, length, offset):
    """Positions passed as one tensor for queries and keys (rotated once, alpha and beta together) give exactly the
    values of the same positions passed as two tensors (rotated apart), and the same gradients up to the order of
    the sum over positions."""
    bias = _bias(seed, z_dim)
    positions = torch.arange(offset, offset + length)
    grads = torch.randn(2, length, z_dim, dtype=torch.float64)
    results = []
    for key_positions in (positions, positions.clone()):
        bias.zero_grad()
        a, b = bias.rotations(positions, key_positions)
        ((a * grads[0]).sum() + (b * grads[1]).sum()).backward()
        results.append((a, b, bias.alpha.grad.clone(), bias.beta.grad.clone()))
    (a, b, *grads), (a_apart, b_apart, *grads_apart) = results
    torch.testing.assert_close(a, a_apart, rtol=0, atol=0)
    torch.testing.assert_close(b, b_apart, rtol=0, atol=0)
    for grad, grad_apart in zip(grads, grads_apart):
        torch.testing.assert_close(grad, grad_apart, rtol=1e-12, atol=1e-15)
