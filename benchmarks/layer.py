"""fwd+bwd time and peak memory of one Mega layer: ours vs HF MegaBlock (same weights) vs a Transformer layer.

    python benchmarks/layer.py                       # CPU, fp32, small token budget
    python benchmarks/layer.py --device cuda --dtype bf16 --tokens 65536 --lengths 1024 4096 16384 65536
    python benchmarks/layer.py --compile           # also time torch.compile(ours, fullgraph=True)
    python benchmarks/layer.py --attention laplace --reference --layers encoder --lengths 1024 2048

Every row: B*L = --tokens, D = --dim. Before timing, our layer and HF's are run on the same input and must agree
(max abs diff printed). Ratios are ours / peer, measured in the same process (lower is better). "saved MB" is
what autograd keeps for the backward after one forward (distinct storages; any device); "MB" is the CUDA peak.
--reference adds our own plain path (``fast_attention=False``: every attention weight formed at once).
"""

import argparse
import math
import statistics
import time

import torch

from mega_plugin.modules import MegaDecoderLayer, MegaEncoderLayer, MegaLayerConfig, set_fast_attention
from peers import hf_block, transformer_layer

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
COLUMNS = ("layer", "L", "chunk", "ours ms", "compiled ms", "HF ms", "transformer ms", "ours/HF", "compiled/HF",
           "ours/transformer", "max abs(ours-HF)", "ours saved MB", "HF saved MB", "plain ms", "plain saved MB",
           "ours MB", "HF MB", "transformer MB")


def measure(fn, device, repeat):
    """Median seconds and peak bytes (CUDA only) of ``fn()`` (a fwd+bwd); (nan, None) when CUDA runs out of memory."""
    try:
        return _measure(fn, device, repeat)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        return float("nan"), None


def _measure(fn, device, repeat):
    fn()  # warm-up
    times = []
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else None
    return statistics.median(times), peak


def saved_bytes(module, x, call):
    """Bytes of the distinct storages autograd saves for the backward during one forward of ``call(module, x)``."""
    storages = {}

    def pack(t):
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return t

    inp = x.detach().requires_grad_(True)
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = call(module, inp)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        return None
    del out
    return sum(storages.values())


def fwd_bwd(module, x, call):
    def run():
        inp = x.detach().requires_grad_(True)
        call(module, inp).float().sum().backward()
        module.zero_grad(set_to_none=True)
    return run


def ours_call(module, x):
    out = module(x)
    return out[0] if isinstance(out, tuple) else out


