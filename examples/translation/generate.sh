#!/usr/bin/env bash
# Step 3: translate the test set (test2016) with beam 5 and score it with sacrebleu against the raw German text.
#
#   bash examples/translation/generate.sh MODEL [WORK] [extra fairseq-generate flags ...]
#
# Uses WORK/MODEL/checkpoints/checkpoint_last.pt (the model after exactly --max-update updates). Pieces are joined
# back into plain text by --post-process sentencepiece, so the hypotheses are compared, untokenised, with
# WORK/text/test.de. Writes WORK/MODEL/generate-test.txt (fairseq's output), WORK/MODEL/test.hyp.de (one
# hypothesis a line, in test order) and WORK/MODEL/bleu.json; fails if any test sentence lacks a hypothesis.
# Environment: BEAM (5), PYTHON (python). Threads are pinned to one unless set by the caller.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
model="${1:?usage: $0 mega|transformer [WORK] [extra fairseq-generate flags]}"
shift
work="$repo/runs/translation"
if [ $# -ge 1 ] && [[ "$1" != -* ]]; then work="$1"; shift; fi
PYTHON="${PYTHON:-python}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
save="$work/$model"
checkpoint="$save/checkpoints/checkpoint_last.pt"
if [ ! -f "$checkpoint" ]; then
    echo "no checkpoint $checkpoint: run train.sh $model first" >&2
    exit 1
fi

"$PYTHON" -m fairseq_cli.generate "$work/data-bin" --user-dir "$repo/mega_plugin" \
    --task translation --source-lang en --target-lang de --path "$checkpoint" --gen-subset test \
    --beam "${BEAM:-5}" --batch-size 64 --post-process sentencepiece --cpu --num-workers 0 "$@" \
    > "$save/generate-test.txt" 2> "$save/generate.log" || { tail -n 20 "$save/generate.log" >&2; exit 1; }
"$PYTHON" "$here/score.py" "$save/generate-test.txt" "$work/text/test.de" \
    --hypotheses "$save/test.hyp.de" --json "$save/bleu.json"
