"""The statistics module: each function against its defining property."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_vidbench.gate import stats

pvalues = st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=60)


@given(pvalues, st.floats(0.001, 0.2))
def test_holm_rejects_a_prefix_of_the_sorted_pvalues(ps, alpha):
    thresholds = stats.holm(ps, alpha)
    rejected = sorted(p for p, t in zip(ps, thresholds, strict=True) if t is not None)
    kept = sorted(p for p, t in zip(ps, thresholds, strict=True) if t is None)
    if rejected and kept:
        assert rejected[-1] <= kept[0]
    # Holm is never stricter than Bonferroni and never looser than the unadjusted test.
    for p, t in zip(ps, thresholds, strict=True):
        if p <= alpha / len(ps):
            assert t is not None
        if t is not None:
            assert p <= alpha


@given(pvalues, st.floats(0.001, 0.2), st.data())
def test_holm_is_monotone_in_each_pvalue(ps, alpha, data):
    i = data.draw(st.integers(0, len(ps) - 1))
    before = stats.holm(ps, alpha)[i] is not None
    smaller = list(ps)
    smaller[i] = ps[i] / 2
    assert (stats.holm(smaller, alpha)[i] is not None) >= before


@given(pvalues, st.floats(0.001, 0.3))
def test_benjamini_hochberg_contains_holm_and_is_a_prefix(ps, q):
    bh = stats.benjamini_hochberg(ps, q)
    holm = stats.holm(ps, q)
    assert all(b for b, h in zip(bh, holm, strict=True) if h is not None)
    rejected = sorted(p for p, b in zip(ps, bh, strict=True) if b)
    kept = sorted(p for p, b in zip(ps, bh, strict=True) if not b)
    if rejected and kept:
        assert rejected[-1] <= kept[0]


def test_holm_controls_familywise_error_under_the_null():
    rng = np.random.default_rng(7)
    sessions = 4000
    false = sum(any(t is not None for t in stats.holm(list(rng.uniform(size=60)), 0.01))
                for _ in range(sessions))
    # FWER ≤ 1%; three binomial SDs of slack for the simulation itself.
    assert false / sessions <= 0.01 + 3 * math.sqrt(0.01 * 0.99 / sessions)


def test_variance_prior_recovers_the_common_variance():
    rng = np.random.default_rng(11)
    sigma2 = 0.04**2
    dfs = [4] * 400
    variances = [sigma2 * rng.chisquare(d) / d for d in dfs]
    s0_2, d0 = stats.fit_variance_prior(variances, dfs)
    assert math.sqrt(s0_2) == pytest.approx(0.04, rel=0.1)
    assert d0 > 30  # the variances really are one variance: a strong prior


def test_variance_prior_is_weak_when_variances_differ():
    rng = np.random.default_rng(5)
    sigmas = rng.uniform(0.01, 0.2, size=200)
    variances = [s**2 * rng.chisquare(4) / 4 for s in sigmas]
    _, d0 = stats.fit_variance_prior(variances, [4] * 200)
    assert d0 < 10


def test_variance_prior_needs_three_variances():
    assert stats.fit_variance_prior([0.01, 0.02], [2, 2]) == (0.0, 0.0)


@given(st.floats(1e-6, 1), st.integers(0, 20), st.floats(1e-6, 1), st.floats(0, 50))
def test_moderated_variance_lies_between_its_sources(s2, d, s0_2, d0):
    var, df = stats.moderated_variance(s2, d, s0_2, d0)
    if d0 == 0:
        assert (var, df) == (s2, d)
    elif d + d0 > 0:
        assert min(s2, s0_2) - 1e-12 <= var <= max(s2, s0_2) + 1e-12
        assert df == d + d0


def test_mann_whitney_greater_is_one_sided():
    low, high = [1.0, 1.1, 1.2, 1.3], [2.0, 2.1, 2.2, 2.3]
    assert stats.mann_whitney_greater(high, low) < 0.05
    assert stats.mann_whitney_greater(low, high) > 0.95
    assert stats.mann_whitney_greater([], low) == 1.0


@given(offset=st.floats(0.0, 0.3), cv=st.floats(0.01, 0.5), drift=st.floats(0.0, 0.2),
       calls=st.integers(1, 50), processes=st.integers(1, 20))
def test_a_confirmation_design_gains_from_processes_and_calls_but_never_past_the_drift(
        offset, cv, drift, calls, processes):
    from pytest_vidbench.calibrate.design import design

    here = design(offset, cv, calls, processes, drift=drift)
    assert design(offset, cv, calls, processes + 1, drift=drift).se < here.se
    assert design(offset, cv, calls + 1, processes, drift=drift).se < here.se
    # the drift is shared by every process of the session: no design gets below it
    assert here.se > drift and (drift == 0 or here.z_at_15 < math.log(1.15) / drift)
    # an offset this size is a floor for one process, however many calls it makes
    assert here.process_sd >= offset


@given(st.floats(-40, 40, allow_nan=False), st.one_of(st.floats(0.5, 1e6), st.just(math.inf)))
def test_the_t_tail_and_quantile_are_scipy_stats_own(t, df):
    from scipy import stats as sps

    dist = sps.norm if math.isinf(df) else sps.t(df)
    assert stats.t_upper_p(t, df) == float(dist.sf(t))
    p = min(max(stats.t_upper_p(t, df), 1e-300), 1 - 1e-16)
    assert stats.t_quantile(p, df) == float(dist.ppf(p))
