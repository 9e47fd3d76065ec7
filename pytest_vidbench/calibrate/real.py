"""Calibration on this machine: repeated real runs of the built-in suite, unchanged and with a
controlled slowdown in one model (see slowdown.py), through the plugin's own gate.

    python -m pytest_vidbench.calibrate.real --history 3 --unchanged 10 --injected 10 (about 65 min)

Baselines go to a temporary directory; the repository's baselines/ is never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from pytest_vidbench.calibrate.slowdown import ENV


@dataclass
class RunOutcome:
    exit_code: int
    statuses: dict[str, str]  # model -> latency verdict
    values: dict[str, float]  # model -> latency median (s)
    seconds: float
    verdicts: dict[str, dict] = field(default_factory=dict)  # model -> the verdict's numbers


@dataclass
class Series:
    runs: list[RunOutcome] = field(default_factory=list)


def run_suite(root: Path, baselines: Path, out: Path, update: bool, slowdown: str | None,
              extra: list[str]) -> RunOutcome:
    command = [sys.executable, "-m", "pytest", "benchmarks/test_vidbench.py", "--vidbench",
               "--vidbench-metrics=latency", f"--vidbench-baselines={baselines}",
               f"--vidbench-json={out}", "-p", "pytest_vidbench.calibrate.slowdown", "-q",
               "-p", "no:cacheprovider", *extra]
    if update:
        command.append("--vidbench-update-baselines")
    env = dict(os.environ)
    env.pop(ENV, None)
    if slowdown:
        env[ENV] = slowdown
    started = time.monotonic()
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                          check=False)
    records = json.loads(out.read_text())["results"] if out.exists() else []
    return RunOutcome(
        exit_code=done.returncode,
        statuses={r["model"]: (r["verdict"] or {}).get("status", "") for r in records},
        values={r["model"]: r["value"] for r in records if r["value"]},
        seconds=time.monotonic() - started,
        verdicts={r["model"]: r["verdict"] for r in records if r["verdict"]},
    )


def summarize(name: str, series: Series, target: str | None, baseline: dict[str, float]) -> str:
    runs = series.runs
    gates = sum(r.exit_code == 1 for r in runs)
    lines = [f"{name}: {len(runs)} runs, {gates} failed the gate "
             f"(median {statistics.median(r.seconds for r in runs):.0f} s per run)"]
    models = sorted({m for r in runs for m in r.statuses})
    for model in models:
        statuses = [r.statuses.get(model, "") for r in runs]
        changes = [r.values[model] / baseline[model] - 1 for r in runs
                   if model in r.values and model in baseline]
        mark = " <- injected" if model == target else ""
        lines.append(
            f"  {model:18} regression {statuses.count('regression'):2}/{len(runs)}, "
            f"suspicious {statuses.count('suspicious'):2}, "
            f"median change {statistics.median(changes):+.1%}{mark}" if changes else
            f"  {model:18} {statuses}")
    return "\n".join(lines)


def history_medians(baselines: Path) -> dict[str, float]:
    """Per model, the median latency of the baseline history (the reference for changes)."""
    medians = {}
    for path in baselines.glob("*.json"):
        for test in json.loads(path.read_text())["tests"].values():
            if test["kind"] == "latency":
                medians[test["model"]] = statistics.median(h["value"] for h in test["history"])
    return medians


def interleaved(series: list[tuple[str, str | None, int]]) -> list[tuple[str, str | None]]:
    """The runs of several series spread evenly over one schedule: the k-th of a series' n
    runs sits at (k + 0.5) / n of the way through it."""
    slots = [((k + 0.5) / count, order, name, slowdown)
             for order, (name, slowdown, count) in enumerate(series) for k in range(count)]
    return [(name, slowdown) for _, _, name, slowdown in sorted(slots)]


def _fresh_effect(runs: list[dict], model: str) -> str:
    """" (+9%)": the median change the gate's fresh processes measured (÷ the view it
    decided on), over the runs that re-measured this model; "" when none did."""
    changes = []
    for run in runs:
        extra = ((run.get("verdicts") or {}).get(model) or {}).get("extra") or {}
        change = extra.get("normalized_change_pct", extra.get("raw_change_pct"))
        if extra.get("fresh_processes") and isinstance(change, (int, float)):
            changes.append(change)
    return f" ({statistics.median(changes):+.0f}% in {len(changes)})" if changes else ""


def read_log(path: Path) -> dict[str, list[dict]]:
    """A `--log` file's runs (one JSON line each), grouped by series in their order."""
    series: dict[str, list[dict]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            run = json.loads(line)
            series.setdefault(run["series"], []).append(run)
    return series


def summarize_log(path: Path) -> str:
    """A Markdown table of a `--log` file: per series, the gate and each model's verdicts
    (regression/suspicious counts, and the change fresh processes measured where any did)."""
    series = read_log(path)
    lines = ["| series | runs | gate failed | regression / suspicious per model | wall per run "
             "(median) |", "|---|---:|---:|---|---:|"]
    for name, runs in series.items():
        models = sorted({m for r in runs for m in r["statuses"]})
        cells = [f"{m} {sum(r['statuses'].get(m) == 'regression' for r in runs)}/"
                 f"{sum(r['statuses'].get(m) == 'suspicious' for r in runs)}"
                 + _fresh_effect(runs, m) for m in models]
        wall = statistics.median(r["seconds"] for r in runs)
        lines.append(f"| {name} | {len(runs)} | {sum(r['exit_code'] == 1 for r in runs)} | "
                     f"{', '.join(cells)} | {wall:.0f} s |")
    return "\n".join(lines)


def slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in ".-" else "-" for c in name).strip("-")


