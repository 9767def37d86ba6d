#!/usr/bin/env bash
# Reduced ListOps run for a CPU: a small mega_lra_listop model (2 layers, D 64, chunk 128) first learns on short
# expressions from our generator (10-100 tokens, depth <= 4; 3,000 updates), then trains on the prepared LRA data
# (800 updates). Trained on the LRA data alone, the same model stays at the majority-class baseline for the first
# few thousand updates (see README.md); the short expressions get it past that plateau.
#
#   bash examples/lra/listops_curriculum.sh DATA [WORK]
#
# DATA: the LRA ListOps folder made by `prepare.py listops` (its token dictionary is reused for the short data);
# WORK: where the short data and both runs go (default runs/lra/listops-curriculum). Environment: SHORT_EXAMPLES
# (10000 training expressions; a tenth of that each for valid and test), SHORT_UPDATES (3000), UPDATES (800),
# PYTHON (python), THREADS (1). Prints the test accuracy of the final best checkpoint.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
plugin="$(cd "$here/../../mega_plugin" && pwd)"
data="${1:?usage: $0 DATA [WORK]}"
work="${2:-runs/lra/listops-curriculum}"
python="${PYTHON:-python}"
export OMP_NUM_THREADS="${THREADS:-1}"

model=(--user-dir "$plugin" --task lra-text --arch mega_lra_listop --input-type text --encoder-layers 2
       --encoder-embed-dim 64 --encoder-hidden-dim 128 --encoder-ffn-embed-dim 128 --z-dim 32 --n-dim 16
       --chunk-size 128 --attention-activation-fn softmax --norm-type layernorm --sen-rep-type mp --activation-fn silu)
training=(--criterion lra_cross_entropy --sentence-avg --optimizer adam --adam-betas '(0.9, 0.98)' --adam-eps 1e-8
          --clip-norm 1.0 --lr-scheduler linear_decay --warmup-init-lr 1e-7 --end-learning-rate 0 --weight-decay 0.01
          --dropout 0.1 --batch-size 32 --batch-size-valid 64 --required-batch-size-multiple 1 --cpu --seed 1
          --num-workers 0 --log-format simple --log-interval 100 --no-epoch-checkpoints
          --best-checkpoint-metric accuracy --maximize-best-checkpoint-metric)

short="${SHORT_UPDATES:-3000}"
examples="${SHORT_EXAMPLES:-10000}"
"$python" "$here/listops_generator.py" "$work/short-tsv" --train "$examples" --valid $((examples / 10)) \
    --test $((examples / 10)) \
    --min-length 10 --max-length 100 --max-depth 4 --seed 0
"$python" "$here/prepare.py" listops "$work/short-tsv" "$work/short-data" --dictionary "$data/src-bin/dict.txt"
"$python" -m fairseq_cli.train "$work/short-data" "${model[@]}" "${training[@]}" --lr 0.003 --warmup-updates 200 \
    --total-num-update "$short" --max-update "$short" --validate-interval-updates 500 --save-dir "$work/short"

updates="${UPDATES:-800}"
"$python" -m fairseq_cli.train "$data" "${model[@]}" "${training[@]}" --lr 0.001 --warmup-updates 50 \
    --total-num-update "$updates" --max-update "$updates" --validate-interval-updates 200 \
    --finetune-from-model "$work/short/checkpoint_best.pt" --save-dir "$work/lra"
"$python" -m fairseq_cli.validate "$data" --user-dir "$plugin" --task lra-text --criterion lra_cross_entropy \
    --path "$work/lra/checkpoint_best.pt" --valid-subset test --batch-size 64 --cpu
