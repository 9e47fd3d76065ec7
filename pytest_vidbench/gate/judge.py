"""From records and the baseline histories to a verdict on every record.

Where the run-level pieces meet: the environment check, one rule per kind of measure, and
the family of timing tests (gate/decide.py, gate/confirm.py), so multiple-comparison
control spans the whole run.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field, replace

from pytest_vidbench.config import Thresholds
from pytest_vidbench.gate.against import Pairing, judge_against
from pytest_vidbench.gate.confirm import Policy, Remeasure, confirm
from pytest_vidbench.gate.decide import TimingInput, decide, stage1
from pytest_vidbench.gate.history import TestHistory
from pytest_vidbench.gate.memory import judge_memory, judge_memory_paired
from pytest_vidbench.gate.quality import judge_fidelity_paired, judge_quality
from pytest_vidbench.gate.timing import within_process_variance
from pytest_vidbench.records import ResultRecord, RunContext, Verdict

CONTROL_NOTE = 0.08  # the control this far off its history: say so in the report


@dataclass
class Comparison:
    """What the records were compared with, for the report's context line."""

    environment_key: str
    histories: dict[str, TestHistory] | None  # None: no baseline file for this environment
    other_environments: list[str]
    notes: list[str] = field(default_factory=list)  # run-level remarks found while judging

    @property
    def incomparable(self) -> bool:
        return self.histories is None and bool(self.other_environments)

    def warnings(self) -> list[str]:
        if not self.incomparable:
            return list(self.notes)
        return [
            f"baselines exist only for {', '.join(self.other_environments)}; this run is "
            f"{self.environment_key}: not compared (another GPU/CPU model, device kind or "
            "torch minor version would make any verdict meaningless)"
        ]


def policy_of(t: Thresholds, processes: int = 6, references: int = 3) -> Policy:
    return Policy(alpha=t.alpha, fdr=t.fdr, screen_p=t.screen_p, max_processes=processes,
                  references=references, fail_closed=t.fail_unconfirmed,
                  noise_floor=t.noise_floor, drift=t.drift)


def control_deviation(context: RunContext, histories: dict[str, TestHistory]) -> float | None:
    """log(this run's control time / the history's median control time), or None."""
    current = context.control
    past = max(([r.control for r in t.runs if r.control] for t in histories.values()
                if t.kind == "latency"), key=len, default=[])
    if not current or not past:
        return None
    return math.log(current) - statistics.median(math.log(c) for c in past)  # type: ignore[arg-type]


def history_extra(test: TestHistory) -> dict:
    """The history beside a verdict, for the report's plots and tables."""
    return {
        "history_values": [r.value for r in test.runs],
        "history_commits": [r.commit for r in test.runs],
        "history_dates": [r.date for r in test.runs],
        "history_regressed": [i for i, r in enumerate(test.runs) if r.regressed],
        "baseline_samples": list(test.samples),
        "baseline_stages": dict(test.stages),
        "baseline_commit": test.newest.commit if test.newest else None,
    }


