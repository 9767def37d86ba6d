"""fairseq-train throughput (words/s) of mega_lm_base vs fairseq's transformer_lm at about equal parameters.

    python benchmarks/train.py                                    # CPU, toy corpus, D 128, 4 layers, 60 updates
    python benchmarks/train.py --device cuda --dim 512 --layers 12 --tokens-per-sample 2048 --updates 200

Both models train on the same data-bin with the same batch (tokens per sample x batch size), optimizer and number of
updates, in one run of this script. The Mega model is mega_lm_base with the sizes given (H = F = 2D, Z = D/2,
chunk --chunk); the Transformer has the same depth and width, with its FFN size solved (a multiple of 8) so that
its parameter count matches Mega's. Words/s is the median over the logging intervals after the first one (warm-up left out);
parameter counts come from fairseq's own log line. --data takes an existing fairseq-preprocess folder; by default
the quick start's toy corpus is generated into a temporary folder.
"""

import argparse
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "mega_plugin"
PARAMS = re.compile(r"num\. shared model params: ([\d,]+)")
WPS = re.compile(r"train_inner .*?wps=([\d.]+)")


def run(command):
    result = subprocess.run([sys.executable, "-m", *map(str, command)], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed:\n{result.stderr[-3000:]}")
    return result.stdout + result.stderr


def toy_data_bin(work: pathlib.Path) -> pathlib.Path:
    """The quick start's deterministic toy corpus, binarized."""
    text = work / "text"
    subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart" / "make_corpus.py"), str(text),
                    "--sentences", "20000"], check=True, capture_output=True)
    run(["fairseq_cli.preprocess", "--only-source", "--trainpref", text / "train.txt", "--validpref",
         text / "valid.txt", "--destdir", work / "data-bin", "--workers", "1"])
    return work / "data-bin"


def parameter_count(data: pathlib.Path, flags: list) -> int:
    """Parameters (shared ones once) of the model fairseq builds for these flags on this data."""
    from fairseq import options, tasks

    import mega_plugin  # noqa: F401  (registers the Mega architectures)

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [str(data), "--task", "language_modeling", "--cpu",
                                                *map(str, flags)])
    model = tasks.setup_task(args).build_model(args)
    return sum(p.numel() for p in model.parameters())


def matching_transformer_ffn(data: pathlib.Path, args) -> int:
    """The Transformer FFN size (multiple of 8) whose parameter count is closest to the Mega model's
    (the count is linear in the FFN size, so two builds give the line)."""
    target = parameter_count(data, model_flags("mega_lm_base", args))
    low, high = args.dim, 4 * args.dim
    count_low = parameter_count(data, model_flags("transformer_lm", args, ffn=low))
    count_high = parameter_count(data, model_flags("transformer_lm", args, ffn=high))
    per_unit = (count_high - count_low) / (high - low)
    return max(8, 8 * round((low + (target - count_low) / per_unit) / 8))


def model_flags(arch: str, args, ffn: int = None) -> list:
    d = args.dim
    if arch == "mega_lm_base":
        return ["--arch", "mega_lm_base", "--decoder-layers", args.layers, "--decoder-embed-dim", d,
                "--decoder-hidden-dim", 2 * d, "--decoder-ffn-embed-dim", 2 * d, "--decoder-z-dim", d // 2,
                "--decoder-chunk-size", args.chunk]
    return ["--arch", "transformer_lm", "--decoder-layers", args.layers, "--decoder-embed-dim", d,
            "--decoder-input-dim", d, "--decoder-output-dim", d,  # else 512-wide embeddings and projections
            "--decoder-ffn-embed-dim", ffn or args.transformer_ffn, "--decoder-attention-heads", max(1, d // 64),
            "--share-decoder-input-output-embed"]


def train(arch: str, data: pathlib.Path, save: pathlib.Path, args):
    """Returns (parameters, median words/s) of a fairseq-train run."""
    command = ["fairseq_cli.train", data, "--user-dir", PLUGIN, "--task", "language_modeling",
               *model_flags(arch, args), "--tokens-per-sample", args.tokens_per_sample, "--sample-break-mode", "none",
               "--batch-size", args.batch_size, "--optimizer", "adam", "--lr", "0.001", "--lr-scheduler", "fixed",
               "--dropout", "0.0", "--max-update", args.updates, "--log-format", "simple",
               "--log-interval", args.log_interval, "--disable-validation", "--no-save", "--num-workers", "0",
               "--required-batch-size-multiple", "1", "--save-dir", save, "--seed", "1"]
    if args.device == "cpu":
        command.append("--cpu")
    elif args.dtype == "bf16":
        command.append("--bf16")
    elif args.dtype == "fp16":
        command.append("--fp16")
    output = run(command)
    params = int(PARAMS.search(output).group(1).replace(",", ""))
    rates = [float(rate) for rate in WPS.findall(output)][1:]
    if not rates:
        raise RuntimeError(f"{arch}: no logging interval after the first; raise --updates or lower --log-interval")
    return params, statistics.median(rates)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=pathlib.Path, help="fairseq-preprocess folder (default: toy corpus)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "fp16"], help="CUDA only")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--chunk", type=int, default=128)
    parser.add_argument("--transformer-ffn", type=int, help="Transformer FFN size (default: matches the parameters)")
    parser.add_argument("--tokens-per-sample", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--updates", type=int, default=60)
    parser.add_argument("--log-interval", type=int, default=10)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        data = args.data or toy_data_bin(work)
        args.transformer_ffn = args.transformer_ffn or matching_transformer_ffn(data, args)
        rows = {arch: train(arch, data, work / arch, args) for arch in ("mega_lm_base", "transformer_lm")}
    print(f"# device={args.device} dtype={args.dtype} D={args.dim} layers={args.layers} chunk={args.chunk} "
          f"tokens/sample={args.tokens_per_sample} batch={args.batch_size} updates={args.updates} "
          f"transformer FFN={args.transformer_ffn}")
    print("| arch | parameters | words/s | words/s ratio mega/transformer |")
    print("|---|---|---|---|")
    mega_rate = rows["mega_lm_base"][1]
    for arch, (params, rate) in rows.items():
        print(f"| {arch} | {params:,} | {rate:,.0f} | {mega_rate / rate:.2f} |")


if __name__ == "__main__":
    main()
