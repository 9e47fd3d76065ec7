"""Verdict rules, one policy per kind of measure (pure: numbers in, `Verdict`s out).

- Latency and energy are statistical: a prediction interval for this run from the run-level
  history, in log space, with variances moderated across the run's tests; Holm for
  `regression`, Benjamini-Hochberg for `suspicious`; a minimum practical effect on top; and
  (latency) the raw and a normalised time must both show it.
- Memory is deterministic: relative and absolute tolerances, no variance test, so a
  zero-variance history still alerts.
- Quality is paired by (prompt, seed) against the baseline, direction-aware.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_vidbench.gate import stats
from pytest_vidbench.records import Verdict

if TYPE_CHECKING:
    from pytest_vidbench.quality.registry import QualityMetric

MIN_HISTORY = 3  # runs needed for the prediction interval; fewer: the within-run rule
WITHIN_RUN_EFFECT_FACTOR = 2.0  # within-run samples miss run-to-run noise: demand twice the effect
PRIOR_DF_CAP = 10.0  # benchmarks of one run share noise (residuals correlate ~0.7): cap d0


@dataclass(frozen=True)
class Series:
    """One measure of one test, in log space."""

    current: float  # log of this run's summary
    history: tuple[float, ...]  # log summaries of earlier runs, oldest first
    current_samples: tuple[float, ...] = ()  # log samples of this run
    baseline_samples: tuple[float, ...] = ()  # log samples of the newest baseline run
    fresh: tuple[float, ...] = ()  # log summaries of fresh-process re-measurements

    @property
    def runs(self) -> tuple[float, ...]:
        """This run's summary, then the re-measurements'."""
        return (self.current, *self.fresh)


@dataclass(frozen=True)
class TimingCheck:
    key: str
    raw: Series
    normalized: Series | None  # latency ÷ control workload; None for energy
    min_effect: float  # fraction, e.g. 0.10
    noisy_run: bool = False  # the control workload says this process ran unusually
    peers: bool = False  # `normalized` is relative to the run's other models, not the control
    control: Series | None = None  # with `peers`: latency ÷ control, the second normaliser


@dataclass(frozen=True)
class Prior:
    """Moderation prior for one measure across the run's tests (Smyth 2004)."""

    s0_2: float = 0.0
    d0: float = 0.0


@dataclass(frozen=True)
class Evidence:
    key: str
    method: str  # "prediction-interval", "within-run" or "none"
    delta_raw: float  # log(current / baseline centre), over this run (and its re-run)
    delta_norm: float | None
    p_worse: float
    p_better: float
    p_worse_raw: float  # the raw test alone
    history_n: int
    center: float  # log baseline centre (raw)
    scale: float  # log-space SD used for the raw interval
    df: float
    min_effect: float
    runs: int = 1  # 1 + the fresh-process re-measurements
    decided_on: str = "raw"  # "raw", "normalized", "peers", or "raw+" one of those/"control"
    fresh_effect: float | None = None  # the re-measurements' own mean slowdown (log), if any
    delta_norm_better: float | None = None  # when the two directions used other normalisers

    @property
    def strong(self) -> bool:
        return self.method == "prediction-interval"

    def effect_threshold(self) -> float:
        factor = 1.0 if self.strong else WITHIN_RUN_EFFECT_FACTOR
        return math.log1p(factor * self.min_effect)

    @property
    def confirmed(self) -> bool:
        """A fresh process must show the slowdown too, not only pull the two-run mean up."""
        return self.fresh_effect is None or \
            self.fresh_effect >= math.log1p(self.min_effect / 2)

    @property
    def worse_effect(self) -> float:
        """The smaller of the raw and normalised slowdowns: both must be large."""
        return self.delta_raw if self.delta_norm is None else min(self.delta_raw, self.delta_norm)

    @property
    def better_effect(self) -> float:
        norm = self.delta_norm if self.delta_norm_better is None else self.delta_norm_better
        return self.delta_raw if norm is None else max(self.delta_raw, norm)


