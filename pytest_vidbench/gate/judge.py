"""From records and a baseline file to a verdict on every record.

This is where the run-level pieces meet: the environment check, the family of timing
checks (so multiple-comparison control spans the whole run), and re-measuring suspects
before anything is called a regression.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from pytest_vidbench.config import Thresholds
from pytest_vidbench.gate.timing import (
    MIN_HISTORY,
    Series,
    TimingCheck,
    assess,
    decide,
    fit_priors,
    judge_memory,
    judge_quality,
)
from pytest_vidbench.records import ResultRecord, Verdict
from pytest_vidbench.store.baselines import BaselineEntry, BaselineFile

# Re-measure the given record keys in fresh processes; returns key -> one Summary per
# process. Keys it could not measure are left out.
Summary = tuple[float, float | None, float | None]  # raw, ÷ control, ÷ other models
Remeasure = Callable[[list[str]], dict[str, list[Summary]]]
CONTROL_CHECK = 0.08  # the control off its history by more than this: the process ran unusually
SCREEN_P = 0.01  # unadjusted one-sided p that sends a check to re-measurement


@dataclass
class Comparison:
    """What the records were compared with, for the report's context line."""

    environment_key: str
    baseline: BaselineFile | None
    other_environments: list[str]
    notes: list[str] = field(default_factory=list)  # run-level remarks found while judging

    @property
    def incomparable(self) -> bool:
        return self.baseline is None and bool(self.other_environments)

    def warnings(self) -> list[str]:
        if not self.incomparable:
            return list(self.notes)
        return [
            f"baselines exist only for {', '.join(self.other_environments)}; this run is "
            f"{self.environment_key}: not compared (another GPU/CPU model, device kind or "
            "torch minor version would make any verdict meaningless)"
        ]


