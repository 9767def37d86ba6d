#!/usr/bin/env bash
# Step 1: Multi30k En->De plain text -> joint SentencePiece BPE -> fairseq binary data with one joined dictionary.
#
#   bash examples/translation/prepare.sh [DATA [WORK]]
#
# DATA: the Multi30k folder (default: ../shared/data/multi30k next to the repository root).
# WORK: work folder (default: runs/translation under the repository root). Writes WORK/text (plain splits, the
#       German test file is the BLEU reference), WORK/spm (BPE model + encoded splits), WORK/data-bin.
# Environment: LINES (training pairs to keep, 0 = all 29,000), EVAL_LINES (valid and test pairs, 0 = all 1,014 /
#       1,000), VOCAB (joint BPE vocabulary, 8000), PYTHON (python).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
data="${1:-$repo/../shared/data/multi30k}"
work="${2:-$repo/runs/translation}"
PYTHON="${PYTHON:-python}"

"$PYTHON" "$here/prepare_text.py" "$data" "$work" --train-lines "${LINES:-0}" --eval-lines "${EVAL_LINES:-0}" \
    --vocab-size "${VOCAB:-8000}"
rm -rf "$work/data-bin"
"$PYTHON" -m fairseq_cli.preprocess --source-lang en --target-lang de --joined-dictionary \
    --trainpref "$work/spm/train" --validpref "$work/spm/valid" --testpref "$work/spm/test" \
    --destdir "$work/data-bin" --workers 1 > "$work/preprocess.log" 2>&1 \
    || { cat "$work/preprocess.log" >&2; exit 1; }
# one line per binarized file: "[en] train.en: 29000 sents, 443001 tokens, 0.0% replaced (by <unk>)"
sed -nE 's/^.*\[(en|de)\] .*\/([a-z]+\.(en|de)): (.*sents.*)$/[\1] \2: \4/p' "$work/preprocess.log"