def _series_p(series: Series, prior: Prior, floor: float) -> tuple[float, float, float, float]:
    """(p_worse, p_better, scale, df): prediction interval for the mean of this run's k
    summaries given n history runs, scale s·sqrt(1/k + 1/n) (Hahn & Meeker 1991, §4.3)."""
    s2, d = stats.sample_variance(series.history)
    var, df = stats.moderated_variance(s2, d, prior.s0_2, prior.d0)
    scale = max(math.sqrt(var), floor)
    runs = series.runs
    n = len(series.history)
    t = (sum(runs) / len(runs) - sum(series.history) / n) / (
        scale * math.sqrt(1 / len(runs) + 1 / n))
    return stats.t_upper_p(t, df), stats.t_upper_p(-t, df), scale, df


def fit_priors(checks: Sequence[TimingCheck]) -> tuple[Prior, Prior, Prior]:
    def prior(series: list[Series]) -> Prior:
        pairs = [stats.sample_variance(s.history) for s in series if len(s.history) >= 2]
        s0_2, d0 = stats.fit_variance_prior([v for v, _ in pairs], [d for _, d in pairs])
        # Never claim more prior df than the pool holds, nor more than its benchmarks'
        # correlated noise supports.
        return Prior(s0_2, min(d0, float(sum(d for _, d in pairs)), PRIOR_DF_CAP))

    raw = prior([c.raw for c in checks])
    norm = prior([c.normalized for c in checks if c.normalized is not None])
    control = prior([c.control for c in checks if c.control is not None])
    return raw, norm, control


def _delta(series: Series) -> float:
    runs = series.runs
    return sum(runs) / len(runs) - sum(series.history) / len(series.history)


def _fresh_effect(raw: Series, norm: Series | None) -> float | None:
    def effect(series: Series) -> float:
        return sum(series.fresh) / len(series.fresh) - sum(series.history) / len(series.history)

    if not raw.fresh:
        return None
    return effect(raw) if norm is None or not norm.fresh else min(effect(raw), effect(norm))


def _either_normaliser(peers: Series, control: Series, priors: tuple[Prior, Prior, Prior],
                       floor: float) -> tuple[tuple[float, Series, str], tuple[float, Series]]:
    """((p_worse, series, name), (p_better, series)) over the two normalisers.

    The run's other models catch a change in one model; the control workload catches a change
    every model shares. Either may carry the evidence, so its p is doubled (Bonferroni).
    """
    p_peer_w, p_peer_b, _, _ = _series_p(peers, priors[1], floor)
    p_ctrl_w, p_ctrl_b, _, _ = _series_p(control, priors[2], floor)
    worse = (min(1.0, 2 * p_peer_w), peers, "peers") if p_peer_w <= p_ctrl_w else \
        (min(1.0, 2 * p_ctrl_w), control, "control")
    better = (min(1.0, 2 * p_peer_b), peers) if p_peer_b <= p_ctrl_b else \
        (min(1.0, 2 * p_ctrl_b), control)
    return worse, better


