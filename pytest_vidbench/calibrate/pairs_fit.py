"""The noise of side-by-side pairs, fitted to real A/A runs (calibrate/pairs_sim.py uses it).

A process's log time for model m is `mu_m + U + E_m (+ period if it ran second)`, and its
control workload's is `mu_c + U + E_c (+ period)`: U is the process's speed, shared by every
model and the control; E is each model's own offset in that process (with its calls' noise).
Within an A/A pair, d_m = log(head / base) then has

    Var(d_m) = 2 (σ_U² + σ_m²),   Var(d_c) = 2 (σ_U² + σ_c²),   Cov(d_m, d_c) = 2 σ_U²,

so σ_U comes from the covariance with the control and σ_m from what is left (method of
moments). The period effect is the mean of (second − first). The tails come from the pooled
standardized d's excess kurtosis κ: a Student t with df = 4 + 6/κ has it.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from pytest_vidbench.records import RunContext
from pytest_vidbench.records.pairs import Pair

MIN_DF = 5.0  # a t below 5 degrees of freedom has no finite kurtosis to match


@dataclass(frozen=True)
class PairNoise:
    """Log-scale noise of one arm process, per component (see the module docstring)."""

    machine: float  # σ_U: the process's speed, shared by every model and the control
    models: dict[str, float]  # σ_m: each test's own offset in a process
    control: float  # σ_c
    period: float = 0.0  # log effect of running second in a pair
    df: float = math.inf  # Student t degrees of freedom of U and E (inf: normal)
    drift: float = 0.006  # per-model random walk, log per √minute (docs/noise.md)
    process_seconds: float = 20.0  # one arm process, start to answer
    failure: float = 0.0  # chance that one half fails, each attempt
    pairs: int = 0  # the pairs it was fitted to


@dataclass
class _Diffs:
    models: dict[str, list[float]] = field(default_factory=dict)
    control: list[float] = field(default_factory=list)
    signed: list[float] = field(default_factory=list)  # second − first, every model
    seconds: list[float] = field(default_factory=list)
    halves: int = 0
    failed: int = 0


def read_pairs(paths: list[Path]) -> list[list[Pair]]:
    """The analysed pairs of each side-by-side results file (warm-up pairs excluded)."""
    runs = []
    for path in paths:
        context = RunContext.from_json(json.loads(path.read_text(encoding="utf-8"))["run"])
        if context.side_by_side is not None and context.side_by_side.pairs:
            runs.append(context.side_by_side.pairs)
    return runs


def _collect(runs: list[list[Pair]]) -> _Diffs:
    out = _Diffs()
    for pairs in runs:
        keys = set.intersection(*(set(p.base.values) & set(p.head.values) for p in pairs))
        for p in pairs:
            for arm in (p.base, p.head):
                out.halves += arm.attempts
                out.failed += arm.attempts - 1 + (not arm.ok)
                out.seconds.append(arm.wall_seconds)
            sign = 1.0 if p.base_first else -1.0
            if p.base.control and p.head.control:
                out.control.append(math.log(p.head.control / p.base.control))
            for k in keys:
                d = math.log(p.head.values[k] / p.base.values[k])
                out.models.setdefault(k, []).append(d)
                out.signed.append(sign * d)
    return out


def _cov(a: list[float], b: list[float]) -> float:
    ma, mb = statistics.fmean(a), statistics.fmean(b)
    return sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True)) / (len(a) - 1)


def _df(values: list[float]) -> float:
    m, sd = statistics.fmean(values), statistics.stdev(values)
    kurtosis = statistics.fmean(((v - m) / sd) ** 4 for v in values) - 3
    return max(MIN_DF, 4 + 6 / kurtosis) if kurtosis > 0 else math.inf


def fit_pairs(runs: list[list[Pair]]) -> PairNoise:
    """The noise model of A/A pairs (every run's pairs; each model's keys as in the files)."""
    d = _collect(runs)
    if len(d.control) < 4 or not d.models:
        raise ValueError("need at least 4 A/A pairs with control times to fit the pair noise")
    n = len(d.control)
    usable = {k: v for k, v in d.models.items() if len(v) == n}
    covs = [_cov(v, d.control) for v in usable.values()]
    machine2 = max(0.0, statistics.fmean(covs) / 2)
    models = {k: math.sqrt(max(0.0, statistics.variance(v) / 2 - machine2))
              for k, v in usable.items()}
    control = math.sqrt(max(0.0, statistics.variance(d.control) / 2 - machine2))
    standardized = [x / (statistics.stdev(v) or 1) for v in usable.values() for x in v]
    return PairNoise(machine=math.sqrt(machine2), models=models, control=control,
                     period=statistics.fmean(d.signed), df=_df(standardized),
                     process_seconds=statistics.median(d.seconds) if d.seconds else 20.0,
                     failure=d.failed / d.halves if d.halves else 0.0, pairs=n)
