"""Renderers: value formatting, the terminal table and gate section, the Markdown PR comment."""

from __future__ import annotations

import re
from typing import Any

import pytest
from markdown_it import MarkdownIt

from pytest_vidbench.records import ResultRecord, RunReport, Verdict
from pytest_vidbench.report import (
    MARKER,
    append_github_step_summary,
    render_gate_section,
    render_markdown,
    render_terminal,
)
from pytest_vidbench.report.demo import demo_report
from pytest_vidbench.report.format import (
    counts_sentence,
    display_width,
    format_change,
    format_range,
    format_value,
    middle_ellipsis,
    significant,
)

# ---------------------------------------------------------------- a small record factory


def rec(
    model: str = "wan-tiny",
    variant: str = "bf16",
    metric: str = "latency",
    status: str | None = "unchanged",
    *,
    kind: str = "latency",
    unit: str = "s",
    direction: str = "lower",
    value: float | None = 1.0,
    baseline: float | None = 1.0,
    change: float | None = None,
    record_status: str = "ok",
    error: str | None = None,
    stages: dict[str, list[float]] | None = None,
    extra: dict[str, Any] | None = None,
    **verdict_kw: Any,
) -> ResultRecord:
    verdict = None
    if status is not None:
        if change is None and baseline and value is not None:
            change = (value / baseline - 1) * 100
        verdict = Verdict(status=status, baseline=baseline, change_pct=change,
                          extra=extra or {}, **verdict_kw)
    return ResultRecord(
        test_id=f"bench.py::test[{model}-{variant}-{metric}]", model=model, variant=variant,
        metric=metric, kind=kind, unit=unit, direction=direction, value=value,
        samples=[] if value is None else [value] * 3, stages=stages, status=record_status,
        error=error, verdict=verdict,
    )


def report_of(records: list[ResultRecord], **kw: Any) -> RunReport:
    return RunReport(records=records, **kw)


def spec_report() -> RunReport:
    """The brief's example: 2 regressions, 1 suspicious, 14 unchanged, 1 improvement, 3 new."""
    stages = {"text_encoder": [0.05, 0.05], "denoise_step": [0.2, 0.21], "vae_decode": [0.3]}
    records = [
        rec("ltx-tiny", metric="latency", status="regression", value=1.1, baseline=1.0,
            limit=1.05, stages=stages,
            extra={"baseline_stages": {"text_encoder": [0.05], "denoise_step": [0.15]}}),
        rec("wan-tiny", metric="latency", status="regression", value=1.5, baseline=1.0,
            interval=(0.9, 1.1), stages=stages),
        rec("cog-tiny", status="suspicious", value=1.04),
        *[rec(f"model-{i:02d}") for i in range(14)],
        rec("svd-tiny", status="improvement", value=0.8),
        *[rec(f"new-{i}", status="new", baseline=None) for i in range(3)],
    ]
    return report_of(records, commit="abc1234", baseline_commit="def5678",
                     environment={"device_name": "NVIDIA H100 80GB HBM3", "device_kind": "cuda",
                                  "torch": "2.13.0", "diffusers": "0.36.0"},
                     repeats="2 warm-up, 5 rounds", wall_seconds=600.0, timed_seconds=400.0)


# ---------------------------------------------------------------- format


@pytest.mark.parametrize(("value", "unit", "expected"), [
    (0.1234, "s", "123 ms"),
    (1.5, "s", "1.50 s"),
    (12.345, "s", "12.3 s"),
    (0.0000123, "s", "12.3 µs"),
    (9.9996, "s", "10.0 s"),
    (1234.4, "s", "1234 s"),
    (512, "B", "512 B"),
    (1536, "B", "1.50 KiB"),
    (820 * 2**20, "B", "820 MiB"),
    (3 * 2**30, "B", "3.00 GiB"),
    (12400, "J", "12.4 kJ"),
    (5.0, "J", "5.00 J"),
    (31.234, "dB", "31.2 dB"),
    (0.8734, "score", "0.873"),
    (1.234, "px", "1.23 px"),
    (-0.5, "score", "-0.500"),
    (0.0, "s", "0 s"),
    (None, "s", "—"),
])
def test_format_value(value: float | None, unit: str, expected: str) -> None:
    assert format_value(value, unit) == expected


def test_significant_never_uses_exponents() -> None:
    for x in (1e-9, 3.3e-7, 0.1, 1.0, 99.95, 1e6, 123456789.0):
        assert "e" not in significant(x)


@pytest.mark.parametrize(("pct", "expected"), [
    (12.345, "+12.3%"), (-4.0, "-4.0%"), (0.01, "0.0%"), (250.0, "+250%"), (None, "—"),
])
def test_format_change(pct: float | None, expected: str) -> None:
    assert format_change(pct) == expected


