"""A baseline file as the gate reads it: one `TestHistory` per record key."""

from __future__ import annotations

from pytest_vidbench.records import PastRun, TestHistory
from pytest_vidbench.store.baselines import BaselineFile, RunSummary


def _runs(summaries: list[RunSummary]) -> tuple[PastRun, ...]:
    return tuple(PastRun(value=h.value, date=h.date, commit=h.commit,
                         control=h.value / h.normalized if h.normalized else None,
                         regressed=h.regressed)
                 for h in summaries)


def histories(baseline: BaselineFile | None) -> dict[str, TestHistory]:
    if baseline is None:
        return {}
    return {
        key: TestHistory(
            kind=entry.kind,
            runs=_runs(entry.history),
            samples=tuple(entry.samples), sample_labels=tuple(entry.sample_labels),
            stages=dict(entry.stages), anchor=_runs(entry.anchor),
            anchor_label=entry.anchor_label)
        for key, entry in baseline.tests.items()
    }
