#!/usr/bin/env bash
# The GPU-truth check (docs/gpu.md): tools/gpu_check.sh OUTDIR [--cpu]
# On a fresh machine, installs what is missing from carried wheels first:
#   tools/gpu_wheels.sh && VIDBENCH_WHEELS=.gpu-wheels tools/gpu_check.sh out/
# Writes OUTDIR/summary.json and OUTDIR/summary.md; a failed step is recorded, not fatal.
set -u
if [ $# -lt 1 ]; then
    echo "usage: $0 OUTDIR [--cpu]" >&2
    exit 2
fi
OUT=$1
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$ROOT" || exit 2

if [ -n "${VIDBENCH_WHEELS:-}" ]; then
    # Requirements already satisfied are left alone; only the missing come from the wheels.
    deps=$("$PY" -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))')
    # shellcheck disable=SC2086
    echo "$deps" | tr '\n' '\0' | xargs -0 "$PY" -m pip install -q --no-index \
        --find-links "$VIDBENCH_WHEELS" >"$OUT/install.log" 2>&1 \
        || echo "gpu_check: some dependencies did not install (see $OUT/install.log)"
    if ! "$PY" -c 'import pytest_vidbench' 2>/dev/null; then
        "$PY" -m pip install -q --no-index --find-links "$VIDBENCH_WHEELS" --no-deps \
            --no-build-isolation -e . >>"$OUT/install.log" 2>&1 \
            || echo "gpu_check: the project is not installed; running it from PYTHONPATH"
    fi
fi

# 480 s in all: the steps' budgets add up to 465 s, this margin covers Python's start.
timeout -k 5 480 "$PY" tools/gpu_check.py "$OUT" "$@"
rc=$?
[ -f "$OUT/summary.md" ] && cat "$OUT/summary.md"
exit $rc
