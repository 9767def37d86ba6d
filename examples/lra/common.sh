# Shared part of the LRA recipes (sourced). Usage of every recipe:
#   bash examples/lra/<task>.sh DATA SAVE_DIR [extra fairseq-train flags...]
# CHUNK=<n> trains the Mega-chunk variant (default -1: full attention, or the arch's chunk for image tasks).
# PYTHON selects the interpreter (default: python). Extra flags come last, so they override the recipe.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
plugin="$(cd "$here/../../mega_plugin" && pwd)"
if [ $# -lt 2 ]; then
    echo "usage: $0 DATA SAVE_DIR [extra fairseq-train flags]" >&2
    exit 2
fi
DATA=$1
SAVE=$2
shift 2
PYTHON=${PYTHON:-python}
COMMON=(--user-dir "$plugin" --ddp-backend c10d --find-unused-parameters
        --criterion lra_cross_entropy --best-checkpoint-metric accuracy --maximize-best-checkpoint-metric
        --optimizer adam --adam-betas "(0.9, 0.98)" --adam-eps 1e-8 --clip-norm 1.0 --sentence-avg
        --lr-scheduler linear_decay --end-learning-rate 0.0 --warmup-init-lr 1e-07
        --keep-last-epochs 1 --num-workers 0 --n-dim 16 --activation-fn silu --sen-rep-type mp
        --save-dir "$SAVE" --log-format simple --log-interval 100)
train() { "$PYTHON" -m fairseq_cli.train "$DATA" "${COMMON[@]}" "$@"; }
