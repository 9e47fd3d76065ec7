"""The terminal summary: one table, one counts line, and the gate section.

Plain text only (no emoji): their width differs between terminals and would break alignment.
Every line fits `width` display columns.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from pytest_vidbench.records import RunReport
from pytest_vidbench.report.format import (
    count_phrase,
    counts_sentence,
    display_width,
    end_ellipsis,
    middle_ellipsis,
    pad,
    timing_sentence,
    verdict_label,
)
from pytest_vidbench.report.rows import Row, build_rows, count_rows

SEP = "  "
HEADERS = ("model", "variant", "metric", "baseline", "current", "change", "limit", "verdict")
RIGHT = (False, False, False, True, True, True, False, False)
# Identity columns shrink first (in this order of preference: longest first) down to these.
_ID_MIN = (10, 6, 8)
_ID_CAP = (40, 20, 28)


@dataclass
class _Layout:
    """Column widths; the first `ids` columns name the test, the rest are numbers and words."""

    widths: list[int]
    ids: int = 3  # 2 when the variant column is folded into the model header

    @property
    def total(self) -> int:
        return sum(self.widths) + len(SEP) * (len(self.widths) - 1)

    def right(self, index: int) -> bool:
        return RIGHT[index + 3 - self.ids]


def _cells(row: Row, ids: int) -> list[str]:
    names = [row.model, row.variant, row.metric] if ids == 3 else [row.model, row.metric]
    return [*names, row.baseline, row.current, row.change, row.bound,
            verdict_label(row.status, icon=False)]


def _layout(table: list[list[str]], width: int, headers: list[str]) -> _Layout:
    ids = len(headers) - 5
    mins, caps = (_ID_MIN, _ID_CAP) if ids == 3 else (_ID_MIN[::2], _ID_CAP[::2])
    widths = [display_width(h) for h in headers]
    for cells in table:
        for i, cell in enumerate(cells):
            widths[i] = max(widths[i], display_width(cell))
    for i in range(ids):
        widths[i] = min(widths[i], max(caps[i], display_width(headers[i])))
    layout = _Layout(widths, ids)
    # Shrink the widest identity column one column at a time: spreads the loss fairly.
    while layout.total > width:
        shrinkable = [i for i in range(ids) if widths[i] > mins[i]]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i] - mins[i])
        widths[widest] -= 1
    bound = ids + 3
    while layout.total > width and widths[bound] > len("≤ 1.00"):
        widths[bound] -= 1
    return layout


def _fit(cell: str, width: int, index: int, ids: int) -> str:
    if index < ids:
        return middle_ellipsis(cell, width)
    return end_ellipsis(cell, width)


def _line(cells: list[str], layout: _Layout) -> str:
    parts = [
        pad(_fit(cell, w, i, layout.ids), w, right=layout.right(i))
        for i, (cell, w) in enumerate(zip(cells, layout.widths, strict=True))
    ]
    return SEP.join(parts).rstrip()


def _sub_line(label: str, numbers: tuple[str, str, str] | None, layout: _Layout) -> str:
    """An indented line under a row: a label over the identity columns, maybe three numbers."""
    ids = layout.ids
    id_width = sum(layout.widths[:ids]) + (ids - 1) * len(SEP)
    if numbers is None:
        return end_ellipsis("    " + label, layout.total).rstrip()
    head = pad(end_ellipsis("    " + label, id_width), id_width)
    nums = [pad(end_ellipsis(n, w), w, right=True)
            for n, w in zip(numbers, layout.widths[ids:ids + 3], strict=True)]
    return SEP.join([head, *nums]).rstrip()


def _clip(line: str, width: int) -> str:
    return end_ellipsis(line, width) if display_width(line) > width else line


def _skipped_lines(rows: list[Row], width: int) -> list[str]:
    """Skipped tests, one wrapped line per reason: seven models without an energy counter
    are one fact, not seven table rows."""
    by_reason: dict[str, list[str]] = {}
    for row in rows:
        by_reason.setdefault(row.note or "skipped", []).append(
            f"{middle_ellipsis(row.model, 40)} {row.metric}")
    lines = []
    for reason, tests in by_reason.items():
        shown = ", ".join(tests[:4]) + (f" and {len(tests) - 4} more" if len(tests) > 4 else "")
        lines += _wrapped(f"skipped ({len(tests)}): {reason} ({shown})", width, "    ")
    return lines


def render_terminal(report: RunReport, width: int = 100) -> list[str]:
    """The results table (regressions first), the skipped tests by reason, and one counts
    line; each line ≤ `width` columns."""
    all_rows = build_rows(report)
    if not all_rows:
        return ["vidbench: interrupted before any benchmark test finished" if report.interrupted
                else "vidbench: no benchmark results"]
    rows = [row for row in all_rows if row.status != "skipped"]
    skipped = [row for row in all_rows if row.status == "skipped"]
    headers = list(HEADERS)
    variants = {row.variant for row in rows}
    if len(variants) == 1:
        # One variant for every row: said once in the header, not on every line.
        headers[:2] = [f"model [{middle_ellipsis(variants.pop(), 20)}]"]
    ids = len(headers) - 5
    table = [_cells(row, ids) for row in rows]
    layout = _layout(table, width, headers)
    lines = [_line(headers, layout), "-" * min(layout.total, width)] if rows else []
    for row, cells in zip(rows, table, strict=True):
        lines.append(_line(cells, layout))
        if row.note:
            lines.append(_sub_line(f"↳ {row.status}: {row.note}", None, layout))
        if row.paired:
            lines.append(_sub_line(f"↳ {row.paired}", None, layout))
        if row.status == "regression" and row.record.kind == "latency":
            if row.normalized:
                lines.append(_sub_line(f"↳ {row.normalized}", None, layout))
            for stage in row.stages:
                lines.append(_sub_line(f"↳ {stage.name}", stage.cells(), layout))
    lines += _skipped_lines(skipped, width)
    lines.append(counts_sentence(count_rows(all_rows)))
    return [_clip(line, width) for line in lines]


def _wrapped(text: str, width: int, indent: str) -> list[str]:
    """Word-wrap one gate line; names were shortened already, so this only splits prose."""
    lines = textwrap.wrap(text, width=width, subsequent_indent=indent, break_on_hyphens=False)
    return [_clip(line, width) for line in lines] or [""]


def render_gate_section(report: RunReport, width: int = 100) -> list[str]:
    """Each regression with its numbers, the session timing, then the gate outcome last."""
    rows = build_rows(report)
    counts = count_rows(rows)
    lines = []
    for row in rows:
        if row.status != "regression":
            continue
        text = (
            f"  REGRESSION {middle_ellipsis(row.model, 40)} [{middle_ellipsis(row.variant, 20)}]"
            f" {middle_ellipsis(row.metric, 24)}: {row.baseline} -> {row.current}"
            f" ({row.change}, limit {row.bound})"
        )
        if row.normalized:
            text += f"; {row.normalized}"
        if row.reason:
            text += f"; {row.reason}"
        lines += _wrapped(text, width, " " * 6)
    timing = timing_sentence(report.wall_seconds, report.timed_seconds)
    if timing:
        lines += _wrapped(f"vidbench session: {timing}", width, "  ")
    n = counts["regression"]
    regressions = count_phrase("regression", n) if n else "no regressions"
    if report.interrupted:
        outcome = f"NOT passed: the run was interrupted ({regressions} among what finished)"
    elif not report.gate_enforced:
        outcome = f"not enforced (report only; {regressions})"
    elif n:
        outcome = f"FAILED ({regressions})"
    else:
        outcome = f"passed ({regressions})"
    lines.append(_clip(f"vidbench gate: {outcome}", width))
    return lines


def summary_lines(report: RunReport, first_run: list[str], unused: list[str],
                  width: int = 100) -> list[str]:
    """The whole terminal section: the table, first-run advice, notes, then the gate."""
    lines = render_terminal(report, width=width)
    lines += first_run
    lines += [f"note: {line}" for line in report.warnings]
    if report.baselines_updated:
        lines.append(f"note: {report.baselines_updated}")
    if unused:
        lines.append(f"unused baseline entries ({len(unused)}): {', '.join(unused)}; "
                     "--vidbench-prune-baselines removes them")
    return lines + render_gate_section(report, width)
