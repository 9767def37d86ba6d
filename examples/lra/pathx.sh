#!/usr/bin/env bash
# LRA Path-X: Pathfinder 128x128 = 16384 pixels (paper: 97.98 full, 93.81 chunk). 8 GPUs in the paper
# (batch 2 x update-freq 8 per GPU, synchronised batch norm).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
train --task lra-image --input-type image --pixel-normalization 0.5 0.5 --arch mega_lra_pf128 \
    --chunk-size "${CHUNK:-16384}" --attention-activation-fn laplace --norm-type syncbatchnorm --encoder-layers 4 \
    --encoder-normalize-before --lr 0.01 --weight-decay 0.01 --dropout 0.0 --attention-dropout 0.0 --act-dropout 0.0 \
    --batch-size 2 --update-freq 8 --max-update 125000 --total-num-update 125000 --warmup-updates 25000 \
    --warmup-power 2 --batch-size-valid 12 "$@"
