#!/usr/bin/env bash
# Step 2: train one model on WORK/data-bin (from prepare.sh) on CPU, single-threaded.
#
#   bash examples/translation/train.sh MODEL [WORK] [extra fairseq-train flags ...]
#
# MODEL: mega (the plugin's mega_wmt_en_de, shrunk) or transformer (fairseq's own, at a similar parameter count).
# Both get the same data, batch (--max-tokens), number of updates, optimizer, schedule, criterion and dropout, and
# share one embedding matrix between encoder input, decoder input and decoder output (--share-all-embeddings).
# Mega runs pre-norm (--normalize-before; mega_wmt_en_de defaults to post-norm) and initialises its cross-attention
# xavier-uniform (--cross-attention-init xavier; the original's N(0, 0.02) is CROSS_INIT=normal): at this width the
# original init learns to use the source very slowly (see README.md). The Transformer keeps fairseq's defaults.
# Writes WORK/MODEL/checkpoints/checkpoint_last.pt and WORK/MODEL/train.log.
# Environment: UPDATES (800), MAX_TOKENS (2048), LR (0.005), WARMUP (200), SIZE (small, or tiny for smoke tests),
#       CROSS_INIT (xavier | normal, Mega only), SEED (1), PYTHON (python). Threads are pinned to one
#       (OMP_NUM_THREADS=1) unless set by the caller.
# Extra flags come last, so they override the recipe.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
model="${1:?usage: $0 mega|transformer [WORK] [extra fairseq-train flags]}"
shift
work="$repo/runs/translation"
if [ $# -ge 1 ] && [[ "$1" != -* ]]; then work="$1"; shift; fi
PYTHON="${PYTHON:-python}"
UPDATES="${UPDATES:-800}"
SIZE="${SIZE:-small}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"

# model sizes: D (embedding), F (FFN); Mega also H (value/gate), Z (query/key), N (EMA dimension)
case "$model:$SIZE" in
    mega:small) layers=3 D=128 H=256 F=256 Z=32 N=16 ;;
    mega:tiny) layers=1 D=32 H=64 F=64 Z=16 N=4 ;;
    transformer:small) layers=3 D=128 F=608 heads=4 ;;
    transformer:tiny) layers=1 D=32 F=128 heads=2 ;;
    *) echo "unknown MODEL:SIZE '$model:$SIZE' (MODEL: mega|transformer, SIZE: small|tiny)" >&2; exit 2 ;;
esac
if [ "$model" = mega ]; then
    arch=(--arch mega_wmt_en_de
          --encoder-layers "$layers" --encoder-embed-dim "$D" --encoder-hidden-dim "$H" --encoder-ffn-embed-dim "$F"
          --encoder-z-dim "$Z" --encoder-n-dim "$N"
          --decoder-layers "$layers" --decoder-embed-dim "$D" --decoder-hidden-dim "$H" --decoder-ffn-embed-dim "$F"
          --decoder-z-dim "$Z" --decoder-n-dim "$N"
          --activation-fn silu --attention-activation-fn softmax --normalization-type layernorm
          --normalize-before --hidden-dropout 0.1 --cross-attention-init "${CROSS_INIT:-xavier}")
else
    arch=(--arch transformer
          --encoder-layers "$layers" --encoder-embed-dim "$D" --encoder-ffn-embed-dim "$F"
          --encoder-attention-heads "$heads"
          --decoder-layers "$layers" --decoder-embed-dim "$D" --decoder-ffn-embed-dim "$F"
          --decoder-attention-heads "$heads")
fi

if [ ! -f "$work/data-bin/dict.en.txt" ]; then
    echo "no $work/data-bin/dict.en.txt: run prepare.sh first" >&2
    exit 1
fi
save="$work/$model"
rm -rf "$save/checkpoints"  # always a fresh run: fairseq-train would otherwise resume from checkpoint_last.pt
mkdir -p "$save"
command=("$PYTHON" -m fairseq_cli.train "$work/data-bin" --user-dir "$repo/mega_plugin"
         --task translation --source-lang en --target-lang de "${arch[@]}" --share-all-embeddings
         --dropout 0.1 --attention-dropout 0.1 --activation-dropout 0.1
         --criterion label_smoothed_cross_entropy --label-smoothing 0.1
         --optimizer adam --adam-betas "(0.9, 0.98)" --adam-eps 1e-8 --clip-norm 1.0
         --lr "${LR:-0.005}" --lr-scheduler linear_decay --warmup-updates "${WARMUP:-200}" --warmup-init-lr 1e-7
         --total-num-update "$UPDATES" --end-learning-rate 0 --max-update "$UPDATES"
         --max-tokens "${MAX_TOKENS:-2048}" --seed "${SEED:-1}" --cpu --num-workers 0
         --save-dir "$save/checkpoints" --no-epoch-checkpoints --log-format simple --log-interval 50
         "$@")
printf '%q ' "${command[@]}" > "$save/command.sh"
echo >> "$save/command.sh"
"${command[@]}" > "$save/train.log" 2>&1 || { tail -n 30 "$save/train.log" | cut -c 1-500 >&2; exit 1; }
grep -E "num\. (shared )?model params|done training" "$save/train.log" | sed 's/^.*| //'