def test_format_range_uses_one_scale() -> None:
    assert format_range(0.95, 1.05, "s") == "0.950\u20131.05 s"
    assert format_range(0.2, 0.4, "s") == "200\u2013400 ms"


def test_counts_sentence_matches_the_brief() -> None:
    counts = {"regression": 2, "suspicious": 1, "unchanged": 14, "improvement": 1, "new": 3}
    expected = "2 regressions, 1 suspicious, 14 unchanged, 1 improvement, 3 new"
    assert counts_sentence(counts) == expected
    assert counts_sentence({"regression": 1, "error": 2}) == "1 regression, 2 errors"
    assert counts_sentence({}) == "no results"


def test_middle_ellipsis_keeps_both_ends_and_counts_wide_characters() -> None:
    name = "stabilityai/stable-video-diffusion-img2vid-xt-1-1"
    short = middle_ellipsis(name, 20)
    assert display_width(short) == 20 and short.startswith("stabil") and short.endswith("-1-1")
    wide = middle_ellipsis("模型" * 20, 11)
    assert display_width(wide) <= 11 and "…" in wide


# ---------------------------------------------------------------- terminal


def _verdict_column(line: str) -> str:
    return line.rstrip().rsplit("  ", 1)[-1].strip()


def test_terminal_fits_100_columns_and_puts_regressions_first() -> None:
    report = demo_report()
    long = "org/" + "very-long-model-name-" * 8 + "v2"
    report.records.append(rec(long, variant="int8-" * 10, metric="peak_vram_" * 6,
                              status="regression", kind="memory", unit="B",
                              value=3 * 2**30, baseline=2 * 2**30, limit=2.1 * 2**30))
    report.records.append(rec("视频模型" * 10, status="unchanged"))
    lines = render_terminal(report, width=100)
    assert all(len(line) <= 100 and display_width(line) <= 100 for line in lines)
    rows = [line for line in lines[2:-1]
            if not line.startswith(("    ", "skipped ("))]
    verdicts = [_verdict_column(line) for line in rows]
    order = ["regression", "suspicious", "error", "improvement", "new", "incomparable",
             "unchanged"]
    assert verdicts == sorted(verdicts, key=order.index)
    assert verdicts[:4] == ["regression"] * 4
    # the long name is shortened in the middle: its start and its end survive
    line = next(r for r in rows if r.startswith("org/"))
    assert "…" in line.split("  ")[0] and line.split("  ")[0].endswith("v2")


def test_terminal_narrow_width_still_fits() -> None:
    for width in (60, 80, 120):
        assert all(display_width(x) <= width for x in render_terminal(demo_report(), width))


def test_terminal_stage_sub_rows_under_regressed_latency() -> None:
    lines = render_terminal(spec_report())
    first = lines.index(next(x for x in lines if x.startswith("wan-tiny")))
    ltx = lines.index(next(x for x in lines if x.startswith("ltx-tiny")))
    assert first < ltx  # +50% is worse than +10%: worst first
    subs = lines[ltx + 1: ltx + 4]
    assert [s.strip().split("  ")[0] for s in subs] == [
        "↳ text encoder", "↳ denoising step", "↳ VAE decode"]
    assert "50.0 ms" in subs[0] and "150 ms" in subs[1] and "205 ms" in subs[1]
    assert "—" in subs[2] and "300 ms" in subs[2]  # no baseline samples for the VAE: current only
    # unchanged rows never get stage sub-rows
    assert sum("↳" in x for x in lines) == 6


def test_regressed_latency_says_what_it_was_normalised_by() -> None:
    records = [
        rec("ltx-tiny", status="regression", value=1.3, baseline=1.0, limit=1.1,
            extra={"normalized_change_pct": 27.5, "decided_on": "raw+peers"}),
        rec("wan-tiny", status="regression", value=1.3, baseline=1.0, limit=1.1,
            extra={"normalized_change_pct": 29.0, "decided_on": "raw+control"}),
    ]
    text = "\n".join(render_terminal(report_of(records)))
    assert "↳ normalised by the other models +27.5%" in text
    assert "↳ normalised by the control +29.0%" in text
    comment = render_markdown(report_of(records))
    assert "↳ normalised by the other models" in comment and "+27.5%" in comment


def test_terminal_summary_line_is_the_counts() -> None:
    lines = render_terminal(spec_report())
    assert lines[-1] == "2 regressions, 1 suspicious, 14 unchanged, 1 improvement, 3 new"