class Judge:
    def __init__(self, thresholds: Thresholds, quality_metrics: dict,
                 policy: Policy | None = None, pairing: Pairing | None = None) -> None:
        self.thresholds = thresholds
        self.quality_metrics = quality_metrics  # metric name -> QualityMetric
        self.policy = policy or policy_of(thresholds)
        self.pairing = pairing  # --vidbench-against: timing is decided on pairs
        self.lacking: set[str] = set()  # keys base has no test for (side by side)

    def _min_effect(self, kind: str) -> float:
        t = self.thresholds
        return t.latency_min_effect if kind == "latency" else t.energy_min_effect

    def judge(self, records: list[ResultRecord], comparison: Comparison, context: RunContext,
              remeasure: Remeasure | None) -> None:
        """Set `verdict` on every record that ran (skipped records keep None)."""
        histories = comparison.histories or {}
        timing: list[tuple[ResultRecord, TestHistory | None]] = []
        deviation = control_deviation(context, histories)
        if deviation is not None and abs(deviation) > math.log1p(CONTROL_NOTE):
            comparison.notes.append(
                f"the control workload ran {math.expm1(deviation):+.0%} against the baseline "
                "runs: this process ran unusually slow or fast; latency is judged on time "
                "normalised by the other models or by the control")
        compared = [r.key for r in records if r.status == "ok" and r.value is not None
                    and r.kind in ("latency", "energy", "memory")]
        fidelity = [r.key for r in records if r.kind == "quality" and r.status == "ok"
                    and (m := self.quality_metrics.get(r.metric)) and m.needs_reference]
        if self.pairing is not None and (compared or fidelity):  # the warm-up pair
            self.lacking = self.pairing.base_lacks(compared + fidelity) - set(fidelity)
        for record in records:
            test = histories.get(record.key)
            verdict = self._verdict(record, comparison, test)
            if verdict is None and record.status == "ok" and (test is not None or self.pairing):
                timing.append((record, test))
            record.verdict = verdict
            if verdict is not None and test is not None and verdict.status != "new":
                verdict.extra.update(history_extra(test))
        self._judge_timing(timing, histories, context, remeasure)

    def _verdict(self, record: ResultRecord, comparison: Comparison,
                 test: TestHistory | None) -> Verdict | None:
        """The verdict of a non-timing record; None for timing ones (judged as a family)."""
        if record.status == "skipped":
            return None
        if record.status == "error":
            return Verdict("error", reason=record.error or "the test failed")
        if self.pairing is not None and record.kind in ("latency", "energy") \
                and record.value is not None:
            return None  # judged on pairs, history or not
        if self.pairing is not None and record.kind == "memory" and record.value is not None:
            t = self.thresholds
            return judge_memory_paired(record.key, self.pairing.warmed, self.lacking,
                                       t.memory_rel_tolerance,
                                       t.memory_abs_tolerance_mib * 2**20)
        metric = self.quality_metrics.get(record.metric) if record.kind == "quality" else None
        if self.pairing is not None and metric is not None and metric.needs_reference:
            return judge_fidelity_paired(metric, self.pairing.fidelity(record, metric),
                                         self.pairing.policy.accept_output)
        if comparison.incomparable:
            return Verdict("incomparable", reason=comparison.warnings()[0])
        if record.kind == "quality" and metric is None:
            return Verdict("incomparable", reason=f"quality metric {record.metric!r} is not "
                           "registered here")
        labelled = dict(zip(record.sample_labels, record.samples, strict=False))
        if metric is not None and metric.floor is not None and record.value is not None:
            return judge_quality(metric, labelled, {})  # against the reference clip itself
        if test is None or not test.runs or record.value is None:
            reason = ("no baseline for this test yet" if record.value is not None else
                      record.details.get("no_value_reason", "no value to compare"))
            return Verdict("new", reason=reason)
        if test.kind != record.kind:
            return Verdict("incomparable", reason=f"the baseline measured {test.kind}, this "
                           f"run {record.kind}")
        if record.kind in ("latency", "energy"):
            return None
        if record.kind == "memory":
            t = self.thresholds
            assert test.best is not None
            return judge_memory(record.value, test.best, t.memory_rel_tolerance,
                                t.memory_abs_tolerance_mib * 2**20)
        assert metric is not None
        return judge_quality(metric, labelled,
                             dict(zip(test.sample_labels, test.samples, strict=False)))

    def _judge_timing(self, timing: list[tuple[ResultRecord, TestHistory | None]],
                      histories: dict[str, TestHistory], context: RunContext,
                      remeasure: Remeasure | None) -> None:
        if not timing:
            return
        if self.pairing is not None:
            control = context.control if self.thresholds.control else None
            found = judge_against(timing, histories, control, self.policy,
                                  {r.key: self._min_effect(r.kind) for r, _ in timing},
                                  self.pairing)
            for record, test in timing:
                record.verdict = found[record.key]
                if test is not None:
                    record.verdict.extra.update(history_extra(test))
            return
        inputs = [TimingInput(r.key, r.kind, float(r.value or 0), tuple(r.samples),
                              self._min_effect(r.kind)) for r, _ in timing]
        control = context.control if self.thresholds.control else None
        anchors = {k: a for k, h in histories.items() if (a := h.pinned) is not None}
        # With anchors, the history and the anchor are two families, α/2 each (Bonferroni).
        p = replace(self.policy, alpha=self.policy.alpha / 2) if anchors else self.policy
        s1 = stage1(inputs, histories, control, p)
        creep = stage1([i for i in inputs if i.key in anchors], anchors, control, p) \
            if anchors else None
        everyone = s1.candidates + (creep.candidates if creep else [])
        suspects = [c for c in everyone if c.suspect(p.screen_p)]
        if suspects and remeasure is not None:
            keys = {c.key for c in suspects}
            by_speed = sorted((r for r, _ in timing if r.kind == "latency" and r.key not in keys
                               and r.key in {c.key for c in s1.candidates}),
                              key=lambda r: r.value or 0)
            refs = [r.key for r in by_speed[:p.references]]
            per_call = within_process_variance([r.samples for r, _ in timing
                                                if r.kind == "latency"])
            confirm(suspects, refs, remeasure, p, context, per_call, len(everyone))
        failed = context.confirmation_error if suspects else None
        verdicts = decide(s1, p, confirmed=bool(context.fresh), failed=failed)
        if creep is not None:
            crept = decide(creep, p, confirmed=bool(context.fresh), failed=failed)
            for key, v in crept.items():
                if key in verdicts:  # else too short a history: the within-run rule decides
                    verdicts[key] = with_creep(verdicts[key], v, histories[key].anchor_label)
        verdicts.update(s1.short)
        for record, test in timing:
            record.verdict = verdicts[record.key]
            record.verdict.extra.update(history_extra(test))  # type: ignore[arg-type]


def with_creep(own: Verdict, creep: Verdict, label: str | None) -> Verdict:
    """The verdict against the history, or the one against the pinned anchor where that is
    worse: small slowdowns that each passed and entered the history add up against it."""
    rank = {"regression": 2, "suspicious": 1}
    anchor = {"anchor_label": label, "anchor_change_pct": creep.change_pct,
              "anchor_status": creep.status}
    if rank.get(creep.status, 0) > rank.get(own.status, 0):
        change = "" if creep.change_pct is None else f" {creep.change_pct:+.1f}%"
        creep.reason = (f"crept{change} above the anchor {label!r}, through changes that each "
                        f"passed: {creep.reason}. Accepted? Pin a new anchor with "
                        "--vidbench-update-baselines --vidbench-pin-anchor LABEL")
        creep.extra.update(anchor)
        return creep
    own.extra.update(anchor)
    return own


def stored_remeasurements(context: RunContext) -> Remeasure | None:
    """A `Remeasure` that replays the fresh processes a run stored, in order, so judging its
    results file offline reaches the verdicts the run reached (None: none stored)."""
    from pytest_vidbench.gate.confirm import ConfirmationFailed

    if not context.fresh and context.confirmation_error is None:
        return None
    stored = list(context.fresh)
    replayed = RunContext(context.control_samples, context.calls)

    def replay(suspects: list[str], refs: list[str]) -> object:
        if len(replayed.fresh) >= len(stored):
            raise ConfirmationFailed(context.confirmation_error or "no more stored processes")
        run = stored[len(replayed.fresh)]
        replayed.fresh.append(run)
        return run

    return replay  # type: ignore[return-value]
