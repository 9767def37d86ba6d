"""Mathematical properties of the Mega layers on random small configurations (hypothesis).

Every attention kind, bias kind and norm type, chunked and not, bidirectional and causal, in float64:
(1) right padding never changes real positions; (2) causal layers ignore the future; (3) incremental decoding
equals the full forward for any step sizes; (4) lengths that are not chunk multiples give the real positions of the
padded-to-a-multiple call.
"""

from unittest import mock

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mega_plugin.modules import MegaDecoderLayer, MegaEncoderLayer, MegaLayerConfig, set_fast_attention
from mega_plugin.modules import attention as attention_module

TOL = 1e-9
SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def configs(draw, causal_only=False, softmax_only=False):
    chunk = draw(st.sampled_from([-1, 1, 2, 3, 5]))
    cfg = MegaLayerConfig(
        embed_dim=draw(st.sampled_from([4, 6])),
        hidden_dim=draw(st.sampled_from([3, 8])),
        ffn_hidden_dim=draw(st.sampled_from([0, 5])),
        z_dim=draw(st.sampled_from([2, 4])),
        n_dim=draw(st.sampled_from([1, 3])),
        activation=draw(st.sampled_from(["silu", "gelu", "relu"])),
        attention_activation="softmax" if softmax_only else draw(st.sampled_from(["softmax", "relu2", "laplace"])),
        chunk_size=chunk,
        truncation=draw(st.sampled_from([None, 0, 3, 50])),
        norm_type=draw(st.sampled_from(["layernorm", "scalenorm", "rmsnorm", "batchnorm", "syncbatchnorm"])),
        prenorm=draw(st.booleans()),
        rel_pos_bias=draw(st.sampled_from(["simple", "rotary"])),
        max_positions=32,
        cross_max_positions=32,
    )
    causal = True if causal_only else draw(st.booleans())
    cross = causal and draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    torch.manual_seed(seed)
    layer = MegaDecoderLayer(cfg, cross_attention=cross) if causal else MegaEncoderLayer(cfg)
    layer = layer.double().eval()
    _randomise_norm_statistics(layer)
    return layer, cfg, causal, cross


def _randomise_norm_statistics(layer):
    for module in layer.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)


def run(layer, x, mask, encoder=None, state=None):
    if isinstance(layer, MegaEncoderLayer):
        return layer(x, mask)
    enc_out, enc_mask = encoder if encoder is not None else (None, None)
    return layer(x, mask, enc_out, enc_mask, state)[0]




def make_encoder(cfg, cross, batch):
    if not cross:
        return None
    source_len = 6
    enc_out = torch.randn(source_len, batch, cfg.embed_dim, dtype=torch.float64)
    enc_mask = torch.zeros(batch, source_len, dtype=torch.bool)
    enc_mask[0, 4:] = True  # first row right-padded
    return enc_out, enc_mask


@SETTINGS
@given(configs(), st.integers(1, 12), st.integers(1, 7))
def test_right_padding_does_not_change_real_positions(setup, length, extra):
    layer, cfg, causal, cross = setup
    batch = 2
    x = torch.randn(length, batch, cfg.embed_dim, dtype=torch.float64)
    encoder = make_encoder(cfg, cross, batch)
    with torch.no_grad():
        plain = run(layer, x, None, encoder)
        garbage = 100 * torch.randn(extra, batch, cfg.embed_dim, dtype=torch.float64)
        mask = torch.zeros(batch, length + extra, dtype=torch.bool)
        mask[:, length:] = True
        padded = run(layer, torch.cat([x, garbage]), mask, encoder)
    assert (padded[:length] - plain).abs().max() <= TOL


@SETTINGS
@given(configs(), st.integers(2, 12), st.data())
def test_rows_of_a_ragged_batch_equal_rows_alone(setup, length, data):
    layer, cfg, causal, cross = setup
    short = data.draw(st.integers(1, length - 1))
    x = torch.randn(length, 2, cfg.embed_dim, dtype=torch.float64)
    mask = torch.zeros(2, length, dtype=torch.bool)
    mask[1, short:] = True
    encoder = make_encoder(cfg, cross, 2)
    with torch.no_grad():
        batched = run(layer, x, mask, encoder)
        alone_encoder = None if encoder is None else (encoder[0][:, 1:], encoder[1][1:])
        alone = run(layer, x[:short, 1:], None, alone_encoder)
    assert (batched[:short, 1:] - alone).abs().max() <= TOL


