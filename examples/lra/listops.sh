#!/usr/bin/env bash
# LRA ListOps (10 classes, up to 2000 tokens). Paper (Table 2): Mega 63.14, Mega-chunk 58.76. One A100 40GB.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_recipe --arch mega_lra_listop --task lra-text --input-type text \
    --encoder-layers 6 --attention-activation-fn softmax --norm-type layernorm \
    --lr 0.001 --dropout 0.1 --attention-dropout 0.0 --act-dropout 0.0 --weight-decay 0.01 \
    --batch-size 64 --update-freq 1 --max-update 90000 --total-num-update 90000 --warmup-updates 3000 \
    --batch-size-valid 256 --required-batch-size-multiple 1