def assess(check: TimingCheck, priors: tuple[Prior, Prior, Prior], floor: float) -> Evidence:
    raw, norm = check.raw, check.normalized
    n = len(raw.history)
    if n == 0:
        return Evidence(check.key, "none", 0.0, None, 1.0, 1.0, 1.0, 0, raw.current, 0.0, 0.0,
                        check.min_effect)
    center = sum(raw.history) / n
    if norm is not None and not norm.history:
        norm = None
    delta_norm = None if norm is None else _delta(norm)
    delta_norm_better = None
    name = "peers" if check.peers else "normalized"
    control = check.control if check.control is not None and check.control.history else None
    if n >= MIN_HISTORY:
        p_raw_w, p_raw_b, scale, df = _series_p(raw, priors[0], floor)
        decided_on = "raw"
        if norm is None:
            p_worse, p_better = p_raw_w, p_raw_b
        elif control is not None and not check.noisy_run:
            (p_norm_w, norm, name), (p_norm_b, better) = _either_normaliser(
                norm, control, priors, floor)
            delta_norm, delta_norm_better = _delta(norm), _delta(better)
            p_worse = stats.intersection_union([p_raw_w, p_norm_w])  # (Berger 1982)
            p_better = stats.intersection_union([p_raw_b, p_norm_b])
            decided_on = f"raw+{name}"
        else:
            p_norm_w, p_norm_b, _, _ = _series_p(norm, priors[1], floor)
            if check.noisy_run:  # raw time is distorted: trust the normalised test alone
                p_worse, p_better = p_norm_w, p_norm_b
                decided_on = name
            else:  # both must show it (Berger 1982)
                p_worse = stats.intersection_union([p_raw_w, p_norm_w])
                p_better = stats.intersection_union([p_raw_b, p_norm_b])
                decided_on = f"raw+{name}"
        method = "prediction-interval"
    else:
        # Samples of one process are not independent; only a doubled effect and a
        # `suspicious` verdict are defensible. Normalised samples when there are any.
        s = norm or raw
        p_worse = stats.mann_whitney_greater(s.current_samples, s.baseline_samples)
        p_better = stats.mann_whitney_greater(s.baseline_samples, s.current_samples)
        p_raw_w = 1.0
        scale, df, method = 0.0, 0.0, "within-run"
        decided_on = "normalized" if norm is not None else "raw"
    return Evidence(
        key=check.key, method=method, delta_raw=_delta(raw), delta_norm=delta_norm,
        p_worse=p_worse, p_better=p_better, p_worse_raw=p_raw_w, history_n=n, center=center,
        scale=scale, df=df,
        min_effect=check.min_effect, runs=len(raw.runs), decided_on=decided_on,
        fresh_effect=_fresh_effect(raw, norm),
        delta_norm_better=delta_norm_better,
    )


def _numbers(e: Evidence, alpha_one: float, p: float) -> dict:
    """The figures shown beside a verdict: baseline, change, limit, interval, p."""
    limit_log = e.center + e.effect_threshold()
    interval = None
    if e.strong:
        half = stats.t_quantile(1 - alpha_one, e.df) * e.scale * math.sqrt(
            1 / e.runs + 1 / e.history_n)
        limit_log = max(limit_log, e.center + half)
        interval = (math.exp(e.center - half), math.exp(e.center + half))
    return {
        "baseline": math.exp(e.center), "change_pct": math.expm1(e.delta_raw) * 100,
        "limit": math.exp(limit_log), "interval": interval, "p_value": p,
    }


def decide(evidence: Sequence[Evidence], alpha: float, fdr: float) -> list[Verdict]:
    """Verdicts for one run's family of timing checks.

    Holm over the whole family for `regression` and `improvement` (family-wise error);
    Benjamini-Hochberg for `suspicious` (false discovery rate).
    """
    family = [i for i, e in enumerate(evidence) if e.method != "none"]
    m = max(len(family), 1)
    holm_worse = stats.holm([evidence[i].p_worse for i in family], alpha)
    holm_better = stats.holm([evidence[i].p_better for i in family], alpha)
    bh_worse = stats.benjamini_hochberg([evidence[i].p_worse for i in family], fdr)
    position = {index: j for j, index in enumerate(family)}
    verdicts: list[Verdict] = []
    for i, e in enumerate(evidence):
        if e.method == "none":
            verdicts.append(Verdict("new", reason="no baseline history for this test yet"))
            continue
        j = position[i]
        extra = {
            "method_detail": e.method, "history_n": e.history_n, "scale_log": e.scale,
            "df": e.df, "min_effect_pct": e.min_effect * 100, "runs_compared": e.runs,
            "normalized_change_pct": None if e.delta_norm is None else math.expm1(
                e.delta_norm) * 100,
            "decided_on": e.decided_on,
        }
        big = e.worse_effect >= e.effect_threshold()
        if e.strong and holm_worse[j] is not None and big and e.confirmed:
            status, p = "regression", e.p_worse
            reason = "significant after Holm over the run and above the minimum effect"
        elif e.strong and holm_better[j] is not None and -e.better_effect >= e.effect_threshold():
            status, p, reason = "improvement", e.p_better, "significantly faster"
        elif (bh_worse[j] or holm_worse[j] is not None) and big:
            status, p = "suspicious", e.p_worse
            reason = ("evidence of a slowdown, not enough to fail the gate" if e.strong else
                      f"a large slowdown within the run, but a history of {e.history_n} run(s) "
                      "cannot separate it from run-to-run noise")
        elif e.strong and e.delta_norm is not None and e.p_worse_raw <= alpha / m and \
                e.delta_raw >= e.effect_threshold():
            status, p = "suspicious", e.p_worse_raw
            reason = ("slower in raw time, but so were the run's other models and the control "
                      "workload: a loaded machine, or a change in torch itself"
                      if e.decided_on.endswith(("peers", "control")) else
                      "slower in raw time, but the control workload slowed as well: a loaded "
                      "machine, or a change in torch itself")
        else:
            status, p = "unchanged", e.p_worse
            reason = "within the noise or below the minimum effect"
        if status == "suspicious" and not e.confirmed:
            reason = "the fresh processes did not show the slowdown again"
        verdicts.append(Verdict(status, method=e.method, reason=reason, extra=extra,
                                **_numbers(e, alpha / m, p)))
    return verdicts


