#!/usr/bin/env bash
# Score a trained model on the test split and sample from it.
#
#   bash examples/language_model/evaluate.sh MODEL WORK       (MODEL: mega | transformer)
#
# Uses WORK/MODEL/checkpoints/checkpoint_best.pt and writes, in WORK/MODEL:
#   eval_test.log  fairseq-eval-lm, blocks of TOKENS (the training length)
#   eval_mega.log  mega-eval-lm, blocks of TOKENS, attention chunk by chunk with the carried state (mega only)
#   eval_long.log  blocks of LONG tokens: mega-eval-lm for mega; fairseq-eval-lm with max_target_positions raised
#                  for the Transformer (its sinusoidal positions are computed for any length)
#   sample.log     fairseq-interactive sampling (top-k SAMPLE_TOPK, beam 1) continuing PROMPT (given in tokens);
#                  mega only, unless SAMPLE_ALL=1
# Environment: TOKENS, BATCH, LONG (default 4 * TOKENS), PROMPT, SAMPLE_LEN (tokens, prompt included; at most
# TOKENS - 1, the models' length limit), SAMPLE_TOPK (10), SEED (1), PYTHON (python).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
plugin="$repo/mega_plugin"
model="${1:?usage: evaluate.sh mega|transformer WORK}"
work="${2:?usage: evaluate.sh mega|transformer WORK}"
PYTHON="${PYTHON:-python}"
: "${TOKENS:?} ${BATCH:?} ${PROMPT:?}"
LONG="${LONG:-$((4 * TOKENS))}"
SAMPLE_LEN="${SAMPLE_LEN:-$((TOKENS - 1))}"
SAMPLE_TOPK="${SAMPLE_TOPK:-10}"
SEED="${SEED:-1}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"

out="$work/$model"
checkpoint="$out/checkpoints/checkpoint_best.pt"
[ -f "$checkpoint" ] || { echo "no checkpoint $checkpoint: run train.sh $model $work first" >&2; exit 1; }
score=(--user-dir "$plugin" --path "$checkpoint" --gen-subset test --batch-size "$BATCH" --cpu --num-workers 0)

run() {  # run LOG COMMAND...: keep the whole output in LOG, show its last line
    local log="$1"; shift
    "$@" > "$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }
    grep -E "Loss \(base 2\)" "$log" | tail -1 || true
}

run "$out/eval_test.log" "$PYTHON" -m fairseq_cli.eval_lm "$work/data-bin" "${score[@]}" --tokens-per-sample "$TOKENS"
if [ "$model" = mega ]; then
    run "$out/eval_mega.log" env PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" \
        "$PYTHON" -m mega_plugin.cli.eval_lm "$work/data-bin" "${score[@]}" --tokens-per-sample "$TOKENS"
    run "$out/eval_long.log" env PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" \
        "$PYTHON" -m mega_plugin.cli.eval_lm "$work/data-bin" "${score[@]}" --tokens-per-sample "$LONG"
else
    run "$out/eval_long.log" "$PYTHON" -m fairseq_cli.eval_lm "$work/data-bin" "${score[@]}" \
        --tokens-per-sample "$LONG" --model-overrides "{'max_target_positions': $LONG}"
fi
if [ "$model" = mega ] || [ -n "${SAMPLE_ALL:-}" ]; then
    printf '%s\n' "$PROMPT" | run "$out/sample.log" "$PYTHON" -m fairseq_cli.interactive "$work/data-bin" \
        --user-dir "$plugin" --task language_modeling --path "$checkpoint" --cpu --seed "$SEED" \
        --sampling --sampling-topk "$SAMPLE_TOPK" --beam 1 --nbest 1 --max-len-b "$SAMPLE_LEN"
    grep -E "^H-0" "$out/sample.log" | cut -f3 | cut -c1-200
fi
