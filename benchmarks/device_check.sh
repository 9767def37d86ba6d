#!/usr/bin/env bash
# Everything this project checks on a GPU, as one command for the device tool (its budget is about 15 minutes of
# device time per session, machine start included, so the parts run in order of what the performance issue needs):
#
#   bash benchmarks/device_wheels.sh                                   # here, once (HF peer wheels into .whl/)
#   device run: bash benchmarks/device_check.sh $OUT    carry: [".whl"]    timeout_s: 570
#
# tests: pytest tests/gpu (the fast paths on CUDA against the float64 plain path, incremental decoding, bf16 at the
#        benchmarked shapes, full attention's memory linear in L), with the machine's versions on top of the log;
# then the parts of benchmarks/gpu_suite.sh: softmax, decode, norecompute, slices, laplace, compile.
# Writes OUT/tests.log and OUT/PART.md for each part (7 files: the device tool returns at most 8), each as it goes,
# so a run stopped at its time limit still returns the parts it finished. Other parts: device_check.sh OUT PART...
# The suite's settings (DEVICE, DTYPE, TOKENS, LENGTHS, CHUNKS, HF_MAX) pass through to every part.
set -uo pipefail
out="${1:?usage: device_check.sh OUT [PART ...]}"
shift
parts=("$@")
[[ ${#parts[@]} -gt 0 ]] || parts=(tests softmax decode norecompute slices laplace compile)
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mkdir -p "$out"
PYTHON="${PYTHON:-python3}"
if compgen -G ".whl/*.whl" > /dev/null; then
    site="$(mktemp -d)"
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
        .whl/*.whl && export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
status=0
for part in "${parts[@]}"; do
    echo "== $part ($(date -u +%H:%M:%S))"
    if [[ "$part" == tests ]]; then
        {
            nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
            "$PYTHON" -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__)"
            "$PYTHON" -c "import transformers; print('transformers', transformers.__version__)" 2>/dev/null \
                || echo "transformers: not importable (HF columns will be '-')"
            "$PYTHON" -m pytest -q -p no:cacheprovider tests/gpu
        } 2>&1 | tee "$out/tests.log"
    else
        PYTHON="$PYTHON" bash benchmarks/gpu_suite.sh "$out" "$part"
    fi
    [[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
done
exit $status
