"""`python -m pytest_vidbench.calibrate.noise RESULTS.json…`: the noise of a machine.

Each results file is one process of the latency suite (record them with
`pytest benchmarks/ --vidbench -k latency --vidbench-report-only --vidbench-json F`, once
per process). Prints, per model, the run-to-run SD in log space of its raw time, of its
ratio to the other models of the same process, and of its ratio to the control workload;
and the SD of the process factor (the mean log time over models). The ratios' SD is the
per-model, per-process offset that more rounds inside one process cannot shrink.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path


def load(paths: list[Path]) -> list[tuple[dict[str, float], float | None]]:
    runs = []
    for path in paths:
        document = json.loads(path.read_text(encoding="utf-8"))
        logs = {r["model"]: math.log(r["value"]) for r in document["results"]
                if r["kind"] == "latency" and r["status"] == "ok" and r.get("value")}
        control = document.get("run", {}).get("control_samples") or []
        runs.append((logs, math.log(statistics.median(control)) if control else None))
    return runs


def components(runs: list[tuple[dict[str, float], float | None]]) -> dict[str, dict[str, float]]:
    models = sorted(set.intersection(*(set(r[0]) for r in runs)))
    out: dict[str, dict[str, float]] = {}
    for m in models:
        peers = [v[m] - statistics.mean(v[j] for j in models if j != m) for v, _ in runs]
        row = {"raw": statistics.stdev(v[m] for v, _ in runs), "peers": statistics.stdev(peers)}
        if all(c is not None for _, c in runs):
            row["control"] = statistics.stdev(v[m] - c for v, c in runs)  # type: ignore[operator]
        out[m] = row
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path)
    args = parser.parse_args(argv)
    runs = load(args.results)
    table = components(runs)
    print(f"{len(runs)} processes; run-to-run SD of log time (≈ relative SD)\n")
    print("| model | raw | ÷ other models | ÷ control |")
    print("|---|---|---|---|")
    for model, row in table.items():
        control = f"{row['control']:.1%}" if "control" in row else "—"
        print(f"| {model} | {row['raw']:.1%} | {row['peers']:.1%} | {control} |")
    median = statistics.median(r["peers"] for r in table.values())
    process = statistics.stdev(statistics.mean(v.values()) for v, _ in runs)
    print(f"\nmedian ÷ other models: {median:.1%}; process factor SD: {process:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
