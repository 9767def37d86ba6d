#!/usr/bin/env bash
# Download, here, the wheels that the device machines lack for the HF peer: transformers 4.57 (the last line that
# ships Mega) and the huggingface-hub / tokenizers versions it accepts (the device image has newer ones). They land
# in .whl/ (ignored by git), which benchmarks/device_check.sh installs when the device call carries it:
#
#   bash benchmarks/device_wheels.sh      # once, here (about 16 MB)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl transformers==4.57.6 huggingface-hub==0.36.2 tokenizers==0.22.2
ls -l .whl