def test_terminal_shows_errors_skips_and_missing_values() -> None:
    report = report_of([
        rec("oom", status=None, value=None, record_status="error",
            error="CUDA out of memory\nat x"),
        rec("skip", status=None, value=None, record_status="skipped", error="no NVML energy"),
        rec("plain", status=None),
    ])
    text = "\n".join(render_terminal(report))
    assert "error: CUDA out of memory at x" in text
    assert "skipped (1): no NVML energy (skip latency)" in text
    assert text.splitlines()[-1] == "1 error, 1 skipped, 1 without verdict"


def test_terminal_groups_skips_by_reason_and_folds_a_single_variant() -> None:
    reason = "energy needs an NVIDIA GPU's NVML energy counter; this run is on the CPU"
    report = report_of([rec(f"model-{i}", metric="energy", status=None, value=None,
                            record_status="skipped", error=reason) for i in range(6)]
                       + [rec("wan-tiny", variant="fp32", status="unchanged")])
    lines = render_terminal(report, width=80)
    assert lines[0].split() == ["model", "[fp32]", "metric", "baseline", "current", "change",
                                "limit", "verdict"]
    assert lines[2].split()[:2] == ["wan-tiny", "latency"]  # no variant column
    text = " ".join(" ".join(lines).split())
    assert f"skipped (6): {reason} (model-0 energy, model-1 energy" in text
    assert "and 2 more)" in text and text.count("NVML energy counter") == 1
    assert all(display_width(x) <= 80 for x in lines)
    assert lines[-1] == "1 unchanged, 6 skipped"


def test_gate_section() -> None:
    report = spec_report()
    lines = render_gate_section(report)
    assert lines[-1] == "vidbench gate: FAILED (2 regressions)"
    assert "REGRESSION wan-tiny [bf16] latency: 1.00 s -> 1.50 s (+50.0%" in lines[0]
    assert any("10 min 00 s wall, 6 min 40 s timed generation (wall/timed 1.50\u00d7)" in x
               for x in lines)
    report.gate_enforced = False
    assert render_gate_section(report)[-1] == (
        "vidbench gate: not enforced (report only; 2 regressions)")
    clean = report_of([rec()])
    assert render_gate_section(clean) == ["vidbench gate: passed (no regressions)"]


# ---------------------------------------------------------------- markdown

MD = MarkdownIt("commonmark").enable("table")


def md_tables(text: str) -> list[list[list[str]]]:
    """Every table as rows of cell texts (header row first), as GitHub would show them."""
    tables: list[list[list[str]]] = []
    row: list[str] | None = None
    for token in MD.parse(text):
        if token.type == "table_open":
            tables.append([])
        elif token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append("".join(c.content for c in token.children or []))
        elif token.type == "tr_close":
            tables[-1].append(row or [])
            row = None
    return tables


def inline_text(source: str) -> str:
    """The text a reader sees for one line of Markdown (escapes and entities resolved)."""
    tokens = MD.parseInline(source)
    return "".join(c.content for c in tokens[0].children or [])


def headline_counts(text: str) -> dict[str, int]:
    line = text.split("\n\n")[2]
    words = {"regression": "regression", "regressions": "regression", "suspicious": "suspicious",
             "unchanged": "unchanged", "improvement": "improvement", "improvements": "improvement",
             "new": "new", "incomparable": "incomparable", "error": "error", "errors": "error",
             "skipped": "skipped"}
    return {words[w]: int(n) for n, w in re.findall(r"(\d+) ([a-z]+)", line) if w in words}


