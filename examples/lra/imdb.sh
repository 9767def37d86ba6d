#!/usr/bin/env bash
# LRA Text: byte-level IMDB (2 classes, 4000 bytes). Paper (Table 2): Mega 90.43, Mega-chunk 90.19. One A100 40GB.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_recipe --arch mega_lra_imdb --task lra-text --input-type text \
    --encoder-layers 4 --attention-activation-fn softmax --norm-type scalenorm \
    --lr 0.004 --dropout 0.1 --attention-dropout 0.0 --act-dropout 0.0 --weight-decay 0.01 \
    --batch-size 25 --update-freq 2 --max-update 25000 --total-num-update 25000 --warmup-updates 10000 \
    --batch-size-valid 100 --required-batch-size-multiple 1
