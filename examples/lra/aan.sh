#!/usr/bin/env bash
# LRA Retrieval: AAN document pairs, byte level (2 classes, 4000 bytes each). Paper (Table 2): Mega 91.25,
# Mega-chunk 90.97. One A100 40GB.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_recipe --arch mega_lra_aan --task lra-text --input-type text \
    --encoder-layers 6 --attention-activation-fn softmax --norm-type scalenorm \
    --lr 0.003 --dropout 0.1 --attention-dropout 0.0 --act-dropout 0.0 --weight-decay 0.04 \
    --batch-size 8 --update-freq 8 --max-update 91960 --total-num-update 91960 --warmup-updates 10000 \
    --batch-size-valid 64
