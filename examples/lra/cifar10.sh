#!/usr/bin/env bash
# LRA Image: grey CIFAR-10 (10 classes, 1024 pixels). Paper (Table 2): Mega 90.44, Mega-chunk 85.80. One A100 40GB.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_recipe --arch mega_lra_cifar10 --task lra-image --input-type image --pixel-normalization 0.48 0.24 \
    --encoder-layers 8 --attention-activation-fn laplace --norm-type batchnorm --encoder-normalize-before \
    --lr 0.01 --dropout 0.0 --attention-dropout 0.0 --act-dropout 0.0 --weight-decay 0.02 \
    --batch-size 50 --update-freq 1 --max-update 180000 --total-num-update 180000 --warmup-updates 9000 \
    --required-batch-size-multiple 1
