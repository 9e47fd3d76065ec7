"""GPU-check steps that run the benchmark suite through pytest, as a user does.

Step 1 (gate): two baseline runs and a judged third in fresh processes. Step 5 (noise):
fresh processes of the latency suite, traced per sample, split into variance components.
No torch here: the processes under test import it, this one only reads their results.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from gpu_check_stats import components_json, trace_line, variance_components

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Ctx:
    """One step's run: where it writes, which mode, and its time budget."""

    out: Path
    cpu: bool
    budget: float
    started: float = field(default_factory=time.monotonic)

    @property
    def device(self) -> str:
        return "cpu" if self.cpu else "cuda"

    def remaining(self) -> float:
        return self.budget - (time.monotonic() - self.started)

    def workdir(self, name: str) -> Path:
        path = self.out / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def plugin_installed() -> bool:
    return any(e.name == "vidbench" for e in metadata.entry_points(group="pytest11"))


def run_process(cmd: list[str], timeout: float, log: Path) -> int:
    """Run a child in its own process group, output to `log`; -9 when it ran out of time."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    with log.open("w") as handle:
        child = subprocess.Popen(cmd, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
                                 env=env, start_new_session=True)
        try:
            return child.wait(timeout=max(timeout, 1.0))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)  # pytest's own children go too
            child.wait()
            return -9


def suite_cmd(ctx: Ctx, results: Path, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", "benchmarks/", "--vidbench",
           "--vidbench-device", ctx.device, "--vidbench-json", str(results),
           "-q", "-p", "no:cacheprovider"]
    if not plugin_installed():  # a checkout on PYTHONPATH: load the plugin by name
        cmd[3:3] = ["-p", "pytest_vidbench.plugin"]
    if ctx.cpu:  # tiny: one model, few calls, so the dry run is quick
        cmd += ["--vidbench-models", "wan-tiny", "--vidbench-rounds", "2",
                "--vidbench-calls-per-round", "1"]
    return [*cmd, *extra]


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _run_summary(results: dict[str, Any] | None, rc: int, seconds: float) -> dict[str, Any]:
    if results is None:
        return {"rc": rc, "seconds": round(seconds, 1), "results": "missing"}
    run = results.get("run", {})
    wall, timed = run.get("wall_seconds"), run.get("timed_seconds")
    verdicts = Counter((r.get("verdict") or {}).get("status", "none")
                       for r in results.get("results", []))
    return {"rc": rc, "seconds": round(seconds, 1), "wall_s": wall, "timed_s": timed,
            "wall_over_timed": wall / timed if wall and timed else None,
            "verdicts": dict(sorted(verdicts.items()))}


def step_gate(ctx: Ctx) -> dict[str, Any]:
    """Two runs that write baselines to a scratch directory, then one judged against them."""
    work = ctx.workdir("gate")
    baselines = work / "baselines"
    runs, judged = [], []
    for index in range(3):
        results = work / f"run{index + 1}.json"
        extra = ["--vidbench-baselines", str(baselines)]
        if index < 2:
            extra.append("--vidbench-update-baselines")
        began = time.monotonic()
        # Leave the judged run the time it may need to re-measure a suspect.
        share = ctx.remaining() / (3 - index)
        rc = run_process(suite_cmd(ctx, results, *extra), share, work / f"run{index + 1}.log")
        document = _read(results)
        runs.append({"run": index + 1, "updates_baselines": index < 2,
                     **_run_summary(document, rc, time.monotonic() - began)})
        if index == 2 and document is not None:
            judged = [{"test": r["test_id"].split("[")[-1].rstrip("]"),
                       "verdict": (r.get("verdict") or {}).get("status"),
                       "change_pct": (r.get("verdict") or {}).get("change_pct"),
                       "remeasured": (r.get("verdict") or {}).get("remeasured")}
                      for r in document.get("results", [])]
    ok = all(r["rc"] == 0 for r in runs)
    return {"ok": ok, "runs": runs, "judged": judged}


def step_noise(ctx: Ctx) -> dict[str, Any]:
    """Fresh processes of the latency suite until 8 have run (3 in --cpu mode) or the budget
    ends; the trace is one JSON line per process."""
    work = ctx.workdir("noise")
    trace = work / "trace.jsonl"
    trace.write_text("")
    target = 3 if ctx.cpu else 8
    lines, failures, durations = [], [], []
    for process in range(target):
        mean = sum(durations) / len(durations) if durations else 0.0
        if ctx.remaining() < max(1.3 * mean, 5.0):
            failures.append(f"budget: stopped before process {process}")
            break
        began = time.monotonic()
        results = work / f"p{process}.json"
        rc = run_process(suite_cmd(ctx, results, "--vidbench-metrics", "latency",
                                   "--vidbench-baselines", str(work / "none")),
                         ctx.remaining() - 2, work / f"p{process}.log")
        durations.append(time.monotonic() - began)
        document = _read(results)
        if rc != 0 or document is None:
            failures.append(f"process {process}: rc {rc}, results "
                            f"{'read' if document else 'missing'}")
            continue
        line = trace_line(document, process)
        lines.append(line)
        with trace.open("a") as handle:
            handle.write(json.dumps(line) + "\n")
    result: dict[str, Any] = {"processes": len(lines), "target": target, "trace": str(trace),
                              "seconds_per_process": durations, "failures": failures}
    try:
        result["components"] = components_json(variance_components(lines))
    except ValueError as error:
        result["components_error"] = str(error)
    return result
