"""Real side-by-side series on this machine: `--vidbench-against` runs, unchanged (A/A) and
with a head commit that slows one model, through the plugin's own paired gate.

    python -m pytest_vidbench.calibrate.pairs_real --unchanged 5 --injected 5 \\
        --slowdown ltx-tiny:2:0.33 --log LOG.jsonl --keep DIR     (5–15 min a run)
    python -m pytest_vidbench.calibrate.pairs_real --summarize LOG.jsonl

Both arms are made from this checkout's HEAD commit, in temporary worktrees: base is HEAD,
and head is HEAD itself (A/A) or a commit on top of it whose benchmarks/conftest.py slows
the model (calibrate/slowdown.py `apply`). The slowdown lives in head's code, not in an
environment variable, which would reach base's processes too. Uncommitted edits of the
checkout are not measured, so it may be edited while a series runs.
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
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pytest_vidbench.calibrate.real import interleaved, read_log, slug

CONFTEST = '''"""Head of a side-by-side series: {spec} (pytest_vidbench/calibrate/pairs_real.py)."""
from pytest_vidbench.calibrate import slowdown


def pytest_configure(config):
    slowdown.apply(config, {spec!r})


def pytest_unconfigure(config):
    slowdown.pytest_unconfigure(config)
'''


@dataclass
class PairedOutcome:
    """One model's paired latency verdict in one run."""

    status: str
    change_pct: float | None
    pairs: int
    look: int
    detectable_pct: float | None
    at_most_pct: float | None


@dataclass
class SeriesRun:
    series: str
    seed: int
    exit_code: int
    seconds: float
    head: str
    base: str
    models: dict[str, PairedOutcome] = field(default_factory=dict)


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def make_head(root: Path, base: str, where: Path, spec: str | None) -> str:
    """A detached worktree at BASE, plus a commit that slows SPEC's model; its commit."""
    _git(root, "worktree", "add", "--detach", str(where), base)
    if spec is None:
        return base
    (where / "benchmarks" / "conftest.py").write_text(CONFTEST.format(spec=spec))
    _git(where, "add", "benchmarks/conftest.py")
    _git(where, "-c", "user.name=vidbench series", "-c", "user.email=series@localhost",
         "commit", "-q", "-m", f"series head: {spec}")
    return _git(where, "rev-parse", "HEAD")


def outcomes(results: Path) -> dict[str, PairedOutcome]:
    """Per model, the paired latency verdict of a results file (models never paired: none)."""
    if not results.exists():
        return {}
    found = {}
    for record in json.loads(results.read_text())["results"]:
        verdict = record.get("verdict") or {}
        extra = verdict.get("extra") or {}
        if record["metric"] != "latency" or "look" not in extra:
            continue
        found[record["model"]] = PairedOutcome(
            status=verdict["status"], change_pct=verdict.get("change_pct"),
            pairs=int(extra.get("process_pairs", extra.get("pairs", 0))), look=extra["look"],
            detectable_pct=extra.get("detectable_pct"), at_most_pct=extra.get("at_most_pct"))
    return found


def run_one(head_tree: Path, base: str, seed: int, out: Path, extra: list[str]
            ) -> tuple[int, float]:
    command = [sys.executable, "-m", "pytest", "benchmarks/", "--vidbench",
               f"--vidbench-against={base}", f"--vidbench-pair-seed={seed}",
               f"--vidbench-json={out}", f"--vidbench-markdown={out.with_suffix('.md')}",
               "-q", "-p", "no:cacheprovider", *extra]
    env = {**os.environ, "PYTHONPATH": str(head_tree)}  # head's tree, not the editable one
    env.pop("VIDBENCH_SLOWDOWN", None)
    started = time.monotonic()
    done = subprocess.run(command, cwd=head_tree, env=env, capture_output=True, text=True,
                          check=False)
    (out.with_suffix(".log")).write_text(done.stdout[-20000:] + done.stderr[-20000:])
    return done.returncode, time.monotonic() - started


