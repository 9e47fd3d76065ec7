"""The noise of side-by-side pairs, fitted to real A/A runs (calibrate/pairs_sim.py uses it).

A process's log time for model m is `mu_m + U + M + E_m (+ period if it ran second)`, and
its control workload's is `mu_c + U + E_c (+ period)`: U is the process's speed, shared by
every model and the control; M is shared by the models but not the control (their common
torch code); E is each model's own offset in that process (with its calls' noise). Within an
A/A pair, d = log(head / base) then has

    Cov(d_m, d_c) = 2 σ_U²,   Cov(d_m, d_m') = 2 (σ_U² + σ_M²),
    Var(d_m) = 2 (σ_U² + σ_M² + σ_m²),   Var(d_c) = 2 (σ_U² + σ_c²),

so σ_U comes from the covariance with the control, σ_M from the covariance between models,
and σ_m from what is left (method of moments), each d less its two order means (the cross-
over fit, so the period effect does not count as noise). The tails: each component is a
Student t whose excess kurtosis 6/(df − 4) gives the pairs' d the kurtosis they show.
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
    shared: float = 0.0  # σ_M: shared by the models but not the control (their common code)
    period: float = 0.0  # log effect of running second in a pair
    df: float = math.inf  # Student t degrees of freedom of U and E (inf: normal)
    drift: float = 0.006  # per-model random walk, log per √minute (docs/noise.md)
    process_seconds: float = 20.0  # one arm process, start to answer
    failure: float = 0.0  # chance that one half fails, each attempt
    pairs: int = 0  # the pairs it was fitted to


@dataclass
class _Diffs:
    """Per usable pair (both halves ran, control included): each model's and the control's
    log(head / base), and +1 where base ran first, −1 where head did."""

    models: dict[str, list[float]] = field(default_factory=dict)
    control: list[float] = field(default_factory=list)
    signs: list[float] = field(default_factory=list)
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


def _usable(p: Pair) -> bool:
    return p.base.ok and p.head.ok and bool(p.base.control) and bool(p.head.control)


def _collect(runs: list[list[Pair]]) -> _Diffs:
    out = _Diffs()
    ok = [p for pairs in runs for p in pairs if _usable(p)]
    keys = set.intersection(*(set(p.base.values) & set(p.head.values) for p in ok)) if ok \
        else set()
    for p in (p for pairs in runs for p in pairs):
        for arm in (p.base, p.head):
            out.halves += arm.attempts
            out.failed += arm.attempts - 1 + (not arm.ok)
            out.seconds.append(arm.wall_seconds)
    for p in ok:
        out.signs.append(1.0 if p.base_first else -1.0)
        out.control.append(math.log(p.head.control / p.base.control))  # type: ignore[operator]
        for k in sorted(keys):
            out.models.setdefault(k, []).append(math.log(p.head.values[k] / p.base.values[k]))
    return out


def _residuals(d: list[float], signs: list[float]) -> tuple[list[float], float]:
    """d less its cross-over fit `a + sign · period` (Senn's two order means); the period."""
    ab = [x for x, s in zip(d, signs, strict=True) if s > 0]
    ba = [x for x, s in zip(d, signs, strict=True) if s < 0]
    m_ab = statistics.fmean(ab) if ab else 0.0
    m_ba = statistics.fmean(ba) if ba else m_ab
    return [x - (m_ab if s > 0 else m_ba) for x, s in zip(d, signs, strict=True)], \
        (m_ab - m_ba) / 2


def _cov(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (len(a) - 2)  # two order means


def _excess_kurtosis(values: list[float]) -> float:
    sd = math.sqrt(_cov(values, values))
    return statistics.fmean((v / sd) ** 4 for v in values) - 3 if sd > 0 else 0.0


def fit_pairs(runs: list[list[Pair]]) -> PairNoise:
    """The noise model of A/A pairs (every run's pairs; each model's keys as in the files)."""
    d = _collect(runs)
    n = len(d.control)
    if n < 4 or not d.models:
        raise ValueError("need at least 4 usable A/A pairs with control times to fit the "
                         "pair noise")
    control, _ = _residuals(d.control, d.signs)
    fitted = {k: _residuals(v, d.signs) for k, v in d.models.items()}
    machine2 = max(0.0, statistics.fmean(_cov(r, control) for r, _ in fitted.values()) / 2)
    residuals = [r for r, _ in fitted.values()]
    between = [_cov(a, b) for i, a in enumerate(residuals) for b in residuals[i + 1:]]
    shared2 = max(0.0, statistics.fmean(between) / 2 - machine2) if between else 0.0
    models = {k: math.sqrt(max(0.0, _cov(r, r) / 2 - machine2 - shared2))
              for k, (r, _) in fitted.items()}
    # Each pair's d sums four independent draws (U and E of both halves); their excess
    # kurtosis κ_c gives d's as κ_c (σ_U⁴ + σ_m⁴) / (2 (σ_U² + σ_m²)²), inverted here.
    kappa_d = statistics.fmean(_excess_kurtosis(r) for r, _ in fitted.values())
    common = machine2 + shared2  # U and M both shared: one draw each per process
    scale = statistics.fmean(2 * (common + m * m) ** 2 / (machine2**2 + shared2**2 + m**4 or 1)
                             for m in models.values())
    kappa = kappa_d * scale
    return PairNoise(machine=math.sqrt(machine2), models=models, shared=math.sqrt(shared2),
                     control=math.sqrt(max(0.0, _cov(control, control) / 2 - machine2)),
                     period=statistics.fmean(b for _, b in fitted.values()),
                     df=max(MIN_DF, 4 + 6 / kappa) if kappa > 0 else math.inf,
                     process_seconds=statistics.median(d.seconds) if d.seconds else 20.0,
                     failure=d.failed / d.halves if d.halves else 0.0, pairs=n)


def view_sds(runs: list[list[Pair]]) -> dict[str, dict[str, float]]:
    """Per test and view, one pair's SD of d in the real pairs (the cross-over fit's, so the
    period is not counted), ÷ peers as the judge computes it with every test paired."""
    from pytest_vidbench.gate.pair_views import VIEWS, differences
    from pytest_vidbench.gate.paired import crossover

    pairs = [p for run in runs for p in run if _usable(p)]
    keys = sorted(set.intersection(*(set(p.base.values) & set(p.head.values) for p in pairs)))
    out: dict[str, dict[str, float]] = {}
    for key in keys:
        for view in VIEWS:
            e = crossover(*differences(pairs, key, view, keys))
            if e is not None:
                out.setdefault(key, {})[view] = e.se * math.sqrt(e.n)
    return out