def hf_call(causal, seq_len, chunk):
    def call(block, x):
        mask = torch.ones(x.size(1), x.size(0), dtype=torch.long, device=x.device)
        causal_mask = None
        if causal:
            size = chunk if chunk > 0 else seq_len
            causal_mask = torch.tril(torch.ones(size, size, dtype=torch.long, device=x.device))
        return block(x, attention_mask=mask, causal_mask=causal_mask)[0]
    return call


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=DTYPES)
    parser.add_argument("--tokens", type=int, default=8192, help="B * L for every row")
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--chunks", type=int, nargs="+", default=[-1, 128])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--attention", default="softmax", choices=["softmax", "laplace", "relu2"],
                        help="attention function of the Mega layers")
    parser.add_argument("--layers", nargs="+", default=["encoder", "decoder"], choices=["encoder", "decoder"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-hf", action="store_true", help="skip the HF peer (it is slow for long full attention)")
    parser.add_argument("--hf-max-length", type=int, default=None,
                        help="skip the HF peer for full attention above this length (its L x L weights)")
    parser.add_argument("--compile", action="store_true", help="also time our layer under torch.compile (fullgraph)")
    parser.add_argument("--reference", action="store_true",
                        help="also time our plain reference path (fast_attention=False)")
    args = parser.parse_args()
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    torch.manual_seed(0)

    print(f"# device={device} dtype={args.dtype} tokens={args.tokens} D={args.dim} attention={args.attention} "
          f"torch={torch.__version__}")
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    dim = args.dim
    peer = transformer_layer(dim, 4 * dim, heads=max(1, dim // 64)).to(device, dtype)
    for kind in args.layers:
        causal = kind == "decoder"
        for length in args.lengths:
            batch = max(1, args.tokens // length)
            x = torch.randn(length, batch, dim, device=device, dtype=dtype)
            peer_time, peer_mem = measure(fwd_bwd(peer, x, lambda m, inp: m(inp, is_causal=False)), device, args.repeat)
            for chunk in args.chunks:
                if chunk >= length:
                    continue
                cfg = MegaLayerConfig(
                    embed_dim=dim, hidden_dim=2 * dim, ffn_hidden_dim=2 * dim, z_dim=dim // 2, n_dim=16,
                    chunk_size=chunk, attention_activation=args.attention, rel_pos_bias="rotary",
                    norm_type="layernorm", prenorm=True, max_positions=length,
                )
                ours = (MegaDecoderLayer(cfg) if causal else MegaEncoderLayer(cfg)).to(device)
                skip_hf = args.no_hf or (chunk <= 0 and args.hf_max_length and length > args.hf_max_length)
                hf = None if skip_hf else hf_block(cfg, ours, causal, length)
                diff = "-"
                if hf is not None:
                    hf = hf.to(device)
                    with torch.no_grad():
                        probe = x[:, :1].float()
                        diff = (ours_call(ours, probe) - hf_call(causal, length, chunk)(hf, probe)).abs().max()
                        diff = f"{diff.item():.1e}"
                    hf = hf.to(dtype)
                ours = ours.to(dtype)
                ours_time, ours_mem = measure(fwd_bwd(ours, x, ours_call), device, args.repeat)
                ours_saved = saved_bytes(ours, x, ours_call)
                compiled_time = None
                if args.compile:
                    torch._dynamo.reset()
                    compiled = torch.compile(ours, fullgraph=True)  # measure() runs a warm-up (the compilation)
                    compiled_time, _ = measure(fwd_bwd(compiled, x, ours_call), device, args.repeat)
                plain_time = plain_saved = None
                if args.reference:
                    set_fast_attention(ours, False)
                    plain_time, _ = measure(fwd_bwd(ours, x, ours_call), device, args.repeat)
                    plain_saved = saved_bytes(ours, x, ours_call)
                    set_fast_attention(ours, True)
                hf_time = hf_mem = hf_saved = None
                if hf is not None:
                    hf_time, hf_mem = measure(fwd_bwd(hf, x, hf_call(causal, length, chunk)), device, args.repeat)
                    hf_saved = saved_bytes(hf, x, hf_call(causal, length, chunk))
                print(
                    f"| {kind} | {length} | {chunk} | {ours_time * 1e3:.1f} | {_ms(compiled_time)} | {_ms(hf_time)} | "
                    f"{peer_time * 1e3:.1f} | {_ratio(ours_time, hf_time)} | {_ratio(compiled_time, hf_time)} | "
                    f"{_ratio(ours_time, peer_time)} | {diff} | {_mb(ours_saved)} | {_mb(hf_saved)} | "
                    f"{_ms(plain_time)} | {_mb(plain_saved)} | "
                    f"{_mb(ours_mem)} | {_mb(hf_mem)} | {_mb(peer_mem)} |",
                    flush=True,
                )


def _ms(seconds):
    if seconds is None:
        return "-"
    return "OOM" if math.isnan(seconds) else f"{seconds * 1e3:.1f}"


def _ratio(a, b):
    if a is None or b is None or math.isnan(a) or math.isnan(b):
        return "-"
    return f"{a / b:.2f}"


def _mb(nbytes):
    return "-" if nbytes is None else f"{nbytes / 2**20:.0f}"


if __name__ == "__main__":
    main()