def _logs(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(math.log(v) for v in values if v > 0)


def _normalized_samples(samples: Sequence[float], control: Sequence[float]) -> tuple[float, ...]:
    if not control or not samples:
        return ()
    shift = math.log(statistics.median(control))
    return tuple(math.log(v) - shift for v in samples if v > 0)


def control_center(log_controls: Sequence[float]) -> float:
    """The 'normal' control time of a history (log): its lower quartile, not its median.

    Unusual processes run slow, not fast (noise.md: +40-70%, never the other way), so with a
    few slow runs in the history the median drifts up while the lower quartile stays put.
    """
    ordered = sorted(log_controls)
    return ordered[(len(ordered) - 1) // 4]


def control_deviation(records: list[ResultRecord], baseline: BaselineFile | None) -> float | None:
    """log(this run's control time / the baseline runs' normal control time), or None.

    The control is one workload for the whole run, so any latency test's history holds it.
    """
    current = next((r.details.get("control_median") for r in records
                    if r.kind == "latency" and r.details.get("control_median")), None)
    if not current or baseline is None:
        return None
    history = max(([h.value / h.normalized for h in t.history if h.normalized]
                   for t in baseline.tests.values() if t.kind == "latency"), key=len, default=[])
    if not history:
        return None
    return math.log(current) - control_center([math.log(v) for v in history])


def calm_history(test: BaselineEntry) -> list:
    """The history runs whose control workload ran normally.

    A process that ran slow (or fast) shifts every raw time in it; the noise study found the
    raw run-to-run SD drops from 13% to 4% once such runs are set aside. They stay in the
    control-normalised history, where the ratio already cancels the slowness.
    """
    runs = test.history
    if len(runs) < MIN_HISTORY or not all(h.normalized for h in runs):
        return list(runs)
    controls = [math.log(h.value / h.normalized) for h in runs]  # type: ignore[operator]
    center = control_center(controls)
    limit = math.log1p(CONTROL_CHECK)
    calm = [h for h, c in zip(runs, controls, strict=True) if abs(c - center) <= limit]
    return calm if len(calm) >= MIN_HISTORY else list(runs)


def set_peer_values(records: list[ResultRecord]) -> None:
    """Per latency record, the geometric mean latency of the run's other models (≥ 2 of them).

    Measured here, one model's median moved 8-15% between processes while its ratio to the
    other models of the same run moved 5%: the suite itself is the best control for a change
    in one model. A change that slows every model alike is left to the second normaliser,
    the control workload (see verdicts.assess).
    """
    latency = [r for r in records if r.kind == "latency" and r.status == "ok" and r.value]
    if len(latency) < 3:
        return
    logs = {id(r): math.log(r.value) for r in latency}  # type: ignore[arg-type]
    total = sum(logs.values())
    for record in latency:
        mean = (total - logs[id(record)]) / (len(latency) - 1)
        record.details["peer_value"] = math.exp(mean)


def timing_check(record: ResultRecord, test: BaselineEntry, min_effect: float,
                 use_control: bool, noisy_run: bool = False) -> TimingCheck:
    assert record.value is not None
    raw_history = calm_history(test) if use_control else test.history
    raw = Series(
        current=math.log(record.value),
        history=_logs([h.value for h in raw_history]),
        current_samples=_logs(record.samples),
        baseline_samples=_logs(test.samples),
    )
    normalized = control = None
    current_norm = record.details.get("normalized_value")
    history_norm = [h.normalized for h in test.history]
    if use_control and current_norm and all(v for v in history_norm):
        control = Series(
            current=math.log(current_norm),
            history=_logs([v for v in history_norm if v]),
            current_samples=_normalized_samples(record.samples,
                                                record.details.get("control_samples", [])),
            baseline_samples=_normalized_samples(test.samples, test.control),
        )
    peer = record.details.get("peer_value")
    history_peers = [h.peers for h in test.history]
    if use_control and peer and len(history_peers) and all(history_peers):
        # Normalised by the other models of the same run (see set_peer_values).
        shift = math.log(record.value / peer)
        normalized = Series(
            current=shift,
            history=tuple(math.log(h.value / h.peers) for h in test.history),  # type: ignore[operator]
            current_samples=tuple(x - math.log(peer) for x in _logs(record.samples)),
            baseline_samples=tuple(x - math.log(test.history[-1].peers)  # type: ignore[arg-type]
                                   for x in _logs(test.samples)),
        )
        return TimingCheck(record.key, raw, normalized, min_effect,
                           noisy_run, peers=True, control=control)
    return TimingCheck(record.key, raw, control, min_effect, noisy_run and bool(control))


def _history_extra(test: BaselineEntry) -> dict:
    return {
        "history_values": [h.value for h in test.history],
        "history_commits": [h.commit for h in test.history],
        "history_dates": [h.date for h in test.history],
        "baseline_samples": list(test.samples),
        "baseline_stages": dict(test.stages),
        "baseline_commit": test.newest.commit if test.newest else None,
    }


class Judge:
    def __init__(self, thresholds: Thresholds, quality_metrics: dict) -> None:
        self.thresholds = thresholds
        self.quality_metrics = quality_metrics  # metric name -> QualityMetric

    def _min_effect(self, kind: str) -> float:
        t = self.thresholds
        return t.latency_min_effect if kind == "latency" else t.energy_min_effect

    def judge(self, records: list[ResultRecord], comparison: Comparison,
              remeasure: Remeasure | None) -> None:
        """Set `verdict` on every record that ran (skipped records keep None)."""
        timing: list[tuple[ResultRecord, BaselineEntry, TimingCheck]] = []
        baseline = comparison.baseline
        set_peer_values(records)
        deviation = control_deviation(records, baseline) if self.thresholds.control else None
        noisy = deviation is not None and abs(deviation) > math.log1p(CONTROL_CHECK)
        if noisy:
            comparison.notes.append(
                f"the control workload ran {math.expm1(deviation):+.0%} against the baseline "
                "runs: this process was unusually slow or fast, so latency is judged on "
                "normalised time (raw change must still exceed the minimum effect)")
        for record in records:
            if record.status == "skipped":
                continue
            if record.status == "error":
                record.verdict = Verdict("error", reason=record.error or "the test failed")
                continue
            if comparison.incomparable:
                record.verdict = Verdict("incomparable", reason=comparison.warnings()[0])
                continue
            metric = self.quality_metrics.get(record.metric) if record.kind == "quality" else None
            if record.kind == "quality" and metric is None:
                record.verdict = Verdict("incomparable", reason=f"quality metric "
                                         f"{record.metric!r} is not registered here")
                continue
            if metric is not None and metric.floor is not None and record.value is not None:
                # Fidelity is measured against the stored reference clip itself: no history.
                record.verdict = judge_quality(
                    metric, dict(zip(record.sample_labels, record.samples, strict=False)), {})
                continue
            test = baseline.tests.get(record.key) if baseline else None
            if test is None or not test.history or record.value is None:
                reason = ("no baseline for this test yet" if record.value is not None else
                          record.details.get("no_value_reason", "no value to compare"))
                record.verdict = Verdict("new", reason=reason)
                continue
            if test.kind != record.kind:
                record.verdict = Verdict("incomparable", reason=f"the baseline measured "
                                         f"{test.kind}, this run {record.kind}")
                continue
            if record.kind in ("latency", "energy"):
                check = timing_check(record, test, self._min_effect(record.kind),
                                     self.thresholds.control and record.kind == "latency", noisy)
                timing.append((record, test, check))
            elif record.kind == "memory":
                t = self.thresholds
                record.verdict = judge_memory(record.value, test.history[-1].value,
                                              t.memory_rel_tolerance,
                                              t.memory_abs_tolerance_mib * 2**20)
            else:
                assert metric is not None
                record.verdict = judge_quality(
                    metric, dict(zip(record.sample_labels, record.samples, strict=False)),
                    dict(zip(test.sample_labels, test.samples, strict=False)),
                )
            if record.verdict is not None:
                record.verdict.extra.update(_history_extra(test))
        self._judge_timing(timing, remeasure)

    def _judge_timing(self, timing: list[tuple[ResultRecord, BaselineEntry, TimingCheck]],
                      remeasure: Remeasure | None) -> None:
        if not timing:
            return
        checks = [check for _, _, check in timing]
        priors = fit_priors(checks)
        t = self.thresholds
        evidence = [assess(c, priors, t.noise_floor) for c in checks]
        first = decide(evidence, t.alpha, t.fdr)
        # Screen loosely (unadjusted p, half the effect): a fresh process then decides, and
        # Holm over the whole run applies to the two runs together.
        suspects = [e.key for e in evidence if e.strong and e.p_worse <= SCREEN_P
                    and e.worse_effect >= math.log1p(e.min_effect / 2)]
        final = first
        fresh: dict[str, list[Summary]] = {}
        if suspects and remeasure is not None:
            # A slow process stays slow in every round: confirm in a fresh process instead.
            fresh = remeasure(suspects)
            checks = [_with_fresh_runs(c, fresh.get(c.key, [])) for c in checks]
            final = decide([assess(c, priors, t.noise_floor) for c in checks], t.alpha, t.fdr)
        for (record, test, check), before, verdict in zip(timing, first, final, strict=True):
            if fresh.get(check.key):
                verdict.remeasured = True
                verdict.extra["first_run_change_pct"] = before.change_pct
                verdict.extra["first_run_status"] = before.status
                record.details["remeasured"] = {"runs": [
                    {"value": raw, "normalized_value": norm, "peer_normalized": peer}
                    for raw, norm, peer in fresh[check.key]]}
            elif check.key in suspects and remeasure is not None:
                record.details["remeasured"] = {"failed": True}  # so a replay agrees
                if verdict.status == "regression":
                    verdict.status = "suspicious"
                    verdict.reason = "looked like a regression, but the re-measurement failed"
            verdict.extra.update(_history_extra(test))
            record.verdict = verdict


def stored_remeasurements(records: list[ResultRecord]) -> Remeasure | None:
    """A `Remeasure` that replays the fresh-process figures a run stored in its records, so
    judging a results file offline reaches the verdicts the run reached (None: none stored)."""
    stored = {r.key: r.details["remeasured"] for r in records
              if isinstance(r.details.get("remeasured"), dict)}
    if not stored:
        return None

    def replay(keys: list[str]) -> dict[str, list[Summary]]:
        # Keys the run tried and could not re-measure ({"failed": true}) stay absent.
        return {k: [(run["value"], run.get("normalized_value"), run.get("peer_normalized"))
                    for run in stored[k]["runs"]]
                for k in keys if stored.get(k, {}).get("runs")}

    return replay


def _with_fresh_runs(check: TimingCheck, fresh: list[Summary]) -> TimingCheck:
    if not fresh:
        return check
    raw = replace(check.raw, fresh=tuple(math.log(summary[0]) for summary in fresh))

    def with_fresh(series: Series | None, index: int) -> Series | None:
        if series is None:
            return None
        ratios = [summary[index] for summary in fresh]
        return replace(series, fresh=tuple(math.log(n) for n in ratios)) \
            if all(ratios) else None  # type: ignore[arg-type]

    norm_index = 2 if check.peers else 1  # summaries are (raw, ÷ control, ÷ peers)
    return replace(check, raw=raw, normalized=with_fresh(check.normalized, norm_index),
                   control=with_fresh(check.control, 1))
