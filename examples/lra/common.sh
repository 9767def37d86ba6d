# Shared part of the LRA recipes (sourced by listops.sh, imdb.sh, aan.sh, cifar10.sh, pathfinder.sh, pathx.sh).
#
#   bash examples/lra/<task>.sh [DATA [SAVE]] [extra fairseq-train flags ...]
#
# DATA: data folder made by prepare.py; SAVE: checkpoint/log folder (default runs/lra/<task>, with
# -chunk<CHUNK> appended when chunked). Both may also come from the environment (DATA=... SAVE=...).
# Environment: CHUNK (attention chunk size, -1 = full attention = "Mega"; the paper's "Mega-chunk" used 128, and
# 4096 for Path-X), SEED (1), PYTHON (python), PRINT_ONLY=1 (print the command, run nothing).
# Extra flags come last, so they override the recipe (e.g. --cpu --max-update 1 for a smoke test).
# The output of fairseq-train is also appended to SAVE/train.log (read by results.py).
set -euo pipefail

LRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PLUGIN_DIR="$(cd "$LRA_DIR/../../mega_plugin" && pwd)"
RECIPE_NAME="$(basename "$0" .sh)"
CHUNK="${CHUNK:--1}"
SEED="${SEED:-1}"
PYTHON="${PYTHON:-python}"

if [ $# -ge 1 ] && [[ "$1" != -* ]]; then DATA="$1"; shift; fi
if [ $# -ge 1 ] && [[ "$1" != -* ]]; then SAVE="$1"; shift; fi
if [ -z "${DATA:-}" ]; then
    echo "usage: $0 DATA [SAVE] [extra fairseq-train flags] (or DATA=... SAVE=... $0 ...)" >&2
    exit 2
fi
if [ "$CHUNK" = "-1" ]; then
    SAVE="${SAVE:-runs/lra/$RECIPE_NAME}"
else
    SAVE="${SAVE:-runs/lra/$RECIPE_NAME-chunk$CHUNK}"
fi
EXTRA=("$@")

# flags shared by the six commands of the original README.lra.md
COMMON=(--seed "$SEED" --ddp-backend c10d --find-unused-parameters
        --n-dim 16 --chunk-size "$CHUNK" --activation-fn silu --sen-rep-type mp
        --criterion lra_cross_entropy --best-checkpoint-metric accuracy --maximize-best-checkpoint-metric
        --optimizer adam --adam-betas "(0.9, 0.98)" --adam-eps 1e-8 --clip-norm 1.0 --sentence-avg
        --lr-scheduler linear_decay --end-learning-rate 0.0 --warmup-init-lr 1e-07 --keep-last-epochs 1
        --log-format simple --log-interval 100 --num-workers 0)

# run_recipe FLAGS...: fairseq-train DATA with the plugin, the common flags, FLAGS, the save dir, then EXTRA
run_recipe() {
    local command=("$PYTHON" -m fairseq_cli.train "$DATA" --user-dir "$PLUGIN_DIR" "${COMMON[@]}" "$@"
                   --save-dir "$SAVE" "${EXTRA[@]}")
    if [ "${PRINT_ONLY:-0}" = "1" ]; then
        printf '%q ' "${command[@]}"
        echo
        return 0
    fi
    mkdir -p "$SAVE"
    printf '%q ' "${command[@]}" > "$SAVE/command.sh"
    echo >> "$SAVE/command.sh"
    "${command[@]}" 2>&1 | tee -a "$SAVE/train.log"
}
