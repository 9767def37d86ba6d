#!/usr/bin/env bash
# LRA ListOps (paper: 63.14 full, 58.76 chunk). One A100 40GB in the paper.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
train --task lra-text --input-type text --arch mega_lra_listop --chunk-size "${CHUNK:--1}" \
    --attention-activation-fn softmax --norm-type layernorm --encoder-layers 6 \
    --lr 0.001 --weight-decay 0.01 --dropout 0.1 --attention-dropout 0.0 --act-dropout 0.0 \
    --batch-size 64 --update-freq 1 --max-update 90000 --total-num-update 90000 --warmup-updates 3000 \
    --batch-size-valid 256 --required-batch-size-multiple 1 "$@"
