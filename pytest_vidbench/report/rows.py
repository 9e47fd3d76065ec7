"""The table every renderer shows, built once so that headlines and tables cannot disagree.

`build_rows` turns a `RunReport` into sorted `Row`s; `count_rows` counts exactly those rows;
the headline, the summary line and the gate section are all derived from these counts.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_vidbench.records import ResultRecord, RunReport
from pytest_vidbench.report.format import (
    DISPLAY_ORDER,
    ICONS,
    MISSING,
    STAGE_ORDER,
    change_pct,
    clean_text,
    count_phrase,
    format_bound,
    format_change,
    format_value,
    stage_name,
    timing_sentence,
)
from pytest_vidbench.report.paired import paired_current, paired_text, trees_phrase
from pytest_vidbench.store.schema import is_number

# Names are capped before any renderer sees them, so that a 10 kB model name cannot blow a
# comment's budget; each renderer may shorten further.
NAME_CAP = 120
NOTE_CAP = 300
UNIT_CAP = 16  # "dB", "score", "MiB/s": a unit is a word; a results file could make it a page


@dataclass
class StageLine:
    """Median seconds per call of one pipeline stage, baseline against this run."""

    name: str
    baseline: float | None
    current: float | None

    @property
    def change_pct(self) -> float | None:
        if self.baseline and self.current is not None:
            return (self.current / self.baseline - 1.0) * 100.0
        return None

    def cells(self) -> tuple[str, str, str]:
        return (
            format_value(self.baseline, "s"),
            format_value(self.current, "s"),
            format_change(self.change_pct),
        )


@dataclass
class Row:
    """One record, formatted as plain text (renderers escape it for their output)."""

    record: ResultRecord
    status: str  # one of DISPLAY_ORDER
    model: str
    variant: str
    metric: str
    baseline: str
    current: str
    change: str
    bound: str
    note: str = ""  # error text or skip reason
    change_value: float | None = None
    stages: list[StageLine] = field(default_factory=list)
    # Latency only: (what it was normalised by, the normalised change, the control's change).
    normalized_change: tuple[str, str, str] | None = None
    paired: str = ""  # side by side: its pairs, its bound and what it could see

    @property
    def direction_hint(self) -> str:
        """Quality metrics say which way is better; latency/memory/energy are always lower."""
        if self.record.kind != "quality":
            return ""
        return f"{self.record.direction} is better"

    @property
    def normalized(self) -> str:
        """'normalised by the control +8.1% (control +3.6%)', or ''."""
        if self.normalized_change is None:
            return ""
        label, norm, control = self.normalized_change
        return f"{label} {norm}" + (f" (control {control})" if control else "")

    @property
    def reason(self) -> str:
        verdict = self.record.verdict
        return clean_text(verdict.reason, NOTE_CAP) if verdict else ""


def display_status(record: ResultRecord) -> str:
    if record.verdict is not None:
        return record.verdict.status
    if record.status in ("error", "skipped"):
        return record.status
    return "none"


def finite_floats(values: Any) -> list[float]:
    """The finite numbers in `values`; [] for anything that is not a list of numbers.

    `verdict.extra` comes from JSON written by other code: never trust its shape.
    """
    if not isinstance(values, (list, tuple)):
        return []
    return [float(v) for v in values if is_number(v)]


def _median(values: Any) -> float | None:
    numbers = finite_floats(values)
    return statistics.median(numbers) if numbers else None


def stage_lines(record: ResultRecord) -> list[StageLine]:
    """Per-stage medians, pipeline order first; baseline only where the verdict carries it."""
    if record.kind != "latency" or not record.stages:
        return []
    baseline_stages = record.verdict.extra.get("baseline_stages") if record.verdict else None
    if not isinstance(baseline_stages, dict):
        baseline_stages = {}
    names = [s for s in STAGE_ORDER if s in record.stages]
    names += sorted(str(s) for s in record.stages if s not in STAGE_ORDER)
    return [
        StageLine(
            name=clean_text(stage_name(name), 40),
            baseline=_median(baseline_stages.get(name)),
            current=_median(record.stages.get(name)),
        )
        for name in names
    ]


def _normalized_change(record: ResultRecord) -> tuple[str, str, str] | None:
    """(label, normalised change, control change or "") for latency records with a verdict
    that compared a normalised time."""
    details = record.details or {}
    extra = record.verdict.extra if record.verdict else {}
    norm = details.get("normalized_change_pct", extra.get("normalized_change_pct"))
    if record.kind != "latency" or not is_number(norm):
        return None
    decided_on = str(extra.get("decided_on", ""))
    label = ("normalised by the other models" if decided_on.endswith("peers") else
             "normalised by the control")
    control = details.get("control_change_pct")
    return label, format_change(norm), format_change(control) if is_number(control) else ""


def build_row(record: ResultRecord) -> Row:
    status = display_status(record)
    verdict = record.verdict
    pct = change_pct(verdict, record.value)
    unit = clean_text(record.unit, UNIT_CAP)
    note = ""
    if status == "error" or record.status == "error":
        note = clean_text(record.error or (verdict.reason if verdict else "") or "error", NOTE_CAP)
    elif record.status == "skipped":
        note = clean_text(record.error or "skipped", NOTE_CAP)
    return Row(
        record=record,
        status=status,
        model=clean_text(record.model, NAME_CAP) or MISSING,
        variant=clean_text(record.variant, NAME_CAP) or MISSING,
        metric=clean_text(record.metric, NAME_CAP) or MISSING,
        baseline=format_value(verdict.baseline if verdict else None, unit),
        current=format_value(paired_current(record) or record.value, unit),
        change=format_change(pct),
        bound=format_bound(record, unit),
        note=note,
        change_value=pct,
        stages=stage_lines(record),
        normalized_change=_normalized_change(record),
        paired=paired_text(record),
    )


def _sort_key(row: Row) -> tuple[Any, ...]:
    rank = DISPLAY_ORDER.index(row.status)
    # Worst regressions first; everything else in a stable, readable order.
    severity = -abs(row.change_value) if row.status == "regression" and row.change_value else 0.0
    return (rank, severity, row.model, row.variant, row.metric)


def build_rows(report: RunReport) -> list[Row]:
    return sorted((build_row(r) for r in report.records), key=_sort_key)


def count_rows(rows: list[Row]) -> dict[str, int]:
    counts = dict.fromkeys(DISPLAY_ORDER, 0)
    for row in rows:
        counts[row.status] += 1
    return counts


def worst_regression(rows: list[Row]) -> Row | None:
    """The regression with the largest change (rows are sorted worst first)."""
    return next((row for row in rows if row.status == "regression"), None)


def headline(
    rows: list[Row],
    counts: dict[str, int],
    ident: Callable[[Row], str],
    icon: Callable[[str], str] = ICONS.__getitem__,
    escape: Callable[[str], str] = str,
    interrupted: bool = False,
) -> str:
    """The one-sentence verdict, derived from `counts` only (plus the worst regression).

    `ident` names a row and `escape` escapes its numbers (they carry the unit of a results
    file) in the output's own escaping (Markdown or HTML); `icon` marks a status.
    """
    worst = worst_regression(rows)
    compared = sum(counts[s] for s in ("regression", "suspicious", "unchanged", "improvement"))
    if worst is not None:
        status = "regression"
        text = (f"{count_phrase('regression', counts['regression'])}; worst: {ident(worst)}"
                f" {escape(worst.change)} ({escape(worst.baseline)} → {escape(worst.current)})")
    elif not rows and interrupted:
        status, text = "error", "Interrupted before any benchmark test finished"
    elif not rows:
        status, text = "incomparable", "No benchmark results"
    elif compared == 0:
        status, text = "incomparable", "No regressions, but nothing was compared to a baseline"
    elif counts["suspicious"]:
        status = "suspicious"
        text = f"No regressions; {count_phrase('suspicious', counts['suspicious'])}"
    else:
        status, text = "unchanged", "No regressions"
    text = f"{icon(status)} {text}"
    if counts["error"]:
        text += f"; {icon('error')} {count_phrase('error', counts['error'])}"
    if interrupted and rows:  # the PR comment of a cancelled job must not read as complete
        text += "; interrupted: only the tests that finished"
    return text


def context_parts(report: RunReport, escape: Callable[[object, int | None], str]) -> list[str]:
    """What was compared, as phrases escaped for the target format by `escape(text, width)`."""
    env = report.environment or {}
    device = escape(env.get("device_name") or "unknown device", 80)
    if env.get("device_kind"):
        device += f" ({escape(env['device_kind'], 20)})"
    parts = [device] + [f"{key} {escape(env[key], 40)}" for key in ("torch", "diffusers")
                        if env.get(key)]
    commit = escape(report.commit or "unknown commit", 40)
    if report.side_by_side is not None:
        parts.append(trees_phrase(report.side_by_side, escape))
    elif report.baseline_commit:
        baseline = f"baseline {escape(report.baseline_commit, 40)}"
        if report.baseline_date:
            baseline += f" ({escape(report.baseline_date, 40)})"
        parts.append(f"this commit {commit} vs {baseline}")
    else:
        parts.append(f"this commit {commit}, no baseline commit")
    if report.repeats:
        parts.append(f"repeats: {escape(report.repeats, 80)}")
    timing = timing_sentence(report.wall_seconds, report.timed_seconds)
    if timing:
        parts.append(escape(timing, None))
    return parts
