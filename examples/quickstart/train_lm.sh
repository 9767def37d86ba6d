#!/usr/bin/env bash
# Quick start: train a small mega_lm_base on a generated toy corpus on CPU, then report test perplexity.
#   bash examples/quickstart/train_lm.sh [WORK_DIR]      (default: runs/quickstart; about 2 minutes on 2 cores)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
plugin="$(cd "$here/../../mega_plugin" && pwd)"
work="${1:-runs/quickstart}"
updates="${UPDATES:-300}"

rm -rf "$work/data-bin" "$work/checkpoints"  # a fresh run every time (fairseq-train would resume from the last)
python "$here/make_corpus.py" "$work/text"
fairseq-preprocess --only-source --trainpref "$work/text/train.txt" --validpref "$work/text/valid.txt" \
    --testpref "$work/text/test.txt" --destdir "$work/data-bin" --workers 1 > "$work/preprocess.log"

fairseq-train "$work/data-bin" --user-dir "$plugin" --task language_modeling --arch mega_lm_base \
    --decoder-layers 2 --decoder-embed-dim 64 --decoder-hidden-dim 128 --decoder-ffn-embed-dim 128 \
    --decoder-z-dim 32 --decoder-chunk-size 32 --tokens-per-sample 64 --sample-break-mode none \
    --optimizer adam --adam-betas '(0.9, 0.98)' --lr 0.005 --lr-scheduler linear_decay \
    --warmup-updates 30 --warmup-init-lr 1e-7 --total-num-update "$updates" --end-learning-rate 0 \
    --batch-size 16 --max-update "$updates" --dropout 0.0 --clip-norm 1.0 --cpu --seed 1 \
    --save-dir "$work/checkpoints" --no-epoch-checkpoints --log-format simple --log-interval 50

fairseq-eval-lm "$work/data-bin" --user-dir "$plugin" --path "$work/checkpoints/checkpoint_last.pt" \
    --gen-subset test --tokens-per-sample 64 --batch-size 16 --cpu
