#!/usr/bin/env bash
# LRA Image: grey CIFAR-10, 1024 pixels (paper: 90.44 full, 85.80 chunk).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
train --task lra-image --input-type image --pixel-normalization 0.48 0.24 --arch mega_lra_cifar10 \
    --chunk-size "${CHUNK:-1024}" --attention-activation-fn laplace --norm-type batchnorm --encoder-layers 8 \
    --encoder-normalize-before --lr 0.01 --weight-decay 0.02 --dropout 0.0 --attention-dropout 0.0 --act-dropout 0.0 \
    --batch-size 50 --update-freq 1 --max-update 180000 --total-num-update 180000 --warmup-updates 9000 \
    --required-batch-size-multiple 1 "$@"
