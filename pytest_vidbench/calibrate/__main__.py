"""`python -m pytest_vidbench.calibrate [--sessions N]`: the synthetic calibration table.

False alarms (share of unchanged sessions with any `regression`) and power (share of
sessions in which one benchmark slowed by 15% or 25% is a `regression`), for sessions of 60
latency checks, at history lengths 1, 3 and 10 and within-run CV 2–10%. The noise shape is
this machine's (see synthetic.py). Real-machine runs: `python -m pytest_vidbench.calibrate.real`.
"""

from __future__ import annotations

import argparse
import math
import time
from concurrent.futures import ProcessPoolExecutor

from pytest_vidbench.calibrate.synthetic import NoiseModel, false_alarm_rate, power

CVS = (0.02, 0.05, 0.10)
HISTORIES = (1, 3, 10)
CHECKS = 60


def cell(args: tuple[float, int, int]) -> tuple[float, int, float, float, float]:
    cv, history, sessions = args
    model = NoiseModel(cv=cv)
    return (cv, history, false_alarm_rate(model, CHECKS, history, sessions),
            power(model, CHECKS, history, 1.15, sessions // 2),
            power(model, CHECKS, history, 1.25, sessions // 2))


def upper_bound(rate: float, n: int) -> float:
    """One-sided 95% upper bound of a rate (Wilson score; 3/n for zero events)."""
    if rate == 0:
        return 3 / n
    z = 1.645
    centre = rate + z * z / (2 * n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    return (centre + half) / (1 + z * z / n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="synthetic calibration of the verdicts")
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    started = time.monotonic()
    jobs = [(cv, n, args.sessions) for cv in CVS for n in HISTORIES]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        rows = list(pool.map(cell, jobs))
    print(f"Synthetic sessions of {CHECKS} latency checks, default settings "
          f"({NoiseModel().samples} timed calls per run); "
          f"{args.sessions} unchanged sessions and {args.sessions // 2} slowed ones per row.\n")
    print("| within-run CV | history | family-wise false alarms (95% upper bound) "
          "| power, +15% | power, +25% |")
    print("|---|---|---|---|---|")
    for cv, n, fa, p15, p25 in rows:
        print(f"| {cv:.0%} | {n} | {fa:.1%} (≤ {upper_bound(fa, args.sessions):.1%}) "
              f"| {p15:.0%} | {p25:.0%} |")
    print(f"\n({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
