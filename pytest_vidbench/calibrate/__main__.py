"""`python -m pytest_vidbench.calibrate [--sessions N]`: the synthetic calibration table.

False alarms (share of unchanged sessions with any `regression`) and power (share of slowed
tests called a `regression`), with the per-model, per-process offset of docs/noise.md.
"""

from __future__ import annotations

import argparse
import math
import time
from concurrent.futures import ProcessPoolExecutor

from pytest_vidbench.calibrate.synthetic import NoiseModel, false_alarm_rate, power

PROCESS_SDS = (0.044, 0.07)  # the shared-runner traces' figure, and this machine's (docs/noise.md)
HISTORIES = (3, 10)
CHECKS = 7  # the built-in suite's latency tests


def cell(args: tuple[float, int, int]) -> tuple[float, int, float, float, float, float]:
    sd, history, sessions = args
    model = NoiseModel(process_sd=sd)
    return (sd, history, false_alarm_rate(model, CHECKS, history, sessions),
            power(model, CHECKS, history, 1.15, sessions // 2),
            power(model, CHECKS, history, 1.25, sessions // 2),
            power(model, CHECKS - 1, history, 1.20, sessions // 2, regressed=3))


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
    jobs = [(sd, n, args.sessions) for sd in PROCESS_SDS for n in HISTORIES]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        rows = list(pool.map(cell, jobs))
    print(f"Synthetic sessions of {CHECKS} latency tests through the real Judge and its "
          f"fresh-process confirmation; {args.sessions} unchanged sessions and "
          f"{args.sessions // 2} slowed ones per row.\n")
    print("| per-process offset SD | history | family-wise false alarms (95% upper bound) "
          "| power +15% | power +25% | power +20%, 3 of 6 |")
    print("|---|---|---|---|---|---|")
    for sd, n, fa, p15, p25, p3 in rows:
        print(f"| {sd:.1%} | {n} | {fa:.1%} (≤ {upper_bound(fa, args.sessions):.1%}) "
              f"| {p15:.0%} | {p25:.0%} | {p3:.0%} |")
    print(f"\n({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