def summarize_log(path: Path) -> str:
    """A Markdown table of a `--log` file: per series, gates failed and, per model, the runs
    that called it a regression, the median change and the median pairs it took."""
    series = read_log(path)
    lines = ["| series | runs | gate failed | per model: regression / runs (median change, "
             "median pairs) | wall per run (median) |", "|---|---:|---:|---|---:|"]
    for name, runs in series.items():
        models = sorted({m for r in runs for m in r["models"]})
        cells = []
        for m in models:
            seen = [r["models"][m] for r in runs if m in r["models"]]
            changes = [o["change_pct"] for o in seen if o["change_pct"] is not None]
            change = f"{statistics.median(changes):+.0f}%, " if changes else ""
            cells.append(f"{m} {sum(o['status'] == 'regression' for o in seen)}/{len(seen)} "
                         f"({change}{statistics.median(o['pairs'] for o in seen):.0f})")
        wall = statistics.median(r["seconds"] for r in runs) / 60
        lines.append(f"| {name} | {len(runs)} | {sum(r['exit_code'] == 1 for r in runs)} | "
                     f"{', '.join(cells)} | {wall:.1f} min |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unchanged", type=int, default=5, help="A/A runs")
    parser.add_argument("--injected", type=int, default=5, help="runs of each slowdown")
    parser.add_argument("--slowdown", action="append", default=None,
                        help="MODEL:REPEATS[:FRACTION] or sdpa:REPEATS (calibrate/slowdown.py), "
                             "in head's commit; repeat for several series "
                             "(default ltx-tiny:2:0.33, measured +13–16%% ÷ control)")
    parser.add_argument("--seed", type=int, default=1, help="the first run's order seed")
    parser.add_argument("--log", type=Path, default=None, help="append JSON lines here")
    parser.add_argument("--keep", type=Path, default=None,
                        help="copy each run's results file and Markdown here")
    parser.add_argument("--summarize", type=Path, default=None,
                        help="print the table of an earlier --log file and stop")
    args, extra = parser.parse_known_args(argv)
    if args.summarize:
        print(summarize_log(args.summarize))
        return 0
    root = Path(_git(Path.cwd(), "rev-parse", "--show-toplevel"))
    base = _git(root, "rev-parse", "HEAD")
    slowdowns = args.slowdown or ["ltx-tiny:2:0.33"]
    plan = interleaved([("unchanged", None, args.unchanged),
                        *((f"injected {s}", s, args.injected) for s in slowdowns)])
    tmp = Path(tempfile.mkdtemp(prefix="vidbench-pairs-"))
    trees: dict[str | None, tuple[Path, str]] = {}
    try:
        for spec in dict.fromkeys(s for _, s in plan):
            where = tmp / slug(spec or "unchanged")
            trees[spec] = (where, make_head(root, base, where, spec))
        for i, (name, spec) in enumerate(plan):
            tree, head = trees[spec]
            # Named by the order's seed: series run in parts never overwrite each other.
            out = tmp / f"{slug(name)}-s{args.seed + i}.json"
            code, seconds = run_one(tree, base, args.seed + i, out, extra)
            run = SeriesRun(name, args.seed + i, code, seconds, head, base, outcomes(out))
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                for suffix in (".json", ".md"):
                    if out.with_suffix(suffix).exists():
                        shutil.copyfile(out.with_suffix(suffix), args.keep / out.with_suffix(
                            suffix).name)
            if args.log:
                with args.log.open("a") as log:
                    log.write(json.dumps(asdict(run)) + "\n")
            print(f"{name}: exit {code}, {seconds / 60:.1f} min, "
                  f"{ {m: o.status for m, o in run.models.items()} }", flush=True)
    finally:
        for where, _ in trees.values():
            subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force",
                            str(where)], check=False, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    if args.log:
        print(summarize_log(args.log))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
