"""The timing family of one run: screen this process, confirm in fresh ones, decide.

1. **Screen.** Each test is judged in the view with the stronger evidence (÷ its peers or
   ÷ the control, gate/views.py). A loose screen (unadjusted p ≤ `screen_p` and half the
   minimum effect) names the suspects.
2. **Confirm.** Fresh processes re-measure the suspects plus a few reference models, one
   process at a time, with a stopping rule fixed in advance. After each process a suspect
   stops *for futility* when its fresh 95% upper bound is below the minimum effect (which
   can only lower the error rate), or *for success* from the second process on, when its
   fresh p already meets the interim share of α; otherwise it goes on to `max_processes`.
3. **Decide.** A regression needs the fresh processes *on their own* to be significant
   after Holm (1979) over every timing test of the run, and their effect to reach the
   minimum. The run that raised the suspicion is never averaged in: it was selected for
   being slow. The view was chosen on the first run only, so the fresh test keeps its α.
   The looks share α by a weighted Bonferroni split (`look_weight`): p at the look where
   the suspect stopped, divided by that look's weight, is a valid p-value, since
   P(reject) ≤ Σ_j P(p_j ≤ w_j α) = α whatever the stopping (the union bound behind
   group-sequential designs; Jennison & Turnbull 2000, §2.3).

Without a confirmation (disabled, or inside a child), this run alone is judged, with the
two views' p doubled (Bonferroni). A confirmation that was needed and could not run fails
closed: the suspect that this run alone calls a regression stays one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pytest_vidbench.gate import stats
from pytest_vidbench.gate.timing import Evidence, Prior, assess, median_variance
from pytest_vidbench.gate.views import CONTROL, PEERS, RAW, Series, peers_series
from pytest_vidbench.records import FreshRun, RunContext


class ConfirmationFailed(RuntimeError):
    """A fresh process could not measure; the message says why."""


# Re-measure (suspects, references) in one fresh process.
Remeasure = Callable[[list[str], list[str]], FreshRun]


@dataclass(frozen=True)
class Policy:
    alpha: float = 0.01  # family-wise error rate for `regression` (Holm)
    fdr: float = 0.05  # false discovery rate for `suspicious` (Benjamini-Hochberg)
    screen_p: float = 0.05
    max_processes: int = 6
    references: int = 3  # reference models re-measured beside the suspects
    fail_closed: bool = True
    noise_floor: float = 0.03
    drift: float = 0.0  # per-model drift between the history and this run (log SD)
    futility_z: float = 1.645  # one-sided 95% upper bound: stops a null suspect after 1-2 processes
    final_share: float = 0.75  # α share of the last look; the rest is split over looks 2..K−1

    def look_weight(self, look: int) -> float:
        """The α weight of look `look` (1-based): none at the first, whose one process says
        too little, `final_share` at the last, the rest evenly between."""
        k = self.max_processes
        if look >= k:
            return 1.0 if k <= 2 else self.final_share
        if look < 2:
            return 0.0
        return (1 - self.final_share) / (k - 2)


@dataclass
class Candidate:
    """One timing test after the screen."""

    key: str
    min_effect: float
    views: dict[str, Series]  # the views this test has
    first: Evidence  # this run, in the decision view
    views_tried: int  # 1 or 2: the Bonferroni factor of a single-stage verdict
    fresh: Evidence | None = None
    closed_early: bool = False  # stopped for futility
    look_weight: float = 1.0  # α weight of the look the fresh evidence comes from
    # What this test was judged against (its history, or its pinned anchor) and the fits of
    # that family's views: a fresh process is judged against the same.
    histories: dict = field(default_factory=dict, repr=False)
    fits: dict[str, ViewFit] = field(default_factory=dict, repr=False)

    @property
    def fresh_p(self) -> float:
        """The fresh p-value adjusted for the look it stopped at (1 when stopped futile)."""
        if self.fresh is None or self.closed_early or self.look_weight <= 0:
            return 1.0
        return min(1.0, self.fresh.p_worse / self.look_weight)

    def suspect(self, screen_p: float) -> bool:
        """The screen: unadjusted p and half the minimum effect, on this run alone."""
        return self.first.p_worse <= screen_p and \
            self.first.delta >= math.log1p(self.min_effect / 2)


@dataclass(frozen=True)
class ViewFit:
    """Per view: the moderation prior, the change-point noise and this run's τ²."""

    prior: Prior
    noise: float
    tau2: float


