#!/usr/bin/env bash
# The performance issue's GPU tables, one part per call; benchmarks/device_check.sh runs the GPU tests and then
# every part in one device command:
#
#   bash benchmarks/gpu_suite.sh OUT PART   (PART: softmax | laplace | decode | slices | compile | norecompute)
#
# softmax: one encoder and one decoder layer, fwd+bwd, L in 1K..64K with B*L = 65,536 tokens, full attention
#          and chunks of 128 and 1024: ours vs HF MegaBlock (full attention only up to 16K) vs
#          torch.nn.TransformerEncoderLayer (SDPA); time, CUDA peak memory and bytes saved for the backward.
# laplace: the same rows with laplace attention (blockwise) and our plain path beside it.
# decode:  per-token decoding latency at 1K..64K context, ours (full and chunked) vs HF's cached decoding.
# slices:  the softmax rows without HF, our attention over query-wide value slices (flash kernels) instead of one
#          memory-efficient call: compare "ours ms" with the softmax part's.
# compile: the softmax rows without HF, with torch.compile(fullgraph=True) beside eager; each row compiles (about
#          a minute), so LENGTHS defaults to "16384" and CHUNKS to "128 1024" here.
# norecompute: the softmax rows without HF and without recomputing the cheap elementwise work in the backward
#          (recompute.RECOMPUTE, on for CUDA): compare "ours ms" and "ours MB" with the softmax part's.
# Writes OUT/PART.md (the table) and prints it. Environment: DEVICE (cuda), DTYPE (bf16), TOKENS (65536),
# LENGTHS ("1024 4096 16384 65536"), CHUNKS ("-1 128 1024"), HF_MAX (16384), PYTHON (python3).
# On the device tool's machines the HF peer needs transformers 4.57.x and its dependencies carried as wheels
# (their image has a newer huggingface_hub than transformers 4.57 accepts); without transformers the HF columns
# are "-". A CPU smoke run: DEVICE=cpu DTYPE=fp32 TOKENS=256 LENGTHS="64 128" CHUNKS="-1 32" HF_MAX=64 ...
set -euo pipefail

usage="usage: gpu_suite.sh OUT softmax|laplace|decode|slices|compile|norecompute"
out="${1:?$usage}"
part="${2:?$usage}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PYTHONPATH="$here/..${PYTHONPATH:+:$PYTHONPATH}"
PYTHON="${PYTHON:-python3}"
DEVICE="${DEVICE:-cuda}"
DTYPE="${DTYPE:-bf16}"
TOKENS="${TOKENS:-65536}"
if [[ "$part" == compile ]]; then
    read -r -a lengths <<< "${LENGTHS:-16384}"
    read -r -a chunks <<< "${CHUNKS:-128 1024}"
else
    read -r -a lengths <<< "${LENGTHS:-1024 4096 16384 65536}"
    read -r -a chunks <<< "${CHUNKS:--1 128 1024}"
fi
HF_MAX="${HF_MAX:-16384}"
mkdir -p "$out"

layer=("$PYTHON" "$here/layer.py" --device "$DEVICE" --dtype "$DTYPE" --tokens "$TOKENS" --lengths "${lengths[@]}"
       --chunks "${chunks[@]}" --hf-max-length "$HF_MAX" --repeat 5)
case "$part" in
    softmax) "${layer[@]}" | tee "$out/softmax.md" ;;
    laplace) "${layer[@]}" --attention laplace --reference | tee "$out/laplace.md" ;;
    slices) "${layer[@]}" --no-hf --cuda-value-slices | tee "$out/slices.md" ;;
    compile) "${layer[@]}" --no-hf --compile | tee "$out/compile.md" ;;
    norecompute) "${layer[@]}" --no-hf --recompute off | tee "$out/norecompute.md" ;;
    decode)
        "$PYTHON" "$here/decode.py" --device "$DEVICE" --contexts "${lengths[@]}" --chunk "${chunks[-1]}" \
            --hf-max-context "$HF_MAX" --full-max-context "${lengths[-1]}" | tee "$out/decode.md" ;;
    *) echo "unknown part '$part' (softmax | laplace | decode | slices | compile | norecompute)" >&2; exit 2 ;;
esac