@SETTINGS
@given(configs(causal_only=True), st.integers(2, 12), st.data())
def test_causal_layers_ignore_the_future(setup, length, data):
    layer, cfg, _, cross = setup
    t = data.draw(st.integers(0, length - 2))
    x = torch.randn(length, 2, cfg.embed_dim, dtype=torch.float64)
    changed = x.clone()
    changed[t + 1 :] = torch.randn_like(changed[t + 1 :])
    encoder = make_encoder(cfg, cross, 2)
    with torch.no_grad():
        a, b = run(layer, x, None, encoder), run(layer, changed, None, encoder)
    assert (a[: t + 1] - b[: t + 1]).abs().max() <= TOL
    assert (a[t + 1 :] - b[t + 1 :]).abs().max() > TOL  # the future does reach later positions


def _partitions(draw, length):
    kind = draw(st.sampled_from(["tokens", "chunks", "ragged"]))
    if kind == "tokens":
        return [1] * length
    if kind == "chunks":
        size = draw(st.integers(1, 5))
        return [min(size, length - i) for i in range(0, length, size)]
    steps, left = [], length
    while left:
        steps.append(draw(st.integers(1, left)))
        left -= steps[-1]
    return steps


@SETTINGS
@given(configs(causal_only=True), st.integers(1, 14), st.data())
def test_incremental_decoding_equals_full_forward(setup, length, data):
    layer, cfg, _, cross = setup
    steps = _partitions(data.draw, length)
    x = torch.randn(length, 2, cfg.embed_dim, dtype=torch.float64)
    mask = torch.zeros(2, length, dtype=torch.bool)
    mask[1, max(1, length - 2) :] = True  # right padding in the second row
    encoder = make_encoder(cfg, cross, 2)
    with torch.no_grad():
        full = run(layer, x, mask, encoder)
        state, outputs, start = {}, [], 0
        for size in steps:
            outputs.append(run(layer, x[start : start + size], mask[:, start : start + size], encoder, state))
            start += size
    incremental = torch.cat(outputs)
    real = ~mask.t()
    assert (incremental - full)[real].abs().max() <= TOL


@SETTINGS
@given(configs(), st.integers(1, 20))
def test_non_multiple_lengths_equal_padded_to_multiple(setup, length):
    layer, cfg, causal, cross = setup
    chunk = max(cfg.chunk_size, 1)
    multiple = -(-length // chunk) * chunk
    x = torch.randn(multiple, 2, cfg.embed_dim, dtype=torch.float64)
    mask = torch.zeros(2, multiple, dtype=torch.bool)
    mask[:, length:] = True
    encoder = make_encoder(cfg, cross, 2)
    with torch.no_grad():
        padded = run(layer, x, mask, encoder)
        short = run(layer, x[:length], None, encoder)
    assert (padded[:length] - short).abs().max() <= TOL


@SETTINGS
@given(configs(), st.integers(1, 14), st.booleans(), st.integers(1, 40), st.integers(1, 5))
def test_fast_attention_paths_equal_reference_path(setup, length, padded, block_elements, causal_rows):
    """SDPA softmax, causal softmax in blocks of query rows and blockwise relu2/laplace (a few weights per block,
    so many blocks) == the plain path that forms every weight, in values and in gradients w.r.t. the input and
    every parameter (self and cross)."""
    layer, cfg, causal, cross = setup
    x = torch.randn(length, 2, cfg.embed_dim, dtype=torch.float64)
    mask = torch.zeros(2, length, dtype=torch.bool)
    if padded:
        mask[1, (length + 1) // 2 :] = True
    encoder = make_encoder(cfg, cross, 2)
    real = ~mask.t()
    results = []
    for fast in (True, False):
        set_fast_attention(layer, fast)
        layer.zero_grad()
        inp = x.clone().requires_grad_(True)
        with mock.patch.object(attention_module, "ELEMENT_BLOCK_ELEMENTS", block_elements), \
                mock.patch.object(attention_module, "CAUSAL_BLOCK_ROWS", causal_rows):
            out = run(layer, inp, mask, encoder)
        (out * real.unsqueeze(-1)).sum().backward()
        grads = [inp.grad] + [torch.zeros(0) if p.grad is None else p.grad.clone() for p in layer.parameters()]
        results.append((out, grads))
    (fast_out, fast_grads), (ref_out, ref_grads) = results
    assert (fast_out - ref_out)[real].abs().max() <= TOL
    for fast_grad, ref_grad in zip(fast_grads, ref_grads):
        torch.testing.assert_close(fast_grad, ref_grad, rtol=1e-7, atol=1e-9)
