"""The sticky PR comment (GitHub-flavoured Markdown) and the job step summary.

Layout, most important first, so that truncation only ever removes the tail:
marker, headline, counts + gate, what was compared, warnings, regressions-and-suspicious
table (with per-stage latency), errors, then the full table folded in <details>.

Every string that comes from a config, a model or an exception goes through `escape_md`:
a PR controls model names and error texts, and must not be able to inject HTML, links,
mentions or extra table cells into a comment posted with the repository's token.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from pytest_vidbench.records import RunReport
from pytest_vidbench.report.format import (
    MISSING,
    clean_text,
    counts_sentence,
    end_ellipsis,
    middle_ellipsis,
    verdict_label,
)
from pytest_vidbench.report.rows import Row, build_rows, context_parts, count_rows, headline

MARKER = "<!-- pytest-vidbench -->"
GITHUB_COMMENT_LIMIT = 65536
COLUMNS = ("model", "variant", "metric", "baseline", "current", "change", "interval/limit",
           "verdict")
_ALIGN = ("---", "---", "---", "---:", "---:", "---:", "---", "---")
NAME_WIDTH = 80  # per table cell; the headline uses less
MAX_WARNINGS = 10
MAX_ERRORS = 20
_ATTENTION = ("regression", "suspicious")

# Backslash-escaping any ASCII punctuation is valid CommonMark; these are the ones that start
# inline syntax: code, emphasis, links/images, strikethrough, table cells, GitHub math.
_BACKSLASHED = set("\\`*_[]~|$!")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_ZWSP = "\u200b"  # clean_text removed every one the input had: each left is ours
# GitHub links bare URLs, www. names and mailto:/xmpp: addresses: a break inside each
# pattern keeps them text ("@" is broken the same way, for mentions and e-mail addresses).
_AUTOLINK = re.compile(r"(?i)(?<=:)(?=//)|(?<=www)(?=\.)|(?<=mailto)(?=:)|(?<=xmpp)(?=:)")


def escape_md(text: object, width: int | None = None, block_start: bool = True) -> str:
    """Inline-safe Markdown for untrusted text: one line, no HTML, no syntax, no @mentions,
    no autolinks. `block_start=False` for text that can never start a line ("+12.3%")."""
    line = clean_text(text)
    if width is not None:
        line = middle_ellipsis(line, width)
    line = _AUTOLINK.sub(_ZWSP, line)
    out = []
    # At the start of a block (a list item, a quote) these would open a heading, a list or a
    # rule: "- 1. x" is a nested ordered list. Escape the punctuation that makes them.
    lead = re.match(r"[#+=-]|\d{1,9}[.)]", line) if block_start else None
    if lead:
        out.append(line[: lead.end() - 1] + "\\" + line[lead.end() - 1])
        line = line[lead.end():]
    for ch in line:
        if ch in _ENTITIES:
            out.append(_ENTITIES[ch])
        elif ch in _BACKSLASHED:
            out.append("\\" + ch)
        elif ch == "@":
            out.append("@&#8203;")  # a zero-width space after @ stops GitHub's mention ping
        elif ch == _ZWSP:
            out.append("&#8203;")
        else:
            out.append(ch)
    return "".join(out)


def _number(text: str) -> str:
    # Formatted numbers: safe but for the unit, which comes from a results file.
    return escape_md(text, block_start=False)


def _size(text: str) -> int:
    # UTF-8 bytes: the strictest reading of GitHub's limit (emoji count 4, never fewer).
    return len(text.encode("utf-8"))


def _table_line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table_head() -> list[str]:
    return [_table_line(list(COLUMNS)), "|" + "|".join(_ALIGN) + "|"]


def _metric_cell(row: Row) -> str:
    metric = escape_md(row.metric, NAME_WIDTH)
    return f"{metric} ({row.direction_hint})" if row.direction_hint else metric


def _verdict_cell(row: Row) -> str:
    text = verdict_label(row.status)
    verdict = row.record.verdict
    if verdict is not None and verdict.remeasured and row.status in _ATTENTION:
        text += " (re-measured)"
    if row.note:
        text += ": " + escape_md(end_ellipsis(row.note, 200))
    if row.paired:
        text += f" ({escape_md(row.paired)})"
    return text


def _row_line(row: Row) -> str:
    return _table_line([
        escape_md(row.model, NAME_WIDTH), escape_md(row.variant, NAME_WIDTH), _metric_cell(row),
        _number(row.baseline), _number(row.current), _number(row.change), _number(row.bound),
        _verdict_cell(row),
    ])


def _attention_group(row: Row) -> list[str]:
    """A regressed or suspicious row, then its normalised change and stage sub-rows."""
    lines = [_row_line(row)]
    norm = row.normalized_change
    if norm:
        label, change, control = norm
        lines.append(_table_line(["", "", f"↳ {_number(label)}", "", "", _number(change),
                                  f"control {_number(control)}" if control else "", ""]))
    for stage in row.stages:
        baseline, current, change = (_number(cell) for cell in stage.cells())
        lines.append(_table_line(
            ["", "", f"↳ {escape_md(stage.name)}", baseline, current, change, "", ""]))
    return lines


def _ident(row: Row, width: int = 60) -> str:
    return " · ".join(escape_md(s, width) for s in (row.model, row.variant, row.metric))


def _gate_text(report: RunReport, counts: dict[str, int]) -> str:
    if report.interrupted:
        return "gate **not passed**: the run was interrupted (exit 2)"
    if not report.gate_enforced:
        return "gate not enforced (report only)"
    return "gate **failed**" if counts["regression"] else "gate passed"


def _context_line(report: RunReport) -> str:
    parts = context_parts(report, escape_md)
    return " · ".join([f"Compared on {parts[0]}", *parts[1:]])


def _head(report: RunReport, rows: list[Row]) -> list[str]:
    counts = count_rows(rows)
    blocks = [
        MARKER,
        "### " + headline(rows, counts, _ident, escape=_number, interrupted=report.interrupted),
        f"{counts_sentence(counts)} · {_gate_text(report, counts)}",
        _context_line(report),
    ]
    warnings = [f"> ⚠️ {escape_md(end_ellipsis(clean_text(w), 500))}"
                for w in report.warnings[:MAX_WARNINGS]]
    if len(report.warnings) > MAX_WARNINGS:
        warnings.append(f"> … and {len(report.warnings) - MAX_WARNINGS} more warnings")
    if warnings:
        blocks.append("\n>\n".join(warnings))
    return blocks


def _error_item(row: Row) -> str:
    return f"- {_ident(row, 40)}: {escape_md(end_ellipsis(row.note, 300))}"


def _compose(
    head: list[str],
    attention: list[list[str]],
    n_attention: int,
    errors: list[str],
    full: list[str],
    n_full: int,
    truncation_note: str | None,
) -> str:
    blocks = list(head)
    if truncation_note:
        blocks.append(truncation_note)
    if attention:
        shown = [line for group in attention[:n_attention] for line in group]
        blocks.append("**Regressions and suspicious results**")
        if shown:
            blocks.append("\n".join(_table_head() + shown))
        if n_attention < len(attention):
            blocks.append(f"… and {len(attention) - n_attention} more not shown.")
    if errors:
        listed = errors[:MAX_ERRORS]
        more = len(errors) - len(listed)
        blocks.append("**Errors**")
        blocks.append("\n".join(listed + ([f"- … and {more} more"] if more else [])))
    if full and n_full:
        title = (f"All {len(full)} results" if n_full == len(full)
                 else f"First {n_full} of {len(full)} results (truncated)")
        blocks.append(f"<details>\n<summary>{title}</summary>")
        blocks.append("\n".join(_table_head() + full[:n_full]))
        blocks.append("*interval/limit*: the prediction interval for this run, or the limit "
                      "beyond which it is flagged. Lower is better unless the metric says "
                      "otherwise.")
        blocks.append("</details>")
    return "\n\n".join(blocks) + "\n"


def render_markdown(report: RunReport, max_chars: int = GITHUB_COMMENT_LIMIT) -> str:
    """The PR comment, at most `max_chars` long counted in UTF-8 bytes.

    Only a budget too small for the marker and headline themselves is exceeded: those two
    are never dropped.
    """
    rows = build_rows(report)
    head = _head(report, rows)
    attention = [_attention_group(r) for r in rows if r.status in _ATTENTION]
    errors = [_error_item(r) for r in rows if r.status == "error"]
    full = [_row_line(r) for r in rows]
    doc = _compose(head, attention, len(attention), errors, full, len(full), None)
    if _size(doc) <= max_chars:
        return doc
    return _truncated(head, attention, errors, full, max_chars)


def _truncated(
    head: list[str], attention: list[list[str]], errors: list[str], full: list[str],
    max_chars: int,
) -> str:
    """Keep head and as much of the attention table as fits, then fill with the full table."""
    total_rows = len(full)

    def note(n_att: int, n_full: int) -> str:
        shown = (f"{n_att} of {len(attention)} regressed/suspicious rows"
                 if n_att < len(attention) else f"all {len(attention)} regressed/suspicious rows")
        return (f"> ✂️ Shortened to fit GitHub's {max_chars:,}-character comment limit: showing "
                f"{shown} and {n_full} of {total_rows} rows of the full table. "
                "The run's HTML report has all of them.")

    def build(n_att: int, n_full: int) -> str:
        return _compose(head, attention, n_att, errors, full, n_full, note(n_att, n_full))

    # Grow greedily by measured size: rows are added in report order (worst first).
    n_att = 0
    base = _size(build(0, 0))
    budget = max_chars - base - 64  # slack for the digits in the note and the "more" lines
    for group in attention:
        cost = sum(_size(line) + 1 for line in group)
        if cost > budget:
            break
        budget -= cost
        n_att += 1
    n_full = 0
    if n_att == len(attention):
        budget -= 400  # the <details> wrapper, table head and footnote appear with row one
        for line in full:
            cost = _size(line) + 1
            if cost > budget:
                break
            budget -= cost
            n_full += 1
    doc = build(n_att, n_full)
    while _size(doc) > max_chars and (n_full or n_att):  # the estimate was off: back off
        if n_full:
            n_full -= 1
        else:
            n_att -= 1
        doc = build(n_att, n_full)
    if _size(doc) > max_chars:  # only a tiny max_chars gets here: keep marker and headline
        doc = "\n\n".join(head[:2]) + "\n"
    return doc


def append_github_step_summary(markdown: str, env: Mapping[str, str] = os.environ) -> bool:
    """Append to the file named by $GITHUB_STEP_SUMMARY; False when it is not set."""
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return True


__all__ = [
    "GITHUB_COMMENT_LIMIT", "MARKER", "MISSING", "append_github_step_summary", "escape_md",
    "render_markdown",
]
