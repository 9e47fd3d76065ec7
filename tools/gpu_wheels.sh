#!/usr/bin/env bash
# Wheels for the lent GPU machine (docs/gpu.md): what its image lacks, for its Python.
#   tools/gpu_wheels.sh [DIR]          (default .gpu-wheels/, ignored by git, carried)
# The machine reaches no package index. Its image already holds torch, transformers,
# accelerate, tokenizers, torchmetrics, nvidia-ml-py, scipy, pandas, filelock, OpenCV,
# matplotlib, pytest, pytest-benchmark, pytest-xdist and hypothesis; the project's other
# dependencies (and diffusers' importlib-metadata) come from here, for CPython 3.12 on x86-64 Linux.
set -euo pipefail
DIR=${1:-.gpu-wheels}
PY=${PYTHON:-python3}
mkdir -p "$DIR"
"$PY" -m pip download -q --dest "$DIR" --only-binary=:all: --no-deps \
    --python-version 3.12 --implementation cp --platform manylinux2014_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    diffusers importlib-metadata ruptures vmaf-torch
du -sh "$DIR"
ls "$DIR"
