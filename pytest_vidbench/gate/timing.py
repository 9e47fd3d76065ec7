"""Timing evidence: one test, one view, this run (or fresh processes) against its history.

The unit of replication is the process: a run's summary is one observation, and the
history is judged from its newest stable segment (gate/history.py). The test is a
prediction interval for the mean of k new process summaries given n history summaries,
scale sqrt(s²/k + s²/n) (Hahn & Meeker 1991, Statistical Intervals, §4.3), with s²
moderated across the run's tests (Smyth 2004) and widened by this run's heterogeneity.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pytest_vidbench.gate import stats
from pytest_vidbench.gate.history import stable_start
from pytest_vidbench.gate.views import Series

CHANGE_MIN_STEP = math.log1p(0.10)  # a level change smaller than the default minimum effect
# does not re-base the history: the gate would only judge against a segment picked for being low
MIN_HISTORY = 3  # runs needed for the prediction interval; fewer: the within-run rule
WITHIN_RUN_EFFECT_FACTOR = 2.0  # within-run samples miss run-to-run noise: demand twice the effect
PRIOR_DF_CAP = 10.0  # benchmarks of one run share noise: never claim more prior df
MIN_HETEROGENEITY_TESTS = 4
HETEROGENEITY_LEVEL = 0.99  # widen only when the spread exceeds 99% of chance spreads


@dataclass(frozen=True)
class Prior:
    """Moderation prior for one view across the run's tests (Smyth 2004)."""

    s0_2: float = 0.0
    d0: float = 0.0


@dataclass(frozen=True)
class Evidence:
    view: str
    delta: float  # log effect: mean of the runs judged − mean of the stable segment
    se: float  # its standard error
    df: float
    p_worse: float  # one-sided
    p_better: float
    n: int  # history runs in the stable segment
    k: int  # process summaries judged
    segment_start: int  # index of the segment's first run in the history
    centre: float  # mean of the segment (log)

    def effect_at_least(self, min_effect: float) -> bool:
        return self.delta >= math.log1p(min_effect)


def segment(history: Sequence[float], noise: float) -> tuple[int, tuple[float, ...]]:
    start = stable_start(history, noise, CHANGE_MIN_STEP)
    return start, tuple(history[start:])


def change_point_noise(series: Sequence[Series], floor: float) -> float:
    """The run-to-run SD that change-point detection assumes: the median over tests of the
    MAD of successive differences / √2, which a level shift barely moves (the robust
    difference-based noise estimate of Fryzlewicz 2014, Ann. Statist. 42(6), §3)."""
    scales = [stats.mad_scale([b - a for a, b in zip(s.history, s.history[1:], strict=False)])
              / math.sqrt(2) for s in series if len(s.history) >= 3]
    return max(statistics.median(scales), floor) if scales else floor


def fit_prior(series: Sequence[Series], noise: float) -> Prior:
    pairs = [stats.sample_variance(segment(s.history, noise)[1]) for s in series]
    pairs = [(v, d) for v, d in pairs if d > 0]
    s0_2, d0 = stats.fit_variance_prior([v for v, _ in pairs], [d for _, d in pairs])
    return Prior(s0_2, min(d0, float(sum(d for _, d in pairs)), PRIOR_DF_CAP))


def assess(series: Series, runs: Sequence[float], view: str, prior: Prior, floor: float,
           noise: float, tau2: float = 0.0, extra_var: float = 0.0, drift: float = 0.0
           ) -> Evidence | None:
    """Evidence that `runs` (log process summaries in this view) sit above the history.

    `extra_var` is what each of these runs adds over a history run (fewer calls in a fresh
    process); `tau2` is this run's heterogeneity, a per-test offset that more processes of
    the same session do not average away (so it is not divided by k); `drift` is the SD of
    each model's own drift between its history and this session (thresholds.drift, fitted
    by `python -m pytest_vidbench.calibrate`), which neither more processes nor a longer
    history average away: one more variance component, a random effect of the session
    (the one-way random-effects model; Searle, Casella & McCulloch 1992, ch. 3).
    """
    start, seg = segment(series.history, noise)
    n, k = len(seg), len(runs)
    if n < MIN_HISTORY or k == 0:
        return None
    s2, d = stats.sample_variance(seg)
    var, df = stats.moderated_variance(s2, d, prior.s0_2, prior.d0)
    var = max(var, floor**2)
    se = math.sqrt((var + extra_var) / k + var / n + tau2 + drift**2)
    centre = sum(seg) / n
    delta = sum(runs) / k - centre
    return Evidence(view, delta, se, df, stats.t_upper_p(delta / se, df),
                    stats.t_upper_p(-delta / se, df), n, k, start, centre)


@functools.cache
def spread_quantile(tests: int, level: float = HETEROGENEITY_LEVEL) -> float:
    """The `level` quantile of MAD-scale² of `tests` standard normals: how far a robust
    spread of that many agreeing tests gets by chance (a parametric bootstrap, Efron &
    Tibshirani 1993, §6; fixed seed, so a run's verdicts do not depend on a draw)."""
    z = np.random.default_rng(0).standard_normal((20_000, tests))
    mad = 1.4826 * np.median(np.abs(z - np.median(z, axis=1, keepdims=True)), axis=1)
    return float(np.quantile(mad**2, level))


def heterogeneity(evidence: Sequence[Evidence]) -> float:
    """Extra between-test variance of this run, τ², when its tests disagree far more than
    their own errors allow (the random-effects idea of DerSimonian & Laird 1986).

    A run under another load than its baselines shifts each model by its own amount
    (−5% to −40% seen on one shared runner): without τ² every such shift would look like a
    regression of that model. The spread is robust (MAD), so a minority of real
    regressions does not inflate it; it must exceed what agreeing tests reach by chance in
    99% of runs, so a calm run is not widened by the MAD's own noise.
    """
    if len(evidence) < MIN_HETEROGENEITY_TESTS:  # too few to tell spread from chance
        return 0.0
    spread = stats.mad_scale([e.delta for e in evidence]) ** 2
    expected = statistics.median(e.se**2 for e in evidence)
    return spread - expected if spread > spread_quantile(len(evidence)) * expected else 0.0


def within_run_p(current: Sequence[float], baseline: Sequence[float]) -> tuple[float, float]:
    """(p_worse, p_better) from the samples of one process each (short histories only)."""
    return (stats.mann_whitney_greater(current, baseline),
            stats.mann_whitney_greater(baseline, current))


def within_process_variance(samples: Sequence[Sequence[float]]) -> float:
    """Variance of log per-call times within a process: the median over the run's tests of
    the squared MAD scale. Robust on purpose: a run's summary is a median, whose error is
    set by the body of the distribution, and the occasional 2-3x call (a page fault, a
    descheduled thread) would inflate a plain variance several times."""
    scales = [stats.mad_scale([math.log(x) for x in s if x > 0]) for s in samples
              if sum(1 for x in s if x > 0) >= 3]
    return statistics.median(scales) ** 2 if scales else 0.0


def median_variance(per_call: float, calls: int) -> float:
    """Variance of the median of `calls` values: π/2 · σ²/n for near-normal data
    (the asymptotic efficiency of the median, Kenney & Keeping 1962, §13.13)."""
    return math.pi / 2 * per_call / max(calls, 1)
