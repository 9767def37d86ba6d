#!/usr/bin/env bash
# Write the text splits of DATASET and binarize them with fairseq-preprocess (dictionary from the train split).
#
#   bash examples/language_model/prepare.sh DATASET DATA WORK      (DATASET: wikitext2 | shakespeare)
#
# DATA: the dataset folder (wikitext-2/ or tinyshakespeare/ of the shared data). Writes WORK/text/{train,valid,
# test}.txt, WORK/text/splits.json and WORK/data-bin. Environment: LIMIT (0 = everything; else the first LIMIT lines
# of WikiText-2 valid and test, or the first LIMIT characters of Shakespeare), PYTHON (python).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dataset="${1:?usage: prepare.sh wikitext2|shakespeare DATA WORK}"
data="${2:?usage: prepare.sh wikitext2|shakespeare DATA WORK}"
work="${3:?usage: prepare.sh wikitext2|shakespeare DATA WORK}"
PYTHON="${PYTHON:-python}"

mkdir -p "$work"
"$PYTHON" "$here/prepare.py" "$dataset" "$data" "$work/text" --limit "${LIMIT:-0}"
rm -rf "$work/data-bin"
"$PYTHON" -m fairseq_cli.preprocess --only-source --trainpref "$work/text/train.txt" \
    --validpref "$work/text/valid.txt" --testpref "$work/text/test.txt" --destdir "$work/data-bin" \
    --workers 1 > "$work/preprocess.log" 2>&1 || { tail -20 "$work/preprocess.log" >&2; exit 1; }
grep -E "Dictionary|replaced" "$work/preprocess.log" | sed 's/^.*\] //'
