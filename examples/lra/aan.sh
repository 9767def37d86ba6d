#!/usr/bin/env bash
# LRA Retrieval: AAN document pairs, byte level (paper: 91.25 full, 90.97 chunk).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
train --task lra-text --input-type text --arch mega_lra_aan --chunk-size "${CHUNK:--1}" \
    --attention-activation-fn softmax --norm-type scalenorm --encoder-layers 6 \
    --lr 0.003 --weight-decay 0.04 --dropout 0.1 --attention-dropout 0.0 --act-dropout 0.0 \
    --batch-size 8 --update-freq 8 --max-update 91960 --total-num-update 91960 --warmup-updates 10000 \
    --batch-size-valid 64 "$@"
