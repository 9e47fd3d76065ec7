"""The GPU-truth check: six steps, each in its own process with its own time budget, then
OUTDIR/summary.json and OUTDIR/summary.md. A step that fails or runs out of time is
recorded and the next one runs. Usually started by tools/gpu_check.sh; see docs/gpu.md.

    python tools/gpu_check.py OUTDIR [--cpu]             # every step, then the summary
    python tools/gpu_check.py OUTDIR --step NAME [--cpu] # one step (what the parent runs)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the gpu_check_* helpers

from gpu_check_stats import render_markdown
from gpu_check_suite import Ctx, run_process

# (step, seconds on a GPU, seconds in --cpu mode, needs CUDA): 450 s in all on a GPU.
STEPS: tuple[tuple[str, int, int, bool], ...] = (
    ("gate", 150, 60, False),
    ("timing", 50, 25, False),
    ("memory", 35, 25, False),
    ("energy", 30, 0, True),
    ("noise", 150, 50, False),
    ("faults", 35, 25, False),
)
TOTAL_S = {False: 465, True: 170}


def _step_function(name: str) -> Any:
    if name in ("gate", "noise"):
        import gpu_check_suite as module
    elif name in ("timing", "memory"):
        import gpu_check_steps as module
    else:
        import gpu_check_faults as module
    return getattr(module, f"step_{name}")


def run_one(out: Path, name: str, cpu: bool, budget: float) -> int:
    """In the child: run one step and write OUTDIR/steps/NAME.json."""
    ctx = Ctx(out=out, cpu=cpu, budget=budget)
    record: dict[str, Any] = {"status": "ok"}
    try:
        record["result"] = _step_function(name)(ctx)
    except Exception:
        record.update(status="failed", error=traceback.format_exc())
    path = out / "steps" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, default=str))
    return 0


def _meta(cpu: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {"mode": "cpu" if cpu else "gpu"}
    try:
        import torch

        meta.update(torch=torch.__version__, cuda=torch.version.cuda,
                    device=torch.cuda.get_device_name(0) if torch.cuda.is_available()
                    else "cpu (torch sees no CUDA device)")
    except Exception as error:  # the summary must still be written
        meta["torch"] = f"not importable: {error}"
    return meta


def run_all(out: Path, cpu: bool, only: list[str] | None = None) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    meta = _meta(cpu)
    has_cuda = meta.get("cuda") is not None and "no CUDA" not in str(meta.get("device"))
    steps: dict[str, Any] = {}
    for name, gpu_s, cpu_s, needs_cuda in STEPS:
        if only and name not in only:
            continue
        if needs_cuda and (cpu or not has_cuda):
            steps[name] = {"status": "skipped", "budget_s": 0, "seconds": 0,
                           "error": "needs CUDA" + (" (--cpu mode)" if cpu else "")}
            continue
        left = TOTAL_S[cpu] - (time.monotonic() - began)
        budget = min(cpu_s if cpu else gpu_s, left)
        if budget < 5:
            steps[name] = {"status": "skipped", "budget_s": 0, "seconds": 0,
                           "error": "the check's total time was spent"}
            continue
        started = time.monotonic()
        cmd = [sys.executable, str(Path(__file__).resolve()), str(out), "--step", name,
               "--budget", str(budget), *(["--cpu"] if cpu else [])]
        # The child gets its budget; the parent adds a margin to collect what it wrote.
        rc = run_process(cmd, budget + 10, out / f"step_{name}.log")
        record = _read_step(out, name)
        if rc == -9:
            record.update(status="timeout", error=f"killed after {budget + 10:.0f} s; "
                          + str(record.get("error", "")))
        elif rc != 0 and record.get("status") == "ok":
            record.update(status="failed", error=f"exit code {rc}; see step_{name}.log")
        record.update(budget_s=round(budget), seconds=round(time.monotonic() - started, 1))
        steps[name] = record
        print(f"gpu_check: {name}: {record['status']} in {record['seconds']} s", flush=True)
    meta["seconds"] = round(time.monotonic() - began, 1)
    summary = {"meta": meta, "steps": steps}
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    (out / "summary.md").write_text(render_markdown(summary))
    return summary


def _read_step(out: Path, name: str) -> dict[str, Any]:
    path = out / "steps" / f"{name}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        log = out / f"step_{name}.log"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        return {"status": "failed", "error": f"no result written\n{tail}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--cpu", action="store_true", help="dry run on the CPU, tiny sizes")
    parser.add_argument("--step", help="run one step in this process (internal)")
    parser.add_argument("--only", help="comma-separated steps to run (default: all)")
    parser.add_argument("--budget", type=float, default=60.0)
    args = parser.parse_args(argv)
    out = args.outdir.resolve()
    if args.step:
        return run_one(out, args.step, args.cpu, args.budget)
    only = [s for s in (args.only or "").split(",") if s] or None
    summary = run_all(out, args.cpu, only)
    bad = [n for n, s in summary["steps"].items() if s["status"] in ("failed", "timeout")]
    print(f"gpu_check: wrote {out / 'summary.json'} and summary.md; "
          f"{'failed: ' + ', '.join(bad) if bad else 'no step failed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
