"""The paired statistics of head against base (gate/paired.py), against scipy's values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from pytest_vidbench.gate.paired import (
    POCOCK,
    SPENDING,
    crossover,
    detectable_at,
    look_levels,
    pairs_needed,
    spent,
)

diffs_strategy = st.lists(st.floats(-1, 1, allow_nan=False), min_size=4, max_size=30)


def _orders(n: int) -> list[bool]:
    return [i % 4 in (0, 3) for i in range(n)]  # ABBA blocks: base first, head first, ...


def test_the_crossover_estimate_is_the_regression_intercept_with_a_period_term() -> None:
    rng = np.random.default_rng(3)
    orders = [True] * 5 + [False] * 8  # unbalanced on purpose
    diffs = list(0.05 + np.where(orders, 0.02, -0.02) + rng.normal(0, 0.1, 13))
    e = crossover(diffs, orders)
    assert e is not None
    fit = sps.linregress([1.0 if o else -1.0 for o in orders], diffs)
    assert e.delta == pytest.approx(fit.intercept)
    assert e.period == pytest.approx(fit.slope)
    assert e.se == pytest.approx(fit.intercept_stderr)
    assert e.df == 11
    assert e.p_worse == pytest.approx(sps.t.sf(fit.intercept / fit.intercept_stderr, 11))


def test_one_order_only_is_the_plain_paired_t() -> None:
    diffs = [0.1, 0.05, 0.2, -0.02, 0.08]
    e = crossover(diffs, [True] * 5)
    assert e is not None and e.df == 4 and e.period == 0
    assert e.p_worse == pytest.approx(sps.ttest_1samp(diffs, 0, alternative="greater").pvalue)


def test_too_few_pairs_give_no_estimate() -> None:
    assert crossover([0.1, 0.2], [True, False]) is None
    with pytest.raises(ValueError, match="one order per pair"):
        crossover([0.1, 0.2, 0.3], [True])


@settings(max_examples=200, deadline=None)
@given(diffs_strategy, st.floats(-2, 2, allow_nan=False))
def test_a_shift_of_every_pair_shifts_delta_and_nothing_else(diffs: list[float],
                                                             shift: float) -> None:
    orders = _orders(len(diffs))
    a, b = crossover(diffs, orders), crossover([d + shift for d in diffs], orders)
    assert a is not None and b is not None
    assert b.delta == pytest.approx(a.delta + shift, abs=1e-9)
    assert b.se == pytest.approx(a.se, rel=1e-6, abs=1e-9)
    assert b.period == pytest.approx(a.period, abs=1e-9)
    assert 0.0 <= a.p_worse <= 1.0 and 0.0 <= a.p_better <= 1.0


@settings(max_examples=200, deadline=None)
@given(diffs_strategy)
def test_swapping_every_order_flips_the_period_only(diffs: list[float]) -> None:
    orders = _orders(len(diffs))
    a = crossover(diffs, orders)
    b = crossover(diffs, [not o for o in orders])
    assert a is not None and b is not None
    assert b.delta == pytest.approx(a.delta, abs=1e-9)
    assert b.period == pytest.approx(-a.period, abs=1e-9)


def test_obrien_fleming_spending_matches_its_formula() -> None:
    alpha = 0.01
    z = sps.norm.ppf(1 - alpha / 2)
    for t in (0.2, 1 / 3, 0.5, 2 / 3, 0.9):
        assert spent(alpha, t) == pytest.approx(2 * sps.norm.sf(z / math.sqrt(t)))
    assert spent(alpha, 1.0) == pytest.approx(alpha)
    assert spent(alpha, 0.0) == 0.0


def test_pocock_spending_matches_its_formula_and_spends_more_early() -> None:
    alpha = 0.01
    for t in (0.2, 0.5, 0.9):
        assert spent(alpha, t, POCOCK) == pytest.approx(alpha * math.log(1 + (math.e - 1) * t))
        assert spent(alpha, t, POCOCK) > spent(alpha, t)
    assert spent(alpha, 1.0, POCOCK) == pytest.approx(alpha)


@settings(max_examples=100, deadline=None)
@given(st.floats(1e-4, 0.2), st.lists(st.integers(1, 20), min_size=1, max_size=5),
       st.sampled_from(SPENDING))
def test_the_looks_spend_exactly_alpha_and_nothing_at_the_first(alpha: float,
                                                                steps: list[int],
                                                                kind: str) -> None:
    looks = list(np.cumsum(steps) * 2)
    levels = look_levels(alpha, looks, kind)
    assert sum(levels) == pytest.approx(alpha)
    assert all(level >= 0 for level in levels)
    if len(looks) > 1:
        assert levels[0] == 0.0


def test_looks_must_increase() -> None:
    with pytest.raises(ValueError, match="increasing"):
        look_levels(0.01, [8, 8])


def test_the_pairs_needed_are_the_first_that_can_see_the_effect() -> None:
    sd, effect, alpha = 0.147, math.log1p(0.25), 0.01 / 7
    n = pairs_needed(sd, effect, alpha)
    def can_see(k: int) -> float:
        df = k - 2
        return (sps.t.ppf(1 - alpha, df) + sps.t.ppf(0.95, df)) * sd / math.sqrt(k)
    assert can_see(n) <= effect < can_see(n - 1)
    assert pairs_needed(sd, effect / 2, alpha) > n


@settings(max_examples=100, deadline=None)
@given(st.floats(0.02, 0.4), st.integers(4, 200), st.floats(1e-4, 0.05))
def test_the_detectable_effect_is_the_noncentral_t_approximation(sd: float, n: int,
                                                                  alpha: float) -> None:
    expected = (sps.t.ppf(1 - alpha, n - 2) + sps.t.ppf(0.95, n - 2)) * sd / math.sqrt(n)
    assert detectable_at(sd, n, alpha) == pytest.approx(expected, rel=1e-6)
    # pairs_needed is the first n whose detectable effect reaches the effect.
    effect = detectable_at(sd, n, alpha)
    assert pairs_needed(sd, effect * 1.0001, alpha) <= n


def test_the_minimum_effect_is_a_floor_the_estimate_must_also_pass() -> None:
    sd, n, alpha, floor = 0.13, 24, 0.001, math.log1p(0.10)
    se = sd / math.sqrt(n)
    significance = sps.t.ppf(1 - alpha, n - 2) * se
    assert significance < floor  # so the floor decides here
    assert detectable_at(sd, n, alpha, floor=floor) == pytest.approx(
        floor + sps.t.ppf(0.95, n - 2) * se, rel=1e-6)
    # An SD from fewer pairs (df 6) widens it.
    assert detectable_at(sd, n, alpha, floor=floor, df=6) == pytest.approx(
        max(sps.t.ppf(1 - alpha, 6) * se, floor) + sps.t.ppf(0.95, 6) * se, rel=1e-6)
