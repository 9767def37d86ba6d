"""fwd+bwd time and peak memory of one Mega layer: ours vs HF MegaBlock (same weights) vs a Transformer layer.

    python benchmarks/layer.py                       # CPU, fp32, small token budget
    python benchmarks/layer.py --device cuda --dtype bf16 --tokens 65536 --lengths 1024 4096 16384 65536
    python benchmarks/layer.py --compile           # also time torch.compile(ours, fullgraph=True)
    python benchmarks/layer.py --attention laplace --reference --layers encoder --lengths 1024 2048
    python benchmarks/layer.py --saved-only --recompute on --dtype bf16 --tokens 65536 --chunks 128 --lengths 1024 4096

Every row: B*L = --tokens, D = --dim. Before timing, our layer and HF's are run on the same input and must agree
(max abs diff printed). Ratios are ours / peer, measured in the same process (lower is better). "saved MB" is
what autograd keeps for the backward after one forward (distinct storages; any device, but the attention kernel
differs: on CPU, softmax attention with unequal q/v widths saves its float32 weights); "MB" is the CUDA peak.
--reference adds our own plain path (``fast_attention=False``: every attention weight formed at once).
"""

import argparse
import copy
import logging
import math
import statistics
import time

import torch

from mega_plugin.modules import (
    MegaDecoderLayer, MegaEncoderLayer, MegaLayerConfig, attention, recompute, set_fast_attention,
)
from peers import hf_block, transformer_layer

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
COLUMNS = ("layer", "L", "chunk", "ours ms", "compiled ms", "HF ms", "transformer ms", "ours/HF", "compiled/HF",
           "ours/transformer", "max abs(ours-HF)", "ours saved MB", "HF saved MB", "transformer saved MB",
           "saved ours/transformer", "plain ms", "plain saved MB", "ours MB", "HF MB", "transformer MB")


def measure(fns, device, repeat):
    """{name: (median seconds, CUDA peak bytes or None)} of each ``fns[name]()`` (a fwd+bwd), the candidates run in
    turn (round robin) so that drift of the machine (other jobs, allocator state, clocks) hits them alike; a
    candidate that runs out of CUDA memory gets (nan, None) and leaves the rotation."""
    times = {name: [] for name in fns}
    peaks = {name: 0 for name in fns}
    failed = set()
    for round_ in range(repeat + 1):  # round 0 is the warm-up (compilation, caches)
        for name, fn in fns.items():
            if name in failed:
                continue
            if device.type == "cuda":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            try:
                start = time.perf_counter()
                fn()
                if device.type == "cuda":
                    torch.cuda.synchronize()
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                failed.add(name)
                continue
            if round_ > 0:
                times[name].append(time.perf_counter() - start)
            if device.type == "cuda":
                peaks[name] = max(peaks[name], torch.cuda.max_memory_allocated())
    return {
        name: (float("nan"), None) if name in failed else
        (statistics.median(times[name]), peaks[name] if device.type == "cuda" else None)
        for name in fns
    }


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
    # importing fairseq (through mega_plugin) runs its wav2vec module's logging.basicConfig(level=DEBUG): without
    # this, --compile floods stderr with the compiler's file-lock messages
    logging.getLogger().setLevel(logging.WARNING)
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
    parser.add_argument("--cuda-value-slices", action="store_true",
                        help="on CUDA, attend values in query-wide slices (flash kernels) instead of one call to the "
                             "memory-efficient kernel (attention.VALUE_SLICE_MIN_KEYS)")
    parser.add_argument("--recompute", choices=["device", "on", "off"], default="device",
                        help="recompute the layers' cheap elementwise work in the backward (recompute.RECOMPUTE: "
                             "by default on CUDA only; 'on' on CPU gives the saved bytes CUDA's policy keeps)")
    parser.add_argument("--saved-only", action="store_true",
                        help="only the saved-for-backward columns (one forward each, no timing): large sizes on CPU")
    args = parser.parse_args()
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    if args.recompute != "device":
        recompute.RECOMPUTE[device.type] = args.recompute == "on"
    if args.cuda_value_slices:
        attention.VALUE_SLICE_MIN_KEYS.update({("cuda", True): 1, ("cuda", False): 1})

    torch.manual_seed(0)

    print(f"# device={device} dtype={args.dtype} tokens={args.tokens} D={args.dim} attention={args.attention} "
          f"torch={torch.__version__} cuda_value_slices={args.cuda_value_slices} "
          f"recompute={recompute.RECOMPUTE.get(device.type, True)}")
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    dim = args.dim
    peer = transformer_layer(dim, 4 * dim, heads=max(1, dim // 64)).to(device, dtype)
    for kind in args.layers:
        causal = kind == "decoder"
        for length in args.lengths:
            batch = max(1, args.tokens // length)
            x = torch.randn(length, batch, dim, device=device, dtype=dtype)
            peer_call = lambda m, inp: m(inp, is_causal=False)  # noqa: E731
            peer_saved = saved_bytes(peer, x, peer_call)
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
                call_hf = hf_call(causal, length, chunk)
                diff = "-"
                if hf is not None:
                    hf = hf.to(device)
                    with torch.no_grad():
                        probe = x[:, :1].float()
                        diff = (ours_call(ours, probe) - call_hf(hf, probe)).abs().max()
                        diff = f"{diff.item():.1e}"
                    hf = hf.to(dtype)
                ours = ours.to(dtype)
                candidates = {"ours": fwd_bwd(ours, x, ours_call), "transformer": fwd_bwd(peer, x, peer_call)}
                saved = {"ours": saved_bytes(ours, x, ours_call)}
                if hf is not None:
                    candidates["HF"] = fwd_bwd(hf, x, call_hf)
                    saved["HF"] = saved_bytes(hf, x, call_hf)
                if args.compile and not args.saved_only:
                    torch._dynamo.reset()
                    candidates["compiled"] = fwd_bwd(torch.compile(ours, fullgraph=True), x, ours_call)
                if args.reference:
                    plain = copy.deepcopy(ours)
                    set_fast_attention(plain, False)
                    candidates["plain"] = fwd_bwd(plain, x, ours_call)
                    saved["plain"] = saved_bytes(plain, x, ours_call)
                results = {} if args.saved_only else measure(candidates, device, args.repeat)
                ours_time, ours_mem = results.get("ours", (None, None))
                compiled_time = results.get("compiled", (None, None))[0]
                plain_time = results.get("plain", (None, None))[0]
                hf_time, hf_mem = results.get("HF", (None, None))
                peer_time, peer_mem = results.get("transformer", (None, None))
                ours_saved, hf_saved, plain_saved = saved["ours"], saved.get("HF"), saved.get("plain")
                print(
                    f"| {kind} | {length} | {chunk} | {_ms(ours_time)} | {_ms(compiled_time)} | {_ms(hf_time)} | "
                    f"{_ms(peer_time)} | {_ratio(ours_time, hf_time)} | {_ratio(compiled_time, hf_time)} | "
                    f"{_ratio(ours_time, peer_time)} | {diff} | {_mb(ours_saved)} | {_mb(hf_saved)} | "
                    f"{_mb(peer_saved)} | {_ratio(ours_saved, peer_saved)} | "
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
