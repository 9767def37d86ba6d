#!/usr/bin/env bash
# LRA Pathfinder-32 (paper: 96.01 full, 94.41 chunk).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
train --task lra-image --input-type image --pixel-normalization 0.5 0.5 --arch mega_lra_pf32 \
    --chunk-size "${CHUNK:-1024}" --attention-activation-fn laplace --norm-type batchnorm --encoder-layers 6 \
    --encoder-normalize-before --lr 0.01 --weight-decay 0.01 --dropout 0.0 --attention-dropout 0.0 --act-dropout 0.0 \
    --batch-size 128 --update-freq 1 --max-update 250000 --total-num-update 250000 --warmup-updates 50000 \
    --batch-size-valid 512 "$@"
