"""Incremental decoding speed of a Mega LM stack vs context length: ours vs HF MegaForCausalLM (same weights).

    python benchmarks/decode.py                                  # CPU, small model, contexts 256..4096
    python benchmarks/decode.py --device cuda --contexts 1024 4096 16384 65536 --chunk 1024

For each context length the prompt is consumed in one call (prefill), then --steps single tokens are decoded;
the table gives per-token latency and tokens/s. HF runs without chunking (its chunked decoder cannot decode
incrementally) and is skipped above --hf-max-context. Before timing, the next-token logits of both must agree.
"""

import argparse
import statistics
import time

import torch
import torch.nn as nn

from mega_plugin.modules import MegaDecoderLayer, MegaLayerConfig
from conversion.key_map import BLOCK_RENAMES


class TinyLM(nn.Module):
    """Embedding -> Mega decoder layers -> output projection (post-norm, unscaled: HF's layout)."""

    def __init__(self, cfg: MegaLayerConfig, layers: int, vocab: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, cfg.embed_dim)
        self.layers = nn.ModuleList([MegaDecoderLayer(cfg) for _ in range(layers)])
        self.head = nn.Linear(cfg.embed_dim, vocab)

    def forward(self, tokens, state):
        x = self.embed(tokens).transpose(0, 1)
        for layer in self.layers:
            x, _ = layer(x, incremental_state=state)
        return self.head(x.transpose(0, 1))


def hf_model(cfg, ours, layers, vocab, max_positions):
    try:
        from transformers import MegaConfig, MegaForCausalLM
    except ImportError:
        return None
    config = MegaConfig(
        vocab_size=vocab, hidden_size=cfg.embed_dim, num_hidden_layers=layers, intermediate_size=cfg.hidden_dim,
        nffn_hidden_size=cfg.ffn_hidden_dim, shared_representation_size=cfg.z_dim, ema_projection_size=cfg.n_dim,
        relative_positional_bias=cfg.rel_pos_bias, normalization_type=cfg.norm_type, normalize_before_mega=cfg.prenorm,
        normalize_before_ffn=cfg.prenorm, is_decoder=True, bidirectional=False, max_positions=max_positions,
        add_lm_hidden_dense_layer=False, tie_word_embeddings=False, dropout_prob=0.0, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, nffn_activation_dropout_prob=0.0,
    )
    model = MegaForCausalLM(config)
    state = {"mega.embedding_layer.word_embeddings.weight": ours.embed.weight,
             "lm_head.weight": ours.head.weight, "lm_head.bias": ours.head.bias}
    for key, value in ours.layers.state_dict().items():
        index, rest = key.split(".", 1)
        state[f"mega.layers.{index}.{BLOCK_RENAMES.get(rest, rest)}"] = value
    model.load_state_dict(state, strict=True)
    return model


def time_ours(model, prompt, steps):
    state = {}
    model(prompt, state)
    token = prompt[:, -1:]
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        logits = model(token, state)
        _sync(prompt)
        times.append(time.perf_counter() - start)
        token = logits[:, -1:].argmax(-1)
    return statistics.median(times)


def time_hf(model, prompt, steps):
    out = model(prompt, use_cache=True)
    past, token = out.past_key_values, prompt[:, -1:]
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        out = model(token, past_key_values=past, use_cache=True)
        _sync(prompt)
        times.append(time.perf_counter() - start)
        past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
    return statistics.median(times)


def _sync(tensor):
    if tensor.is_cuda:
        torch.cuda.synchronize()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--contexts", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--chunk", type=int, default=256, help="chunk size of our chunked model")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--hf-max-context", type=int, default=4096)
    parser.add_argument("--full-max-context", type=int, default=16384,
                        help="longest context for our unchunked model (its prefill is quadratic)")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(f"# device={device} D={args.dim} layers={args.layers} batch=1 torch={torch.__version__}")
    print("| context | ours full ms/token | ours chunk ms/token | HF ms/token | ours full/HF | ours chunk tokens/s |"
          " next-token max abs(ours-HF) |")
    print("|---|---|---|---|---|---|---|")
    base = dict(embed_dim=args.dim, hidden_dim=2 * args.dim, ffn_hidden_dim=2 * args.dim, z_dim=args.dim // 2,
                n_dim=16, rel_pos_bias="rotary", prenorm=False, norm_type="layernorm")
    top = max(args.contexts)
    full = TinyLM(MegaLayerConfig(**base, max_positions=top + args.steps + 1), args.layers, args.vocab)
    chunked = TinyLM(MegaLayerConfig(**base, chunk_size=args.chunk), args.layers, args.vocab)
    chunked.load_state_dict(full.state_dict())
    full, chunked = full.to(device).eval(), chunked.to(device).eval()
    hf = hf_model(MegaLayerConfig(**base), full, args.layers, args.vocab, top + args.steps + 1)
    hf = None if hf is None else hf.to(device).eval()
    with torch.no_grad():
        for context in args.contexts:
            prompt = torch.randint(4, args.vocab, (1, context), device=device)
            ours_full = time_ours(full, prompt, args.steps) if context <= args.full_max_context else None
            ours_chunk = time_ours(chunked, prompt, args.steps)
            hf_time, diff = None, "-"
            if hf is not None and ours_full is not None and context <= args.hf_max_context:
                ours_next = full(prompt, {})[:, -1]
                hf_next = hf(prompt, use_cache=False).logits[:, -1]
                diff = f"{(ours_next - hf_next).abs().max().item():.1e}"
                hf_time = time_hf(hf, prompt, args.steps)
            full_ms = "-" if ours_full is None else f"{ours_full * 1e3:.2f}"
            hf_ms = "-" if hf_time is None else f"{hf_time * 1e3:.2f}"
            ratio = "-" if hf_time is None else f"{ours_full / hf_time:.2f}"
            print(f"| {context} | {full_ms} | {ours_chunk * 1e3:.2f} | {hf_ms} | {ratio} | {1 / ours_chunk:.0f} | {diff} |",
                  flush=True)


if __name__ == "__main__":
    main()
