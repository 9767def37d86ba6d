#!/usr/bin/env bash
# Train one of the two compared language models on WORK/data-bin (made by prepare.sh).
#
#   bash examples/language_model/train.sh MODEL WORK       (MODEL: mega | transformer)
#
# Both models get the same data blocks, batch, updates, optimizer and schedule; only the architecture differs.
# Environment knobs (run.sh sets per-dataset defaults):
#   UPDATES, TOKENS (tokens per sample), BATCH (samples per update), LR (peak), WARMUP, DROPOUT, SEED,
#   LAYERS, DIM (embedding dim D, both models), FFN (Mega's F; the Transformer's FFN is TFFN),
#   HIDDEN (Mega's H), ZDIM (Mega's Z), NDIM (Mega's EMA dim N), CHUNK (Mega's attention chunk), TLAYERS, TFFN,
#   HEADS (Transformer heads), PYTHON (python).
# Validation runs after every epoch and at the end.
# Writes WORK/MODEL/checkpoints/checkpoint_{best,last}.pt, WORK/MODEL/train.log and WORK/MODEL/train_seconds.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
plugin="$(cd "$here/../../mega_plugin" && pwd)"
model="${1:?usage: train.sh mega|transformer WORK}"
work="${2:?usage: train.sh mega|transformer WORK}"
PYTHON="${PYTHON:-python}"
: "${UPDATES:?} ${TOKENS:?} ${BATCH:?} ${LR:?} ${WARMUP:?} ${DIM:?} ${LAYERS:?}"
DROPOUT="${DROPOUT:-0.1}"
SEED="${SEED:-1}"

case "$model" in
    mega)
        arch=(--arch mega_lm_base --decoder-layers "$LAYERS" --decoder-embed-dim "$DIM"
              --decoder-hidden-dim "${HIDDEN:?}" --decoder-ffn-embed-dim "${FFN:?}" --decoder-z-dim "${ZDIM:?}"
              --decoder-n-dim "${NDIM:-16}" --decoder-chunk-size "${CHUNK:?}") ;;
    transformer)
        arch=(--arch transformer_lm --decoder-layers "${TLAYERS:-$LAYERS}" --decoder-embed-dim "$DIM"
              --decoder-input-dim "$DIM" --decoder-output-dim "$DIM"
              --decoder-ffn-embed-dim "${TFFN:?}" --decoder-attention-heads "${HEADS:-4}"
              --activation-fn gelu --share-decoder-input-output-embed) ;;
    *) echo "unknown model '$model' (mega | transformer)" >&2; exit 2 ;;
esac

out="$work/$model"
rm -rf "$out/checkpoints"
mkdir -p "$out"
start=$(date +%s.%N)
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}" \
"$PYTHON" -m fairseq_cli.train "$work/data-bin" --user-dir "$plugin" --task language_modeling "${arch[@]}" \
    --tokens-per-sample "$TOKENS" --sample-break-mode none --batch-size "$BATCH" --batch-size-valid "$BATCH" \
    --optimizer adam --adam-betas '(0.9, 0.98)' --adam-eps 1e-8 --clip-norm 1.0 --weight-decay 0.01 \
    --lr "$LR" --lr-scheduler linear_decay --warmup-updates "$WARMUP" --warmup-init-lr 1e-7 \
    --total-num-update "$UPDATES" --end-learning-rate 0 --max-update "$UPDATES" \
    --dropout "$DROPOUT" --seed "$SEED" --cpu --num-workers 0 \
    --no-epoch-checkpoints \
    --save-dir "$out/checkpoints" --log-format simple --log-interval 50 > "$out/train.log" 2>&1 \
    || { tail -30 "$out/train.log" >&2; exit 1; }
end=$(date +%s.%N)
"$PYTHON" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$start" "$end" \
    > "$out/train_seconds"
grep -E "\| valid \|" "$out/train.log" | tail -1
echo "train seconds: $(cat "$out/train_seconds")"