def _fresh_runs(c: Candidate, view: str, runs: Sequence[FreshRun], refs: Sequence[str],
                histories: dict) -> tuple[Series, list[float]] | None:
    values: list[float] = []
    history: tuple[float, ...] = ()
    for run in runs:
        value = run.values.get(c.key)
        if not value or value <= 0:
            continue
        if view == PEERS:
            logs = {k: math.log(v) for k, v in run.values.items() if v > 0}
            series = peers_series(c.key, logs, histories, refs)
            if series is None:
                return None
            history, x = series.history, series.current
        elif view == CONTROL:
            if not run.control:
                return None
            history, x = c.views[CONTROL].history, math.log(value / run.control)
        else:
            history, x = c.views[RAW].history, math.log(value)
        values.append(x)
    return (Series(values[-1], history), values) if values else None


def fresh_view(c: Candidate, refs: Sequence[str]) -> str:
    """The view a fresh process can judge: peers need references that are not suspects."""
    if c.first.view == PEERS and len(refs) < 2:
        return CONTROL if CONTROL in c.views else RAW
    return c.first.view


def fresh_evidence(c: Candidate, runs: Sequence[FreshRun], refs: Sequence[str],
                   policy: Policy, per_call_var: float, main_calls: int) -> Evidence | None:
    view = fresh_view(c, refs)
    got = _fresh_runs(c, view, runs, refs, c.histories)
    if got is None:
        return None
    series, values = got
    calls = min((r.calls for r in runs if c.key in r.values), default=main_calls) or main_calls
    extra = max(median_variance(per_call_var, calls) - median_variance(per_call_var, main_calls),
                0.0)
    fit = c.fits[view]
    return assess(series, values, view, fit.prior, policy.noise_floor, fit.noise, fit.tau2,
                  extra, policy.drift)


def futile(e: Evidence, min_effect: float, z: float) -> bool:
    return e.delta + z * e.se < math.log1p(min_effect)


def confirm(candidates: Sequence[Candidate], refs: list[str], remeasure: Remeasure,
            policy: Policy, context: RunContext, per_call_var: float, family: int) -> None:
    """Run fresh processes for the suspects until each is decided; fills `c.fresh`.
    `family`: the run's timing tests, whose Holm threshold an early success must meet."""
    open_ = list(candidates)
    bar = policy.alpha / max(family, 1)  # the strictest Holm threshold of the run
    for look in range(1, policy.max_processes + 1):
        try:
            run = remeasure(sorted({c.key for c in open_}), refs)
        except ConfirmationFailed as error:
            context.confirmation_error = str(error)
            return
        context.fresh.append(run)
        weight = policy.look_weight(look)
        still = []
        for c in open_:
            c.fresh = fresh_evidence(c, [r for r in context.fresh if c.key in r.values], refs,
                                     policy, per_call_var, context.calls)
            c.look_weight = weight
            if c.fresh is None or look == policy.max_processes:
                still.append(c)
            elif futile(c.fresh, c.min_effect, policy.futility_z):
                c.closed_early = True
            elif not (weight > 0 and c.fresh.p_worse <= weight * bar
                      and c.fresh.effect_at_least(c.min_effect)):
                still.append(c)
        open_ = still
        if not open_:
            return


def holm_family(pvalues: Sequence[float], alpha: float) -> list[bool]:
    return [t is not None for t in stats.holm(list(pvalues), alpha)]
