"""Synthetic sessions for the verdict engine, shaped like this machine's noise.

A run is one process. Each run has a machine factor shared by all its workloads, control
included (lognormal drift, and with probability `slow_probability` a process that is
`slow_factor` slower), and, the largest term, its own offset for each workload,
`process_sd`: the SD of a model's ratio to its peers across processes, measured on this
machine by `python -m pytest_vidbench.calibrate.noise` (docs/noise.md). Between the
history and the session judged against it, each workload also drifts by its own
`session_drift` (calibrate/noise.py `fit_drift`: a history against the unchanged runs
recorded after it), which the session's run and its fresh processes share (the history
scenarios of scenarios.py leave it out: their runs are one merge apart). Samples inside a
run are lognormal with coefficient of variation `cv`, `outliers` of them heavy-tailed.
The sessions go through the real `Judge` and its fresh-process confirmation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pytest_vidbench.config import Thresholds
from pytest_vidbench.gate.history import PastRun, TestHistory
from pytest_vidbench.gate.judge import Comparison, Judge
from pytest_vidbench.records import FreshRun, ResultRecord, RunContext


@dataclass(frozen=True)
class NoiseModel:
    cv: float = 0.05  # within-run coefficient of variation of one call
    outliers: float = 0.05  # share of heavy-tailed samples
    outlier_max: float = 3.0  # a heavy-tailed sample is 1.2 to this many times slower
    drift: float = 0.02  # run-to-run SD of the machine factor (log space)
    slow_probability: float = 1 / 6
    slow_factor: float = 1.46
    process_sd: float = 0.07  # each workload's own offset in each process (log SD)
    session_drift: float = 0.0  # each workload's own shift since its history (log SD)
    samples: int = 30  # timed calls per run: the default 10 rounds × 3 calls
    fresh_samples: int = 6  # a fresh process: 3 rounds × 2 calls
    control_samples: int = 20  # 2 control calls per round


@dataclass
class Run:
    """One process: per benchmark its samples, and the control's samples."""

    samples: list[np.ndarray]
    control: np.ndarray


def simulate_run(rng: np.random.Generator, model: NoiseModel, bases: np.ndarray,
                 slowdown: np.ndarray | None = None, n: int | None = None) -> Run:
    machine = math.exp(rng.normal(0, model.drift))
    if rng.uniform() < model.slow_probability:
        machine *= model.slow_factor
    sigma = math.sqrt(math.log1p(model.cv**2))

    def draw(center: float, count: int) -> np.ndarray:
        own = math.exp(rng.normal(0, model.process_sd))
        x = center * machine * own * rng.lognormal(-sigma**2 / 2, sigma, size=count)
        tail = rng.uniform(size=count) < model.outliers
        return np.where(tail, x * rng.uniform(1.2, model.outlier_max, size=count), x)

    factors = np.ones(len(bases)) if slowdown is None else slowdown
    count = n or model.samples
    samples = [draw(b * f, count) for b, f in zip(bases, factors, strict=True)]
    return Run(samples, draw(0.02, model.control_samples))


def _key(i: int) -> str:
    return f"b{i}[fp32]::latency"


def run_records(run: Run) -> list[ResultRecord]:
    """The latency records of one simulated run, keyed like `_key`."""
    return [ResultRecord(test_id=f"sim::b{i}", model=f"b{i}", variant="fp32",
                         metric="latency", kind="latency", unit="s",
                         value=float(np.median(s)), samples=s.tolist())
            for i, s in enumerate(run.samples)]


def fresh_processes(rng: np.random.Generator, model: NoiseModel, bases: np.ndarray,
                    factors: np.ndarray) -> Callable[[list[str], list[str]], FreshRun]:
    """The gate's `Remeasure` for simulated runs: each call is one short fresh process."""
    def fresh_process(suspects: list[str], refs: list[str]) -> FreshRun:
        again = simulate_run(rng, model, bases, factors, n=model.fresh_samples)
        wanted = {int(k[1:k.index("[")]) for k in [*suspects, *refs]}
        return FreshRun({_key(i): float(np.median(again.samples[i])) for i in wanted},
                        float(np.median(again.control)), model.fresh_samples)

    return fresh_process


