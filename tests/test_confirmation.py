"""The fresh-process stopping rule and the run-level noise terms it relies on."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from pytest_vidbench.config import Thresholds
from pytest_vidbench.gate.confirm import Policy
from pytest_vidbench.gate.judge import Comparison, Judge
from pytest_vidbench.gate.timing import (
    Evidence,
    heterogeneity,
    spread_quantile,
    within_process_variance,
)
from pytest_vidbench.records import RunContext
from tests.test_verdicts import CONTROL, fresh_source, histories, noisy, record


def run(currents: list[float], factors: dict[int, float], seed: int = 0):
    past = histories(noisy(np.random.default_rng(seed)))
    records = [record(i, v) for i, v in enumerate(currents)]
    context = RunContext([CONTROL] * 3, 30)
    remeasure = fresh_source(factors)
    Judge(Thresholds(), {}).judge(records, Comparison("k", past, []), context, remeasure)
    return [r.verdict for r in records], remeasure.calls


def test_a_clear_slowdown_stops_for_success_at_the_second_process():
    verdicts, calls = run([0.28] + [0.2] * 5, {0: 1.4})
    assert verdicts[0].status == "regression"
    assert len(calls) == 2  # the first look has no α; the second already decides
    assert verdicts[0].extra["fresh_processes"] == 2


def test_a_slowdown_that_does_not_come_back_stops_for_futility_at_once():
    verdicts, calls = run([0.3] + [0.2] * 5, {})
    assert verdicts[0].status == "unchanged"
    assert len(calls) == 1


@given(st.integers(1, 20), st.floats(0.05, 1.0))
def test_the_looks_never_spend_more_than_alpha(processes, final_share):
    policy = Policy(max_processes=processes, final_share=final_share)
    weights = [policy.look_weight(k) for k in range(1, processes + 1)]
    assert all(w >= 0 for w in weights)
    assert sum(weights) <= 1 + 1e-12
    assert weights[-1] >= min(final_share, 1.0) - 1e-12


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.01, 0.1), st.floats(0.0, 0.2))
def test_the_per_call_variance_ignores_slow_outlier_calls(seed, cv, share):
    rng = np.random.default_rng(seed)
    body = [np.exp(rng.normal(0, cv, size=30)) for _ in range(6)]
    spiked = [np.where(rng.uniform(size=30) < share, b * 3.0, b) for b in body]
    robust = within_process_variance(spiked)
    # The body's variance within a factor the MAD's own noise allows, however many spikes.
    assert robust <= (2.5 * cv) ** 2
    plain = float(np.median([np.var(np.log(s), ddof=1) for s in spiked]))
    if share >= 0.1:
        assert plain > robust  # the plain variance is what the spikes would have inflated


def evidence(deltas: list[float], se: float) -> list[Evidence]:
    return [Evidence("peers", d, se, math.inf, 0.5, 0.5, 10, 1, 0, 0.0) for d in deltas]


def test_tests_that_agree_within_chance_do_not_widen_the_run():
    se = 0.05
    deltas = [se * float(sps.norm.ppf((i + 0.5) / 7)) for i in range(7)]
    assert heterogeneity(evidence(deltas, se)) == 0.0
    # Spread² at 3× the expected variance: the MAD of seven tests reaches that by chance.
    assert heterogeneity(evidence([math.sqrt(3) * d for d in deltas], se)) == 0.0


def test_tests_shifted_each_by_its_own_load_widen_the_run():
    se = 0.05
    deltas = [math.log(f) for f in (0.95, 0.85, 0.75, 0.65, 0.6, 0.9, 0.7)]  # −5% … −40%
    tau2 = heterogeneity(evidence(deltas, se))
    assert tau2 > 0
    assert spread_quantile(7) > 2.0  # stricter than the fixed factor it replaced