def judge_memory(current: float, baseline: float, rel: float, abs_bytes: float) -> Verdict:
    """Deterministic: flagged only beyond both the relative and the absolute tolerance."""
    change = current - baseline
    limit = baseline + max(baseline * rel, abs_bytes)
    pct = change / baseline * 100 if baseline else None
    common = {"baseline": baseline, "change_pct": pct, "limit": limit, "method": "tolerance"}
    if change > baseline * rel and change > abs_bytes:
        return Verdict("regression", reason=f"more than +{rel:.0%} and +"
                       f"{abs_bytes / 2**20:g} MiB", **common)
    if -change > baseline * rel and -change > abs_bytes:
        return Verdict("improvement", reason="less memory beyond both tolerances", **common)
    return Verdict("unchanged", reason="within tolerance", **common)


def judge_quality(metric: QualityMetric, current: dict[str, float],
                  baseline: dict[str, float]) -> Verdict:
    """Fidelity metrics against their floor; the others paired by (prompt, seed)."""
    higher = metric.direction == "higher"
    if metric.floor is not None:
        worst = min(current.values()) if higher else max(current.values())
        # The reference clip is the baseline; there is no baseline *value* to show.
        common = {"limit": metric.floor, "method": "floor", "extra": {"worst_case": worst}}
        if metric.below_floor(worst):
            unit = "" if metric.unit == "score" else f" {metric.unit}"
            return Verdict("regression", reason=f"a (prompt, seed) pair scored {worst:.4g}"
                           f"{unit}, worse than the floor {metric.floor:g}", **common)
        return Verdict("unchanged", reason=f"every pair within the floor {metric.floor:g}",
                       **common)
    labels = [label for label in current if label in baseline]
    if not labels:
        return Verdict("new", reason="no (prompt, seed) pair in common with the baseline")
    cur = [current[label] for label in labels]
    base = [baseline[label] for label in labels]
    worsening = metric.mean_paired_worsening(cur, base)
    tolerance = metric.tolerance_for(base)
    base_mean = sum(base) / len(base)
    sign = -1 if higher else 1
    common = {
        "baseline": base_mean,
        "change_pct": (sum(cur) / len(cur) / base_mean - 1) * 100 if base_mean else None,
        "limit": base_mean + sign * tolerance, "method": "paired-tolerance",
        "extra": {"pairs": len(labels), "mean_worsening": worsening, "tolerance": tolerance},
    }
    if worsening > tolerance:
        return Verdict("regression", reason=f"worse by {worsening:.4g} {metric.unit} on "
                       f"average over {len(labels)} pair(s) (tolerance {tolerance:.4g})",
                       **common)
    if -worsening > tolerance:
        return Verdict("improvement", reason="better beyond the tolerance", **common)
    return Verdict("unchanged", reason="within tolerance", **common)
