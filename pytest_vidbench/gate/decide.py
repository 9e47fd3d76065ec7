"""Stage 1 of the timing family (views, fits, screen) and the final verdicts.

The procedure is described in gate/confirm.py; this module turns its evidence into
`Verdict`s with the numbers the report shows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_vidbench.gate import stats
from pytest_vidbench.gate.confirm import Candidate, Policy, ViewFit, holm_family
from pytest_vidbench.gate.history import TestHistory, change_points
from pytest_vidbench.gate.timing import (
    WITHIN_RUN_EFFECT_FACTOR,
    Evidence,
    assess,
    change_point_noise,
    fit_prior,
    heterogeneity,
    within_run_p,
)
from pytest_vidbench.gate.views import (
    CONTROL,
    PEERS,
    RAW,
    Series,
    control_series,
    peers_series,
    raw_series,
)
from pytest_vidbench.records import Verdict


@dataclass(frozen=True)
class TimingInput:
    key: str
    kind: str  # "latency" or "energy"
    value: float
    samples: tuple[float, ...]
    min_effect: float


@dataclass
class Stage1:
    candidates: list[Candidate]  # tests with a usable history, in input order
    raw: dict[str, Evidence]  # raw-time evidence, for the report and "everything slowed"
    short: dict[str, Verdict]  # tests with a history too short for the interval
    fits: dict[str, ViewFit]


def _views(t: TimingInput, histories: dict[str, TestHistory], logs: dict[str, float],
           control: float | None) -> dict[str, Series]:
    test = histories[t.key]
    views: dict[str, Series] = {}
    if t.kind == "latency":
        peers = peers_series(t.key, logs, histories)
        ctrl = control_series(t.value, control, test)
        if peers is not None:
            views[PEERS] = peers
        if ctrl is not None:
            views[CONTROL] = ctrl
    raw = raw_series(t.value, test)
    if raw is not None:
        views[RAW] = raw
    return views


def stage1(tests: Sequence[TimingInput], histories: dict[str, TestHistory],
           control: float | None, policy: Policy) -> Stage1:
    logs = {t.key: math.log(t.value) for t in tests if t.kind == "latency" and t.value > 0}
    effect = {t.key: t.min_effect for t in tests}
    views = {t.key: _views(t, histories, logs, control) for t in tests}
    fits: dict[str, ViewFit] = {}
    evidence: dict[str, dict[str, Evidence]] = {t.key: {} for t in tests}
    for view in (PEERS, CONTROL, RAW):
        series = {k: v[view] for k, v in views.items() if view in v}
        noise = change_point_noise(list(series.values()), policy.noise_floor)
        prior = fit_prior(list(series.values()), noise)
        first = {k: e for k, s in series.items()
                 if (e := assess(s, [s.current], view, prior, policy.noise_floor, noise,
                                 drift=policy.drift))}
        # τ² from the tests the screen does not suspect: a regression shared by several
        # models is heterogeneity too, and must not widen the intervals that should catch it.
        calm = [e for k, e in first.items()
                if not (e.p_worse <= policy.screen_p and e.delta >= math.log1p(effect[k] / 2))]
        tau2 = heterogeneity(calm)
        fits[view] = ViewFit(prior, noise, tau2)
        for k, s in series.items():
            e = assess(s, [s.current], view, prior, policy.noise_floor, noise, tau2,
                       drift=policy.drift)
            if e is not None:
                evidence[k][view] = e
    out = Stage1([], {}, {}, fits)
    for t in tests:
        ev = evidence[t.key]
        if RAW in ev:
            out.raw[t.key] = ev[RAW]
        normalised = [ev[v] for v in (PEERS, CONTROL) if v in ev]
        pool = normalised or ([ev[RAW]] if RAW in ev else [])
        if not pool:
            out.short[t.key] = _within_run(t, histories[t.key], policy)
            continue
        first = min(pool, key=lambda e: e.p_worse)
        out.candidates.append(Candidate(t.key, t.min_effect, views[t.key], first, len(pool),
                                        histories=histories, fits=fits))
    return out


def _within_run(t: TimingInput, test: TestHistory, policy: Policy) -> Verdict:
    """Samples of one process are not independent evidence: `suspicious` at most."""
    cur = [math.log(x) for x in t.samples if x > 0]
    base = [math.log(x) for x in test.samples if x > 0]
    n = len(test.runs)
    if not cur or not base:
        return Verdict("new", reason="the baseline keeps no samples for this test")
    p_worse, _ = within_run_p(cur, base)
    centre = sum(base) / len(base)
    delta = math.log(t.value) - centre
    threshold = math.log1p(WITHIN_RUN_EFFECT_FACTOR * t.min_effect)
    numbers = {"baseline": math.exp(centre), "change_pct": math.expm1(delta) * 100,
               "limit": math.exp(centre + threshold), "p_value": p_worse,
               "method": "within-run"}
    extra = {"history_n": n, "decided_on": RAW, "min_effect_pct": t.min_effect * 100}
    if p_worse <= policy.fdr and delta >= threshold:
        return Verdict("suspicious", reason=f"a large slowdown within the run, but a history "
                       f"of {n} run(s) cannot separate it from run-to-run noise",
                       extra=extra, **numbers)
    return Verdict("unchanged", reason=f"a history of {n} run(s): only a slowdown of "
                   f"{WITHIN_RUN_EFFECT_FACTOR * t.min_effect:.0%} within the run would be "
                   "flagged", extra=extra, **numbers)


def _numbers(c: Candidate, e: Evidence, raw: Evidence | None, alpha_one: float,
             p: float) -> dict:
    """Baseline, change and limit in raw units; the interval from the deciding view."""
    centre = raw.centre if raw is not None else e.centre
    change = raw.delta if raw is not None else e.delta
    half = stats.t_quantile(1 - alpha_one, e.df) * e.se
    limit = centre + max(math.log1p(c.min_effect), half)
    return {"baseline": math.exp(centre), "change_pct": math.expm1(change) * 100,
            "limit": math.exp(limit), "interval": (math.exp(centre - half),
                                                   math.exp(centre + half)),
            "p_value": p, "method": "prediction-interval"}


def _extra(c: Candidate, e: Evidence, raw: Evidence | None, runs: int, noise: float) -> dict:
    series = c.views[e.view]
    return {
        "method_detail": "prediction-interval", "history_n": e.n, "scale_log": e.se,
        "df": e.df, "min_effect_pct": c.min_effect * 100, "runs_compared": e.k,
        "normalized_change_pct": None if e.view == RAW else math.expm1(e.delta) * 100,
        "decided_on": e.view, "segment_start": e.segment_start,
        "change_points": change_points(series.history, noise),
        "fresh_processes": runs,
        "first_run_change_pct": math.expm1(c.first.delta) * 100,
        "raw_change_pct": None if raw is None else math.expm1(raw.delta) * 100,
    }


def decide(s1: Stage1, policy: Policy, confirmed: bool, failed: str | None) -> dict[str, Verdict]:
    """Verdicts for the candidates. `confirmed`: fresh processes were run for the suspects
    (`c.fresh`); `failed`: why a needed confirmation could not run."""
    cands = s1.candidates
    single = [min(1.0, c.first.p_worse * c.views_tried) for c in cands]
    single_ok = holm_family(single, policy.alpha)
    two_stage = confirmed or failed is not None
    final_p = [c.fresh_p if two_stage and c.fresh is not None else
               (1.0 if two_stage else single[i]) for i, c in enumerate(cands)]
    final_ok = holm_family(final_p, policy.alpha)
    better = [min(1.0, c.first.p_better * c.views_tried) for c in cands]
    better_ok = holm_family(better, policy.alpha)
    bh = stats.benjamini_hochberg(final_p, policy.fdr)
    m = max(len(cands), 1)
    out: dict[str, Verdict] = {}
    for i, c in enumerate(cands):
        e = c.fresh if two_stage and c.fresh is not None else c.first
        raw = s1.raw.get(c.key)
        runs = e.k if c.fresh is not None else 0
        status, p = "unchanged", final_p[i]
        reason = "within the noise or below the minimum effect"
        suspect = c.suspect(policy.screen_p)
        if final_ok[i] and e.effect_at_least(c.min_effect):
            status = "regression"
            reason = (f"confirmed by {runs} fresh process(es) on their own; significant after "
                      "Holm over the run and above the minimum effect" if c.fresh is not None
                      else "significant after Holm over the run and above the minimum effect")
        elif failed is not None and suspect and c.fresh is None:
            would_fail = single_ok[i] and c.first.effect_at_least(c.min_effect)
            status = "regression" if would_fail and policy.fail_closed else "suspicious"
            p = single[i]
            reason = (f"could not be confirmed in a fresh process ({failed})"
                      + ("; failing closed, as this run alone shows a regression"
                         if status == "regression" else ""))
        elif better_ok[i] and -c.first.delta >= math.log1p(c.min_effect):
            status, p, reason = "improvement", better[i], "significantly faster"
        elif bh[i] and e.effect_at_least(c.min_effect):
            status, reason = "suspicious", "evidence of a slowdown, not enough to fail the gate"
        elif suspect and c.fresh is not None and c.first.effect_at_least(c.min_effect):
            status = "unchanged"
            reason = f"the {runs} fresh process(es) did not show the slowdown again"
        elif raw is not None and c.first.view != RAW and raw.p_worse <= policy.alpha / m \
                and raw.effect_at_least(c.min_effect):
            status, p = "suspicious", raw.p_worse
            reason = ("slower in raw time, but so were the run's other models and the "
                      "control workload: a loaded machine, or a change that slows everything")
        noise = s1.fits[e.view].noise
        verdict = Verdict(status, reason=reason, extra=_extra(c, e, raw, runs, noise),
                          remeasured=c.fresh is not None,
                          **_numbers(c, e, raw, policy.alpha / m, p))
        out[c.key] = verdict
    return out
