#!/usr/bin/env bash
# Multi30k En->De end to end: prepare the data, train Mega and fairseq's Transformer one after the other with the
# same budget, translate test2016 with both, print the side-by-side table.
#
#   bash examples/translation/run.sh [DATA [WORK]]
#
# DATA: the Multi30k folder (default: ../shared/data/multi30k next to the repository root);
# WORK: work folder (default: runs/translation under the repository root).
# Environment knobs (defaults = the measured setting of README.md):
#   LINES (0 = all 29,000 training pairs), EVAL_LINES (0 = all valid/test pairs), VOCAB (8000),
#   UPDATES (800), MAX_TOKENS (2048), LR (0.005), WARMUP (200), SIZE (small | tiny), CROSS_INIT (xavier | normal),
#   BEAM (5), SEED (1), PYTHON (python).
# A smoke test: LINES=300 EVAL_LINES=20 VOCAB=400 UPDATES=5 WARMUP=2 SIZE=tiny bash examples/translation/run.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="${2:-$(cd "$here/../.." && pwd)/runs/translation}"

bash "$here/prepare.sh" "$@"
for model in mega transformer; do
    echo "== $model"
    bash "$here/train.sh" "$model" "$work"
    bash "$here/generate.sh" "$model" "$work"
done
echo
"${PYTHON:-python}" "$here/summarize.py" "$work" mega transformer
