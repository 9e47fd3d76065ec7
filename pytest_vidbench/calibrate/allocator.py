"""Does the C allocator give each model its per-process offset on CPU?

    python -m pytest_vidbench.calibrate.allocator --processes 6 --out DIR   (~25 min)
    python -m pytest_vidbench.calibrate.allocator --summarize DIR

PyTorch's CPU tensors come straight from glibc's malloc, with no caching allocator between,
so where a model's activations land (reused heap chunks, or fresh pages mapped for each
large allocation) is set by the allocator and the process's history. Each setting below
runs the latency suite once per process (`pytest benchmarks/ --vidbench -k latency
--vidbench-report-only`), the settings interleaved so that drift of the machine hits them
alike, each run's results file kept in DIR/<setting>/. The summary is, per setting, the
per-model offset (calibrate/noise.py's ÷-other-models SD, median and RMS over models), the
per-call spread, the process factor and the wall time of a run.

On a GPU none of this applies: CUDA tensors come from PyTorch's caching allocator.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_vidbench.calibrate.noise import components, documents, fit_documents, runs_of

# glibc reads these at start-up (mallopt(3)); setting the threshold also fixes it, which
# turns off its dynamic growth.
# Every setting but "thp" runs torch without huge pages (the plugin's default before
# cpu_huge_pages, measure/huge_pages.py), so the allocator is all that differs.
NO_THP = {"THP_MEM_ALLOC_ENABLE": "0"}
SETTINGS: dict[str, dict[str, str]] = {
    "default": NO_THP,
    "mmap-every": {**NO_THP, "MALLOC_MMAP_THRESHOLD_": "131072"},  # ≥ 128 KiB: fresh pages
    "heap-only": {**NO_THP, "MALLOC_MMAP_THRESHOLD_": "33554432",  # glibc's largest
                  "MALLOC_TRIM_THRESHOLD_": "4294967296", "MALLOC_TOP_PAD_": "268435456"},
    # PyTorch's own (c10/core/impl/alloc_cpu.cpp): CPU blocks of ≥ 2 MiB aligned to 2 MiB
    # and madvised for transparent huge pages, read once at the first allocation.
    "thp": {"THP_MEM_ALLOC_ENABLE": "1"},
}
CLEARED = ("MALLOC_", "THP_MEM_ALLOC_ENABLE")  # what a setting may set, unset for the others


def record(out: Path, processes: int, settings: list[str], root: Path) -> None:
    empty = Path(tempfile.mkdtemp(prefix="vidbench-allocator-"))  # no baselines: report only
    for i in range(processes):
        for name in settings:
            directory = out / name
            directory.mkdir(parents=True, exist_ok=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
            started = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "benchmarks/", "--vidbench", "-k", "latency",
                 "--vidbench-report-only", f"--vidbench-baselines={empty}",
                 f"--vidbench-json={directory / f'run{i + 1}.json'}", "-q",
                 "-p", "no:cacheprovider"],
                cwd=root, env={**env, **SETTINGS[name]}, capture_output=True, check=False)
            print(f"{name} {i + 1}: exit {done.returncode}, {time.monotonic() - started:.0f} s",
                  flush=True)


def summarize(out: Path) -> str:
    lines = ["| allocator setting | processes | per-model offset (median / RMS over models) "
             "| per-call spread | process factor | wall per run (median) |",
             "|---|---:|---|---:|---:|---:|"]
    for name in SETTINGS:
        docs = documents(sorted((out / name).glob("*.json")))  # read once, whole runs only
        if len(docs) < 3:
            continue
        runs = runs_of(docs)
        table = components(runs)
        offsets = [r["peers"] for r in table.values()]
        rms = math.sqrt(statistics.fmean(o * o for o in offsets))  # √ of the mean variance
        process = statistics.stdev(statistics.fmean(v.values()) for v, _ in runs)
        walls = [d.get("run", {}).get("wall_seconds") for d in docs]
        wall = statistics.median(w for w in walls if isinstance(w, (int, float)))
        lines.append(f"| {name} | {len(docs)} | {statistics.median(offsets):.1%} / "
                     f"{rms:.1%} | {fit_documents(docs).cv:.1%} | {process:.1%} | {wall:.0f} s |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=6, help="processes per setting")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--out", type=Path, default=Path("allocator-traces"))
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--summarize", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.summarize is not None:
        print(summarize(args.summarize))
        return 0
    settings = args.settings.split(",")
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        parser.error(f"--settings: unknown {', '.join(unknown)}; choose from "
                     f"{', '.join(SETTINGS)}")
    record(args.out, args.processes, settings, args.root)
    print(summarize(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
