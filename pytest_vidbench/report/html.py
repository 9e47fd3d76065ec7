"""A single self-contained HTML report: headline, the Markdown's tables, and the plots.

Self-contained means opening it offline shows everything: styles are inline, plots are
base64 PNGs, and a Content-Security-Policy forbids any remote load, so even a bug that let
a URL through could not make the browser fetch it. Every string from the report is escaped.
"""

from __future__ import annotations

import warnings
from html import escape

from pytest_vidbench.records import RunReport
from pytest_vidbench.report import plots
from pytest_vidbench.report.format import (
    clean_text,
    counts_sentence,
    end_ellipsis,
    middle_ellipsis,
    verdict_label,
)
from pytest_vidbench.report.rows import Row, build_rows, context_parts, count_rows, headline

MAX_PLOTS = 48  # per-test figures, worst first: a 5,000-test report must still render fast
MAX_FRAME_STRIPS = 12
_PLOTTED_KINDS = ("latency", "energy", "quality", "memory")
COLUMNS = ("model", "variant", "metric", "baseline", "current", "change", "interval/limit",
           "verdict", "history", "why")
_NUMERIC = {3, 4, 5, 8}

_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       margin: 24px auto; max-width: 1180px; padding: 0 16px; color: #1f2328; }
h1 { font-size: 22px; margin: 0 0 6px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.muted { color: #59636e; } .gate { font-weight: 600; }
.warn { background: #fff8c5; border-left: 4px solid #d4a72c; padding: 6px 10px; margin: 6px 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid #d1d9e0; padding: 4px 8px; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; position: sticky; top: 0; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.sub td { color: #59636e; border-bottom: none; padding-top: 1px; padding-bottom: 1px; }
tr.regression, tr.suspicious, tr.improvement, tr.unchanged, tr.new { background: none; }
tr.regression td:first-child { border-left: 4px solid #cf222e; }
tr.suspicious td:first-child { border-left: 4px solid #bf8700; }
tr.error td:first-child { border-left: 4px solid #6e7781; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr));
         gap: 14px; }
.card { border: 1px solid #d1d9e0; border-radius: 6px; padding: 8px 10px; }
.card h3 { font-size: 13px; margin: 0 0 4px; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 12px;
         font-weight: 600; color: #fff; background: #6e7781; white-space: nowrap; }
.dot { display: inline-block; width: 14px; height: 14px; border-radius: 50%;
       background: #6e7781; vertical-align: -1px; }
.regression { background: #cf222e; } .suspicious { background: #bf8700; }
.improvement { background: #1a7f37; } .unchanged { background: #0969da; }
.new { background: #8250df; }
.card img, .wide img { max-width: 100%; height: auto; display: block; }
"""
# No remote anything: images only from data: URIs, styles only inline, no scripts at all.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _esc(text: object, width: int | None = None) -> str:
    line = str(text)
    return escape(middle_ellipsis(line, width) if width else line, quote=True)


def _ident(row: Row, width: int = 60) -> str:
    return " · ".join(_esc(s, width) for s in (row.model, row.variant, row.metric))


def _cells_html(cells: list[str], numeric: set[int] = _NUMERIC) -> str:
    return "".join(
        f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
        for i, c in enumerate(cells))


def _badge(status: str) -> str:
    """A coloured text badge: emoji need a colour-emoji font, which offline machines may lack."""
    if status == "none":
        return "—"
    return f'<span class="badge {_esc(status)}">{_esc(verdict_label(status, icon=False))}</span>'


def _dot(status: str) -> str:
    return f'<span class="dot {_esc(status)}"></span>'


def _row_html(row: Row) -> str:
    verdict = row.record.verdict
    label = _badge(row.status)
    if verdict is not None and verdict.remeasured and row.status in ("regression", "suspicious"):
        label += " (re-measured)"
    if row.note:
        label += ": " + _esc(end_ellipsis(row.note, 300))
    metric = _esc(row.metric, 80) + (f" ({row.direction_hint})" if row.direction_hint else "")
    history_n = verdict.extra.get("history_n") if verdict else None
    cells = [
        _esc(row.model, 80), _esc(row.variant, 80), metric, _esc(row.baseline),
        _esc(row.current), _esc(row.change), _esc(row.bound), label,
        _esc(history_n) if isinstance(history_n, int) else "—", _esc(row.reason),
    ]
    return f'<tr class="{_esc(row.status)}">{_cells_html(cells)}</tr>'


def _sub_rows_html(row: Row) -> list[str]:
    out = []
    if row.normalized_change:
        label, norm, control = row.normalized_change
        cells = ["", "", f"↳ {_esc(label)}", "", "", _esc(norm),
                 _esc(f"control {control}") if control else "", "", "", ""]
        out.append(f'<tr class="sub">{_cells_html(cells)}</tr>')
    for stage in row.stages:
        baseline, current, change = stage.cells()
        cells = ["", "", f"↳ {_esc(stage.name)}", _esc(baseline), _esc(current), _esc(change),
                 "", "", "", ""]
        out.append(f'<tr class="sub">{_cells_html(cells)}</tr>')
    return out


def _table(rows: list[Row], with_sub_rows: bool) -> str:
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    body = []
    for row in rows:
        body.append(_row_html(row))
        if with_sub_rows:
            body += _sub_rows_html(row)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _context(report: RunReport) -> str:
    parts = context_parts(report, _esc)
    return " · ".join([f"device {parts[0]}", *parts[1:]])


def _gate(report: RunReport, counts: dict[str, int]) -> str:
    if report.interrupted:
        return "Gate not passed: the run was interrupted (exit 2)."
    if not report.gate_enforced:
        return "Gate not enforced (report only)."
    return "Gate failed." if counts["regression"] else "Gate passed."


def _img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{_esc(alt)}">'


def _frames_section(rows: list[Row], roots: tuple[str, ...]) -> str:
    seen: set[tuple[str, str]] = set()
    cards = []
    for row in rows:
        extra = row.record.verdict.extra if row.record.verdict else {}
        key = (row.model, row.variant)
        has_paths = extra.get("frames_path") or extra.get("baseline_frames_path")
        if key in seen or not has_paths or len(cards) >= MAX_FRAME_STRIPS:
            continue
        uri = plots.frame_strips(plots.load_strip(extra.get("baseline_frames_path"), roots),
                                 plots.load_strip(extra.get("frames_path"), roots))
        if uri is None:
            continue  # paths given but unreadable: nothing to show, not an error
        seen.add(key)
        title = f"{_esc(row.model, 80)} · {_esc(row.variant, 40)}"
        cards.append(f'<div class="card"><h3>{title}</h3>{_img(uri, "frame strip")}</div>')
    if not cards:
        return ""
    return f'<h2>Frames: baseline against this run</h2><div class="cards">{"".join(cards)}</div>'


def _plots_section(rows: list[Row]) -> str:
    candidates = [r for r in rows if r.record.kind in _PLOTTED_KINDS]
    cards = []
    for row in candidates[:MAX_PLOTS]:
        uri = plots.distribution_and_trend(row)
        if uri is None:
            continue
        title = f"{_ident(row)} · {_badge(row.status)} {_esc(row.change)}"
        cards.append(f'<div class="card"><h3>{title}</h3>{_img(uri, "distribution")}</div>')
    html = ""
    if cards:
        html += ("<h2>Distributions and history</h2><p class=\"muted\">Grey: the baseline "
                 "(earlier runs' summaries and the newest baseline run's samples); coloured: this "
                 "run, by verdict; blue band: prediction interval; dashed red line: the limit."
                 "</p>")
        if len(candidates) > MAX_PLOTS:
            html += (f'<p class="muted">Plots for the first {MAX_PLOTS} of {len(candidates)} '
                     "tests, most severe first.</p>")
        html += f'<div class="cards">{"".join(cards)}</div>'
    memory = plots.memory_bars(rows)
    if memory:
        html += f'<h2>Peak memory</h2><div class="wide">{_img(memory, "memory bars")}</div>'
    return html


def render_html(report: RunReport) -> str:
    """The whole report as one HTML document that needs nothing but a browser."""
    rows = build_rows(report)
    counts = count_rows(rows)
    attention = [r for r in rows if r.status in ("regression", "suspicious")]
    errors = [r for r in rows if r.status == "error"]
    with plots.plot_style(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. missing glyphs for exotic model names
        frames = _frames_section(rows, report.frame_roots)
        figures = _plots_section(rows)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>vidbench report {_esc(report.commit or '')}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{headline(rows, counts, _ident, _dot, _esc, report.interrupted)}</h1>",
        f'<p class="gate">{_esc(counts_sentence(counts))} · {_gate(report, counts)}</p>',
        f'<p class="muted">{_context(report)}</p>',
    ]
    parts += [f'<div class="warn"><strong>Note:</strong> {_esc(end_ellipsis(clean_text(w), 500))}'
              "</div>" for w in report.warnings]
    if attention:
        parts += ["<h2>Regressions and suspicious results</h2>", _table(attention, True)]
    if errors:
        items = "".join(f"<li>{_ident(r, 40)}: {_esc(r.note)}</li>" for r in errors)
        parts += ["<h2>Errors</h2>", f"<ul>{items}</ul>"]
    parts += [frames, figures, f"<h2>All {len(rows)} results</h2>", _table(rows, False)]
    parts.append('<p class="muted"><em>interval/limit</em>: the prediction interval for this '
                 "run, or the limit beyond which it is flagged. Lower is better unless the "
                 "metric says otherwise.</p></body></html>")
    return "\n".join(parts) + "\n"
