"""Where a default run's time goes: the suite N times, each phase's median (docs/run-cost.md).

    python tools/run_cost.py --runs 3 --keep docs/traces/run-cost-DATE/LABEL
    python tools/run_cost.py --summarize docs/traces/run-cost-DATE/LABEL

Each run is `pytest benchmarks/ --vidbench` in its own process (extra pytest arguments after
`--`), timed from outside; its results file's run.cost (records/ `RunCost`) splits the
session's time. `startup` is what the process spends before the plugin's session starts
(interpreter, pytest, plugins); `pytest and the rest` is the session's time outside every
phase (collection, the test protocol, writing the reports).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("imports", "build", "warmup", "untimed", "quality", "judge", "store", "report")


def run_once(path: Path, extra: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "benchmarks/", "--vidbench", "-q",
                    "-p", "no:cacheprovider", f"--vidbench-json={path}", *extra],
                   cwd=ROOT, check=False, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def rows_of(document: dict, process_wall: float) -> dict[str, float]:
    run = document["run"]
    cost = run.get("cost") or {}
    wall, timed = float(run["wall_seconds"]), float(run["timed_seconds"])
    out = {"startup": process_wall - wall}
    out.update({p: float(cost.get(p, 0.0)) for p in PHASES[:4]})
    out["timed generation"] = timed
    out["control workload"] = float(cost.get("control", 0.0))
    out["between timed calls"] = float(cost.get("rounds", 0.0)) - timed - out["control workload"]
    out.update({p: float(cost.get(p, 0.0)) for p in PHASES[4:]})
    out["pytest and the rest"] = process_wall - sum(out.values())
    out["process wall"] = process_wall
    out["session wall / timed"] = wall / timed
    out["process wall / timed"] = process_wall / timed
    return out


def table(runs: list[dict[str, float]]) -> str:
    wall = statistics.median(r["process wall"] for r in runs)
    lines = ["| phase | median s | of the process's wall | runs |", "|---|---|---|---|"]
    for name in runs[0]:
        values = [r[name] for r in runs]
        median = statistics.median(values)
        digits = 2 if name.endswith("/ timed") else 1
        share = "" if digits == 2 or name == "process wall" else f"{100 * median / wall:.0f}%"
        each = " ".join(f"{v:.{digits}f}" for v in values)
        lines.append(f"| {name} | {median:.{digits}f} | {share} | {each} |")
    return "\n".join(lines)


def summarize(directory: Path) -> str:
    walls = [json.loads(line) for line in (directory / "walls.jsonl").read_text().splitlines()]
    runs = [rows_of(json.loads((directory / w["file"]).read_text()), w["process_wall"])
            for w in walls]
    return table(runs)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="directory for each run's results file")
    parser.add_argument("--summarize", type=Path, help="only tabulate a --keep directory")
    args, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    if args.summarize:
        print(table_or_error(args.summarize))
        return 0
    if args.keep is None or args.runs < 1:
        parser.error("give --keep DIR and --runs ≥ 1, or --summarize DIR")
    args.keep.mkdir(parents=True, exist_ok=True)
    walls = args.keep / "walls.jsonl"
    done = len(walls.read_text().splitlines()) if walls.exists() else 0
    for i in range(done, done + args.runs):  # a later call adds to the same directory
        name = f"run-{i + 1:02d}.json"
        wall = run_once(args.keep / name, extra)
        with walls.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"file": name, "process_wall": round(wall, 3)}) + "\n")
        print(f"{name}: {wall:.1f} s", file=sys.stderr, flush=True)
    print(summarize(args.keep))
    return 0


def table_or_error(directory: Path) -> str:
    try:
        return summarize(directory)
    except (OSError, ValueError, KeyError) as error:
        sys.exit(f"run_cost: {directory}: {error}; give a directory that --keep wrote")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