def histories_from_runs(runs: list[Run]) -> dict[str, TestHistory]:
    out: dict[str, list[PastRun]] = {}
    for r, run in enumerate(runs):
        control = float(np.median(run.control))
        for i, samples in enumerate(run.samples):
            out.setdefault(_key(i), []).append(PastRun(
                float(np.median(samples)), f"2026-01-01T00:{r // 60:02}:{r % 60:02}",
                control=control))
    return {k: TestHistory("latency", tuple(v), samples=tuple(runs[-1].samples[int(
        k[1:k.index("[")])].tolist())) for k, v in out.items()}


@dataclass(frozen=True)
class SessionOutcome:
    regressions: set[int]
    suspicious: set[int]
    fresh_processes: int = 0


def simulate_session(rng: np.random.Generator, model: NoiseModel, checks: int, history: int,
                     slowdown: dict[int, float] | None = None,
                     thresholds: Thresholds | None = None,
                     remeasure: bool = True) -> SessionOutcome:
    """One CI run of `checks` latency tests against `history` earlier runs."""
    bases = rng.uniform(0.05, 0.5, size=checks)
    runs = [simulate_run(rng, model, bases) for _ in range(history)]
    factors = np.exp(rng.normal(0, model.session_drift, size=checks)) \
        if model.session_drift > 0 else np.ones(checks)
    for index, factor in (slowdown or {}).items():
        factors[index] *= factor
    current = simulate_run(rng, model, bases, factors)
    records = run_records(current)
    context = RunContext(current.control.tolist(), model.samples)
    Judge(thresholds or Thresholds(), {}).judge(
        records, Comparison("sim", histories_from_runs(runs), []), context,
        fresh_processes(rng, model, bases, factors) if remeasure else None)
    status = [r.verdict.status if r.verdict else "" for r in records]
    return SessionOutcome({i for i, s in enumerate(status) if s == "regression"},
                          {i for i, s in enumerate(status) if s == "suspicious"},
                          len(context.fresh))


def false_alarm_rate(model: NoiseModel, checks: int, history: int, sessions: int,
                     seed: int = 0, **options: object) -> float:
    """Share of unchanged sessions with at least one `regression` (the family-wise rate)."""
    rng = np.random.default_rng(seed)
    hits = sum(bool(simulate_session(rng, model, checks, history, **options).regressions)
               for _ in range(sessions))
    return hits / sessions


def power(model: NoiseModel, checks: int, history: int, factor: float, sessions: int,
          seed: int = 1, regressed: int = 1, **options: object) -> float:
    """Share of sessions where each of `regressed` benchmarks slowed by `factor` is called a
    regression (counted per slowed benchmark)."""
    rng = np.random.default_rng(seed)
    slow = dict.fromkeys(range(regressed), factor)
    hits = sum(len(set(slow) & simulate_session(rng, model, checks, history, slow, **options
                                                ).regressions) for _ in range(sessions))
    return hits / (sessions * regressed)


@dataclass(frozen=True)
class Tally:
    rate: float  # false alarms: sessions with any regression; power: slowed tests caught
    fresh_per_session: float  # mean fresh processes a session started (the cost)


def tally(model: NoiseModel, checks: int, history: int, sessions: int, factor: float = 1.0,
          regressed: int = 0, seed: int = 0, thresholds: Thresholds | None = None) -> Tally:
    """False alarms (regressed=0) or power (regressed ≥ 1 tests slowed by `factor`), with
    the fresh processes the sessions cost, judged with `thresholds` (default: the defaults)."""
    rng = np.random.default_rng(seed)
    slow = dict.fromkeys(range(regressed), factor)
    hits = fresh = 0
    for _ in range(sessions):
        out = simulate_session(rng, model, checks, history, slow, thresholds)
        hits += len(set(slow) & out.regressions) if slow else bool(out.regressions)
        fresh += out.fresh_processes
    return Tally(hits / (sessions * max(regressed, 1)), fresh / sessions)