def table_counts(table: list[list[str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for cells in table[1:]:
        status = re.sub(r"^\W+", "", cells[-1]).split(" ")[0].rstrip(":")
        counts[status] = counts.get(status, 0) + 1
    return counts


def test_markdown_structure() -> None:
    report = spec_report()
    text = render_markdown(report)
    assert text.startswith(MARKER + "\n")
    assert len(text) < 65536
    attention, full = md_tables(text)
    assert all(len(r) == 8 for r in attention + full)
    assert attention[0] == ["model", "variant", "metric", "baseline", "current", "change",
                            "interval/limit", "verdict"]
    # 2 regressions (one with 3 stages, one with 3 current-only stages) + 1 suspicious
    assert [r[0] for r in attention[1:] if r[0]] == ["wan-tiny", "ltx-tiny", "cog-tiny"]
    assert sum(r[2].startswith("↳") for r in attention) == 6
    assert len(full) - 1 == len(report.records)
    assert headline_counts(text) == table_counts(full) == {
        "regression": 2, "suspicious": 1, "unchanged": 14, "improvement": 1, "new": 3}
    headline = text.split("\n\n")[1]
    assert headline.startswith("### 🔴 2 regressions; worst: wan-tiny · bf16 · latency +50.0%")
    assert "(1.00 s → 1.50 s)" in headline
    assert "gate **failed**" in text.split("\n\n")[2]
    context = inline_text(text.split("\n\n")[3])
    for part in ("NVIDIA H100 80GB HBM3", "torch 2.13.0", "diffusers 0.36.0", "abc1234",
                 "def5678", "repeats: 2 warm-up, 5 rounds", "wall/timed 1.50"):
        assert part in context
    assert "<details>" in text and "</details>" in text


def test_markdown_without_regressions_says_so() -> None:
    text = render_markdown(report_of([rec(), rec("b", status="improvement", value=0.5)]))
    assert "### ✅ No regressions" in text
    assert "Regressions and suspicious" not in text
    assert md_tables(text)[0][1][-1] == "🟢 improvement"
    nothing = render_markdown(report_of([rec(status="new", baseline=None)]))
    assert "nothing was compared" in nothing.split("\n\n")[1]


def test_markdown_quality_direction_warnings_and_errors() -> None:
    report = report_of(
        [rec("m", metric="clip_score", kind="quality", unit="score", direction="higher",
             value=0.3, baseline=0.31, status="regression"),
         rec("m", status="error", value=None, record_status="error", error="boom | <b>x</b>")],
        warnings=["incomparable environment: baseline ran on an A100"],
    )
    text = render_markdown(report)
    full = md_tables(text)[-1]
    assert full[1][2] == "clip_score (higher is better)"
    assert full[2][-1] == "❌ error: boom | <b>x</b>"
    blockquotes = [t for t in MD.parse(text) if t.type == "blockquote_open"]
    assert blockquotes and "> ⚠️ incomparable environment: baseline ran on an A100" in text
    assert "- m · bf16 · latency: boom \\| &lt;b&gt;x&lt;/b&gt;" in text


def _huge_report(n: int, regressions: int) -> RunReport:
    records = [rec(f"model-{i:04d}-" + "x" * 40, status="regression", value=2.0, baseline=1.0,
                   change=100.0 + i, limit=1.1) for i in range(regressions)]
    records += [rec(f"model-{i:04d}-" + "y" * 40) for i in range(regressions, n)]
    return report_of(records)


def test_markdown_truncation_keeps_headline_and_regressions() -> None:
    report = _huge_report(5000, 40)
    text = render_markdown(report)
    assert len(text.encode()) <= 65536
    assert text.startswith(MARKER)
    assert headline_counts(text) == {"regression": 40, "unchanged": 4960}
    assert "worst: model-0039-" in text.split("\n\n")[1]
    assert "Shortened to fit GitHub's 65,536-character comment limit" in text
    attention, full = md_tables(text)
    assert len(attention) - 1 == 40
    assert 1 < len(full) - 1 < 5000
    assert f"First {len(full) - 1} of 5000 results (truncated)" in text


def test_markdown_truncation_when_regressions_alone_overflow() -> None:
    text = render_markdown(_huge_report(5000, 5000))
    assert len(text.encode()) <= 65536
    assert headline_counts(text) == {"regression": 5000}
    (attention,) = md_tables(text)
    assert 10 < len(attention) - 1 < 5000
    assert f"and {5000 - (len(attention) - 1)} more not shown" in text


def test_markdown_tiny_budget_keeps_marker_and_headline() -> None:
    text = render_markdown(spec_report(), max_chars=300)
    assert len(text.encode()) <= 300
    assert text.startswith(MARKER) and "### 🔴 2 regressions" in text


def test_step_summary(tmp_path: Any) -> None:
    target = tmp_path / "summary.md"
    assert append_github_step_summary("# one", env={}) is False
    env = {"GITHUB_STEP_SUMMARY": str(target)}
    assert append_github_step_summary("# one", env=env)
    assert append_github_step_summary("# two\n", env=env)
    assert target.read_text(encoding="utf-8") == "# one\n# two\n"


def test_an_interrupted_run_never_reads_as_complete_or_passed() -> None:
    from pytest_vidbench.report import render_html

    records = [rec("ltx-tiny"), rec("wan-tiny")]
    whole = render_markdown(report_of(records))
    cut = render_markdown(report_of(records, interrupted=True))
    assert "gate passed" in whole and "interrupted" not in whole
    headline = next(line for line in cut.splitlines() if line.startswith("### "))
    assert headline.endswith("No regressions; interrupted: only the tests that finished")
    assert "gate passed" not in cut and "gate **not passed**: the run was interrupted" in cut
    page = render_html(report_of(records, interrupted=True))
    assert "Gate not passed: the run was interrupted (exit 2)." in page
    gate = render_gate_section(report_of(records, interrupted=True))
    assert "NOT passed: the run was interrupted" in gate[-1]
