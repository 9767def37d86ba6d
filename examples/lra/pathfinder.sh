#!/usr/bin/env bash
# LRA Pathfinder-32 (2 classes, 1024 pixels). Paper (Table 2): Mega 96.01, Mega-chunk 94.41. One A100 40GB.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_recipe --arch mega_lra_pf32 --task lra-image --input-type image --pixel-normalization 0.5 0.5 \
    --encoder-layers 6 --attention-activation-fn laplace --norm-type batchnorm --encoder-normalize-before \
    --lr 0.01 --dropout 0.0 --attention-dropout 0.0 --act-dropout 0.0 --weight-decay 0.01 \
    --batch-size 128 --update-freq 1 --max-update 250000 --total-num-update 250000 --warmup-updates 50000 \
    --batch-size-valid 512