def _keep(directory: Path | None, results: Path, name: str) -> None:
    if directory is not None and results.exists():
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(results, directory / name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=3)
    parser.add_argument("--unchanged", type=int, default=10)
    parser.add_argument("--injected", type=int, default=10)
    parser.add_argument("--slowdown", action="append", default=None,
                        help="MODEL:REPEATS[:FRACTION]: that share of MODEL's attention "
                             "modules run REPEATS times; sdpa:REPEATS: the attention kernel "
                             "every model shares. Repeat the option for several injected "
                             "series (default ltx-tiny:2:0.75)")
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--log", type=Path, default=None, help="append JSON lines here")
    parser.add_argument("--baselines", type=Path, default=None,
                        help="start from a copy of this baseline directory (its history)")
    parser.add_argument("--save-baselines", type=Path, default=None,
                        help="copy the baseline directory here after the history runs, "
                             "for a later --baselines DIR --history 0")
    parser.add_argument("--keep", type=Path, default=None,
                        help="copy each run's results file here (history-NN.json, "
                             "SERIES-NN.json): the history runs are traces for "
                             "`python -m pytest_vidbench.calibrate --traces`")
    parser.add_argument("--summarize", type=Path, default=None,
                        help="print the table of an earlier --log file and stop")
    args, extra = parser.parse_known_args(argv)
    if args.summarize:
        print(summarize_log(args.summarize))
        return 0
    slowdowns = args.slowdown or ["ltx-tiny:2:0.75"]
    with tempfile.TemporaryDirectory(prefix="vidbench-calibrate-") as tmp:
        baselines, out = Path(tmp) / "baselines", Path(tmp) / "results.json"
        if args.baselines:
            shutil.copytree(args.baselines, baselines)
        history = Series()
        for i in range(args.history):
            history.runs.append(run_suite(args.root, baselines, out, True, None, extra))
            _keep(args.keep, out, f"history-{i + 1:02d}.json")
        if args.save_baselines:
            shutil.copytree(baselines, args.save_baselines, dirs_exist_ok=True)
        reference = history_medians(baselines)
        report = [summarize("history (--vidbench-update-baselines)", history, None, reference)
                  ] if history.runs else []
        # Alternate the two series, so a drift of the machine's speed over the hour lands on
        # both alike instead of making one series look slower.
        plan = interleaved([("unchanged", None, args.unchanged),
                            *((f"injected {s}", s, args.injected) for s in slowdowns)])
        series: dict[str, Series] = {}
        for name, slowdown in plan:
            outcome = run_suite(args.root, baselines, out, False, slowdown, extra)
            series.setdefault(name, Series()).runs.append(outcome)
            _keep(args.keep, out, f"{slug(name)}-{len(series[name].runs):02d}.json")
            if args.log:
                with args.log.open("a") as log:
                    log.write(json.dumps({"series": name, **outcome.__dict__}) + "\n")
            print(f"{name}: exit {outcome.exit_code} {outcome.statuses}", flush=True)
        for name, slowdown in dict.fromkeys(plan):
            target = slowdown.split(":")[0] if slowdown else None
            report.append(summarize(name, series[name], target, reference))
    print("\n\n".join(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
