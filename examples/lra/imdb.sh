#!/usr/bin/env bash
# LRA Text: byte-level IMDB (paper: 90.43 full, 90.19 chunk).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
train --task lra-text --input-type text --arch mega_lra_imdb --chunk-size "${CHUNK:--1}" \
    --attention-activation-fn softmax --norm-type scalenorm --encoder-layers 4 \
    --lr 0.004 --weight-decay 0.01 --dropout 0.1 --attention-dropout 0.0 --act-dropout 0.0 \
    --batch-size 25 --update-freq 2 --max-update 25000 --total-num-update 25000 --warmup-updates 10000 \
    --batch-size-valid 100 --required-batch-size-multiple 1 "$@"
