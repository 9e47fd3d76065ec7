"""`python -m pytest_vidbench.calibrate [--sessions N] [--large N] [--traces F…]`: the table.

False alarms (share of unchanged sessions with any `regression`) and power (share of slowed
tests called a `regression`), and the fresh processes each kind of session cost, from a noise
model fitted to recorded processes (calibrate/noise.py `fit`; by default the traces in
docs/traces/) with the per-model drift fitted to recorded series (`fit_drift`, `--drift`),
and from the same model with the calmest recorded model's per-model offset.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from pytest_vidbench.calibrate.noise import (
    calmest_offset,
    documents,
    fit_documents,
    fit_drift,
    series_pairs,
)
from pytest_vidbench.calibrate.scenarios import creep, step_after_speed_up
from pytest_vidbench.calibrate.synthetic import NoiseModel, Tally, tally
from pytest_vidbench.config import Thresholds, VidbenchConfig

TRACES = "docs/traces/amd-epyc-2026-12-03/*.json"  # this machine; --traces for others
# Histories and the unchanged runs recorded after them (calibrate.real --keep), this machine
SERIES = ("docs/traces/amd-epyc-2026-12-03", "docs/traces/amd-epyc-2026-12-04")
HISTORIES = (3, 10)
CHECKS = 7  # the built-in suite's latency tests
LARGE = 60  # the session size of the false-alarm target


def cell(args: tuple[NoiseModel, int, int, int, Thresholds]
         ) -> tuple[float, int, list[Tally | None]]:
    model, history, sessions, large, t = args
    half = sessions // 2
    return model.process_sd, history, [
        tally(model, CHECKS, history, sessions, thresholds=t),
        tally(model, LARGE, history, large, seed=3, thresholds=t) if history == 10 else None,
        tally(model, CHECKS, history, half, 1.15, 1, seed=1, thresholds=t),
        tally(model, CHECKS - 1, history, half, 1.15, 3, seed=2, thresholds=t),
        tally(model, CHECKS, history, half, 1.25, 1, seed=4, thresholds=t),
    ]


def history_cell(args: tuple[NoiseModel, int, Thresholds]) -> tuple[float, float, float]:
    model, sessions, t = args
    return (model.process_sd, step_after_speed_up(model, CHECKS, sessions, thresholds=t),
            creep(model, CHECKS, sessions, thresholds=t))


def upper_bound(rate: float, n: int) -> float:
    """One-sided 95% upper bound of a rate (Wilson score; 3/n for zero events)."""
    if rate == 0:
        return min(1.0, 3 / n)
    z = 1.645
    centre = rate + z * z / (2 * n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    return min(1.0, (centre + half) / (1 + z * z / n))


BEGIN = "<!-- calibration: python -m pytest_vidbench.calibrate --readme docs/calibration.md -->"
END = "<!-- end of calibration -->"


def markers(label: str | None) -> tuple[str, str]:
    """The lines around a calibration block; `--label` names a second one."""
    if label is None:
        return BEGIN, END
    return (f"<!-- calibration {label}: python -m pytest_vidbench.calibrate --label {label} "
            "--readme docs/calibration.md -->", f"<!-- end of calibration {label} -->")


def write_block(path: Path, text: str, label: str | None = None) -> None:
    """Replace what stands between the block's markers in `path` (atomically)."""
    from pytest_vidbench.store.atomic import write_bytes_atomic

    begin, end = markers(label)
    document = path.read_text(encoding="utf-8")
    if begin not in document or end not in document:
        raise SystemExit(f"{path}: no calibration block; add the lines\n{begin}\n{end}")
    head, rest = document.split(begin, 1)
    _, tail = rest.split(end, 1)
    write_bytes_atomic(path, f"{head}{begin}\n{text}\n{end}{tail}".encode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="synthetic calibration of the verdicts")
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--large", type=int, default=None,
                        help=f"unchanged sessions of {LARGE} tests (default: --sessions / 3)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--readme", type=Path, default=None,
                        help="also replace the calibration block of this Markdown file")
    parser.add_argument("--traces", type=Path, nargs="*", default=None,
                        help=f"results files of unchanged processes to fit (default {TRACES})")
    parser.add_argument("--drift", type=Path, nargs="*", default=None,
                        help="directories of `calibrate.real --keep` series (history-*.json "
                             "and the unchanged-*.json after them) to fit the per-model drift "
                             f"(default {' '.join(SERIES)}; none: no drift)")
    parser.add_argument("--fresh-calls", type=int, default=None,
                        help="timed calls of a fresh process (default remeasure_rounds × "
                             "remeasure_calls of the default config)")
    parser.add_argument("--gate-drift", type=float, default=0.0,
                        help="the gate's thresholds.drift in the simulated sessions (default 0, "
                             "the default setting)")
    parser.add_argument("--label", default=None,
                        help="with --readme: the block marked with this label")
    args = parser.parse_args(argv)
    started = time.monotonic()
    traces = args.traces if args.traces is not None else sorted(Path().glob(TRACES))
    # Another machine's traces get no drift of this one's unless asked for.
    series = args.drift if args.drift is not None else \
        ([] if args.traces is not None else [Path(d) for d in SERIES])
    pairs = [p for p in series_pairs(series) if p[0] and p[1]]
    if series and not pairs:
        print(f"note: no history-*.json and unchanged-*.json in {', '.join(map(str, series))}: "
              "no drift", flush=True)
    drift = fit_drift(pairs)
    defaults = VidbenchConfig()
    calls = args.fresh_calls if args.fresh_calls is not None else \
        defaults.remeasure_rounds * defaults.remeasure_calls
    if calls < 1:
        parser.error("--fresh-calls must be at least 1")
    docs = documents(traces)  # each trace read once, for the fit and the calmest offset
    fitted = replace(fit_documents(docs) if docs else NoiseModel(), session_drift=drift,
                     fresh_samples=calls)
    calm = calmest_offset(docs) if docs else fitted.process_sd / 2
    models = (fitted, replace(fitted, process_sd=calm))
    n = args.sessions
    large = args.large if args.large is not None else n // 3
    gate = replace(Thresholds(), drift=args.gate_drift)
    scenario_n = max(n // 3, 1)
    jobs = [(m, h, n, large, gate) for m in models for h in HISTORIES]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        rows = list(pool.map(cell, jobs))
        scenarios = list(pool.map(history_cell, [(m, scenario_n, gate) for m in models]))
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    source = f"fitted to {len(docs)} recorded processes" if docs else "the defaults"
    say(f"Noise model ({source}): per-call spread {fitted.cv:.1%}, heavy-tailed calls "
        f"{fitted.outliers:.0%} (up to {fitted.outlier_max:.2f}×), process factor "
        f"{fitted.drift:.1%}, slow processes {fitted.slow_probability:.0%}, per-model "
        f"offset {fitted.process_sd:.1%} (median over models), per-model drift between a "
        f"history and the runs after it {fitted.session_drift:.1%}, {calls} calls per fresh "
        f"process; second row of each pair: the calmest model's offset, {calm:.1%}. The gate: "
        f"default thresholds, drift = {args.gate_drift:g}.\n")
    say(f"Synthetic sessions through the real Judge and its fresh-process confirmation: "
          f"{n} unchanged sessions of {CHECKS} latency tests ({large} of {LARGE}), "
          f"{n // 2} slowed ones per power cell. Power in % (fresh processes per session).\n")
    say(f"| per-process offset SD | history | false alarms, {CHECKS} tests (95% upper "
          f"bound) | false alarms, {LARGE} tests | +15%, one model | +15%, 3 of 6 "
          "| +25%, one model |")
    say("|---|---|---|---|---|---|---|")
    for sd, h, (fa, fa60, p15, p3, p25) in rows:
        wide = "—" if fa60 is None else \
            f"{fa60.rate:.1%} (≤ {upper_bound(fa60.rate, large):.1%})"
        cells = [f"{sd:.1%}", str(h),
                 f"{fa.rate:.1%} (≤ {upper_bound(fa.rate, n):.1%}; {fa.fresh_per_session:.1f})",
                 wide, *(f"{t.rate:.0%} ({t.fresh_per_session:.1f})" for t in (p15, p3, p25))]
        say("| " + " | ".join(cells) + " |")
    say(f"\nHistory scenarios ({scenario_n} sessions each, calibrate/scenarios.py), through the "
          "store's updates:\n")
    say("| per-process offset SD | +15% five runs after a −20% speed-up, caught "
          "| +4% per merge after a pinned anchor, flagged within 4 merges |")
    say("|---|---|---|")
    for sd, step, crept in scenarios:
        say(f"| {sd:.1%} | {step:.0%} | {crept:.0%} |")
    say(f"\n({time.monotonic() - started:.0f} s on {os.cpu_count()} cores, "
        f"--sessions {n} --large {large} --fresh-calls {calls} --gate-drift {args.gate_drift:g})")
    if args.readme:
        write_block(args.readme, "\n".join(lines), args.label)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
