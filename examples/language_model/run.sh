#!/usr/bin/env bash
# Language modelling end to end: prepare DATASET, train Mega (mega_lm_base, shrunk) and fairseq's transformer_lm at
# about the same parameter count one after the other with the same data, batch, updates, optimizer and schedule,
# score both on the test split, sample from Mega, print the side-by-side table.
#
#   bash examples/language_model/run.sh DATASET [DATA [WORK]]          (DATASET: wikitext2 | shakespeare)
#
# DATA: the dataset folder (default ../shared/data/wikitext-2 or ../shared/data/tinyshakespeare next to the
# repository root); WORK: work folder (default runs/language_model/DATASET under the repository root).
# Environment knobs (defaults = the measured runs of README.md): LIMIT (0), UPDATES, TOKENS, BATCH, LR, WARMUP,
# DROPOUT, LAYERS, DIM, HIDDEN, FFN, ZDIM, NDIM, CHUNK, TFFN, HEADS, LONG, PROMPT, SAMPLE_LEN, SAMPLE_ALL,
# PYTHON (python);
# SIZE=tiny shrinks both models (D 32, one layer) for smoke tests, e.g.
#   LIMIT=400 UPDATES=4 WARMUP=2 TOKENS=32 BATCH=4 SIZE=tiny bash examples/language_model/run.sh wikitext2
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dataset="${1:?usage: run.sh wikitext2|shakespeare [DATA [WORK]]}"
case "$dataset" in
    wikitext2)
        data="${2:-$repo/../shared/data/wikitext-2}"
        : "${UPDATES:=600}" "${BATCH:=8}" "${DROPOUT:=0.1}" "${PROMPT:=The game was}" "${SAMPLE_LEN:=60}" ;;
    shakespeare)
        data="${2:-$repo/../shared/data/tinyshakespeare}"
        : "${UPDATES:=900}" "${BATCH:=16}" "${DROPOUT:=0.0}" "${SAMPLE_LEN:=200}" ;;
    *) echo "unknown dataset '$dataset' (wikitext2 | shakespeare)" >&2; exit 2 ;;
esac
work="${3:-$repo/runs/language_model/$dataset}"
PYTHON="${PYTHON:-python}"
: "${TOKENS:=256}" "${LR:=0.003}" "${WARMUP:=$((UPDATES / 10))}"
if [ "${SIZE:-small}" = tiny ]; then
    : "${LAYERS:=1}" "${DIM:=32}" "${HIDDEN:=64}" "${FFN:=64}" "${ZDIM:=16}" "${NDIM:=4}" "${CHUNK:=16}" "${TFFN:=144}"
else
    # Mega: D 128, H = F 256, Z 64, N 16, chunks of 64; a Transformer FFN of 576 matches its size within 0.2 %
    : "${LAYERS:=4}" "${DIM:=128}" "${HIDDEN:=256}" "${FFN:=256}" "${ZDIM:=64}" "${NDIM:=16}" "${CHUNK:=64}"
    : "${TFFN:=576}"
fi
export PYTHON LIMIT UPDATES TOKENS BATCH LR WARMUP DROPOUT LAYERS DIM HIDDEN FFN ZDIM NDIM CHUNK TFFN LONG SAMPLE_LEN
[ "$dataset" = shakespeare ] && [ -z "${PROMPT:-}" ] && PROMPT="$("$PYTHON" "$here/prepare.py" encode-chars "ROMEO:")"
export PROMPT

bash "$here/prepare.sh" "$dataset" "$data" "$work"
for model in mega transformer; do
    echo "== $model"
    bash "$here/train.sh" "$model" "$work"
    bash "$here/evaluate.sh" "$model" "$work"
done
echo
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" "$here/summarize.py" "$dataset" "$work" --long "${LONG:-0}"
