"""Synthetic sessions for the verdict engine, shaped like this machine's noise.

A run is one process. Each run has a machine factor shared by all its workloads, control
included (lognormal drift, and with probability `slow_probability` a process that is
`slow_factor` slower: noise.md saw one in six at +46%). Samples inside a run are lognormal
with coefficient of variation `cv`, and `outliers` of them are heavy-tailed (up to 3×).
The sessions go through the real `Judge`, so the calibration measures the shipped code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pytest_vidbench.config import Thresholds
from pytest_vidbench.gate.judge import Comparison, Judge
from pytest_vidbench.records import ResultRecord
from pytest_vidbench.store.baselines import BaselineEntry, BaselineFile, RunSummary


@dataclass(frozen=True)
class NoiseModel:
    cv: float = 0.05  # within-run coefficient of variation of one call
    outliers: float = 0.05  # share of heavy-tailed samples
    drift: float = 0.02  # run-to-run SD of the machine factor (log space)
    slow_probability: float = 1 / 6
    slow_factor: float = 1.46
    samples: int = 30  # timed calls per run: the default 10 rounds × 3 calls
    control_samples: int = 20  # 2 control calls per round


@dataclass
class Run:
    """One process: per benchmark its samples, and the control's samples."""

    samples: list[np.ndarray]
    control: np.ndarray


def simulate_run(rng: np.random.Generator, model: NoiseModel, bases: np.ndarray,
                 slowdown: np.ndarray | None = None) -> Run:
    machine = math.exp(rng.normal(0, model.drift))
    if rng.uniform() < model.slow_probability:
        machine *= model.slow_factor
    sigma = math.sqrt(math.log1p(model.cv**2))

    def draw(center: float, n: int) -> np.ndarray:
        x = center * machine * rng.lognormal(-sigma**2 / 2, sigma, size=n)
        tail = rng.uniform(size=n) < model.outliers
        return np.where(tail, x * rng.uniform(1.2, 3.0, size=n), x)

    factors = np.ones(len(bases)) if slowdown is None else slowdown
    samples = [draw(b * f, model.samples) for b, f in zip(bases, factors, strict=True)]
    return Run(samples, draw(0.02, model.control_samples))


def _record(key: int, samples: np.ndarray, control: np.ndarray) -> ResultRecord:
    value = float(np.median(samples))
    control_median = float(np.median(control))
    return ResultRecord(
        test_id=f"sim::b{key}", model=f"b{key}", variant="fp32", metric="latency",
        kind="latency", unit="s", value=value, samples=samples.tolist(),
        details={"control_samples": control.tolist(), "control_median": control_median,
                 "normalized_value": value / control_median},
    )


def peers_of(run: Run, i: int) -> float:
    """Geometric mean of the run's other benchmarks' medians (what the plugin stores)."""
    logs = [math.log(float(np.median(s))) for j, s in enumerate(run.samples) if j != i]
    return math.exp(sum(logs) / len(logs))


def baseline_from_runs(runs: list[Run]) -> BaselineFile:
    tests: dict[str, BaselineEntry] = {}
    for i in range(len(runs[0].samples)):
        history = []
        for run in runs:
            value = float(np.median(run.samples[i]))
            history.append(RunSummary(value=value, date="sim", peers=peers_of(run, i),
                                      normalized=value / float(np.median(run.control))))
        tests[f"b{i}[fp32]::latency"] = BaselineEntry(
            model=f"b{i}", variant="fp32", metric="latency", kind="latency", unit="s",
            direction="lower", history=history, samples=runs[-1].samples[i].tolist(),
            control=runs[-1].control.tolist())
    return BaselineFile(path=None, environment_key="sim", environment={},  # type: ignore[arg-type]
                        tests=tests)


@dataclass(frozen=True)
class SessionOutcome:
    regressions: set[int]
    suspicious: set[int]


def simulate_session(rng: np.random.Generator, model: NoiseModel, checks: int, history: int,
                     slowdown: dict[int, float] | None = None,
                     thresholds: Thresholds | None = None,
                     remeasure: bool = True, remeasure_runs: int = 2) -> SessionOutcome:
    """One CI run of `checks` latency tests against `history` earlier runs."""
    bases = rng.uniform(0.05, 0.5, size=checks)
    runs = [simulate_run(rng, model, bases) for _ in range(history)]
    factors = np.ones(checks)
    for index, factor in (slowdown or {}).items():
        factors[index] = factor
    current = simulate_run(rng, model, bases, factors)
    records = [_record(i, s, current.control) for i, s in enumerate(current.samples)]

    def fresh_processes(keys: list[str]) -> dict[str, list[tuple[float, float | None,
                                                                  float | None]]]:
        out: dict[str, list[tuple[float, float | None, float | None]]] = {k: [] for k in keys}
        for _ in range(remeasure_runs):
            again = simulate_run(rng, model, bases, factors)
            for key in keys:
                i = int(key[1:key.index("[")])
                value = float(np.median(again.samples[i]))
                out[key].append((value, value / float(np.median(again.control)),
                                 value / peers_of(again, i)))
        return out

    judge = Judge(thresholds or Thresholds(), {})
    judge.judge(records, Comparison("sim", baseline_from_runs(runs), []),
                fresh_processes if remeasure else None)
    status = [r.verdict.status if r.verdict else "" for r in records]
    return SessionOutcome({i for i, s in enumerate(status) if s == "regression"},
                          {i for i, s in enumerate(status) if s == "suspicious"})


def false_alarm_rate(model: NoiseModel, checks: int, history: int, sessions: int,
                     seed: int = 0, **options: object) -> float:
    """Share of unchanged sessions with at least one `regression` (the family-wise rate)."""
    rng = np.random.default_rng(seed)
    hits = sum(bool(simulate_session(rng, model, checks, history, **options).regressions)
               for _ in range(sessions))
    return hits / sessions


def power(model: NoiseModel, checks: int, history: int, factor: float, sessions: int,
          seed: int = 1, **options: object) -> float:
    """Share of sessions where one benchmark slowed by `factor` is called a regression."""
    rng = np.random.default_rng(seed)
    hits = sum(0 in simulate_session(rng, model, checks, history, {0: factor}, **options
                                     ).regressions for _ in range(sessions))
    return hits / sessions
