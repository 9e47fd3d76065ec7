"""The HTML report: self-contained, with matplotlib plots, frame strips and a real browser check."""

from __future__ import annotations

import base64
import copy
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pytest_vidbench.records import ResultRecord, RunReport, Verdict
from pytest_vidbench.report.demo import demo_report, write_frames
from pytest_vidbench.report.html import render_html
from pytest_vidbench.report.plots import _to_strip, load_strip

DATA_PNG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
REMOTE = re.compile(
    r"""(?:\b(?:src|href|action|poster|data|srcset)\s*=\s*["']?\s*(?:https?:)?//)"""
    r"""|url\(\s*["']?\s*(?:https?:)?//|@import|<script|<link|<iframe|<object""",
    re.IGNORECASE,
)


def _frames_report(tmp_path: Path, **extra: str) -> RunReport:
    record = ResultRecord(
        test_id="t", model="wan-tiny", variant="bf16", metric="clip_score", kind="quality",
        unit="score", direction="higher", value=0.3, samples=[0.3, 0.31],
        verdict=Verdict(status="unchanged", baseline=0.3, change_pct=0.0, extra=dict(extra)),
    )
    return RunReport(records=[record], frame_roots=(str(tmp_path),))


def test_html_is_self_contained_and_has_the_plots(tmp_path: Path) -> None:
    report = demo_report(tmp_path / "frames")
    page = render_html(report)
    assert page.startswith("<!DOCTYPE html>")
    assert not REMOTE.search(page)
    assert "default-src 'none'" in page  # the browser itself refuses any remote load
    images = DATA_PNG.findall(page)
    plotted = [r for r in report.records if r.samples]
    # one figure per plotted test, the memory bars, and the frame strip
    assert len(images) == len(plotted) + 2
    for data in images:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    assert "Frames: baseline against this run" in page
    assert "Peak memory" in page
    # the same tables as the Markdown: attention rows first, then every record
    assert "<h2>Regressions and suspicious results</h2>" in page
    assert f"<h2>All {len(report.records)} results</h2>" in page
    assert "↳ denoising step" in page and "(higher is better)" in page
    assert "RuntimeError: CUDA out of memory" in page


def test_html_skips_missing_or_bad_frames(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, frames=np.array([{"a": 1}], dtype=object))
    for paths in ({"frames_path": str(tmp_path / "missing.npz")},
                  {"frames_path": str(bad), "baseline_frames_path": str(pickled)},
                  {}):
        page = render_html(_frames_report(tmp_path, **paths))
        assert "Frames:" not in page
    assert load_strip(str(pickled), (str(tmp_path),)) is None  # allow_pickle=False


def test_a_results_file_cannot_make_the_report_embed_other_files(tmp_path: Path) -> None:
    inside, outside = tmp_path / "frames", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    path = write_frames(outside, "current", 0)
    assert load_strip(path, (str(inside),)) is None
    assert load_strip(path, ()) is None
    assert load_strip(path, (str(outside),)) is not None
    sneaky = str(inside / ".." / "elsewhere" / Path(path).name)  # resolved before the check
    assert load_strip(sneaky, (str(inside),)) is None
    page = render_html(_frames_report(inside, frames_path=path))
    assert "Frames:" not in page


def test_html_frames_when_only_current_exists(tmp_path: Path) -> None:
    path = write_frames(tmp_path, "current", 0)
    page = render_html(_frames_report(tmp_path, frames_path=path))
    assert "Frames: baseline against this run" in page


@pytest.mark.parametrize("shape", [(9, 3, 16, 24), (9, 16, 24, 3), (9, 16, 24), (16, 24, 3),
                                   (16, 24), (1, 9, 16, 24, 3)])
def test_frame_layouts_become_rgb_strips(shape: tuple[int, ...]) -> None:
    strip = _to_strip(np.full(shape, 0.5, dtype=np.float32), max_frames=4)
    assert strip is not None and strip.dtype == np.uint8
    assert strip.ndim == 3 and strip.shape[0] == 16 and strip.shape[2] == 3
    assert int(strip[0, 0, 0]) == 127


def test_html_renders_forty_records_with_their_plots() -> None:
    # No timing assertion: a loaded CI runner once took 20.9 s here (the suite's own rule).
    report = demo_report()
    records = [copy.deepcopy(r) for r in report.records * 3][:40]
    for i, record in enumerate(records):
        record.model = f"{record.model}-{i}"
    report.records = records
    page = render_html(report)
    assert len(DATA_PNG.findall(page)) > 25


def test_html_caps_plots_for_huge_reports() -> None:
    records = [
        ResultRecord(test_id=f"t{i}", model=f"m{i}", variant="v", metric="latency",
                     kind="latency", unit="s", value=1.0, samples=[1.0, 1.1],
                     verdict=Verdict(status="unchanged", baseline=1.0, change_pct=0.0))
        for i in range(300)
    ]
    page = render_html(RunReport(records=records))
    assert len(DATA_PNG.findall(page)) == 48
    assert "Plots for the first 48 of 300 tests" in page


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    import matplotlib.image

    html_path = tmp_path / "report.html"
    html_path.write_text(render_html(demo_report(tmp_path / "frames")), encoding="utf-8")
    png = tmp_path / "shot.png"
    command = [
        "chromium", "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}",
        "--window-size=1200,2000", html_path.as_uri(),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    assert png.exists() and png.stat().st_size > 50_000
    pixels = matplotlib.image.imread(png)[..., :3]
    not_white = (pixels < 0.9).any(axis=-1).mean()
    assert not_white > 0.05, "the screenshot is (almost) blank"
    # the plots and badges made it onto the page: a share of pixels is clearly coloured
    colourful = (pixels.max(axis=-1) - pixels.min(axis=-1) > 0.3).mean()
    assert colourful > 0.01, f"only {colourful:.2%} coloured pixels: no plots visible?"


def test_the_history_plot_marks_change_points_and_the_segment_judged_against():
    from matplotlib.figure import Figure

    from pytest_vidbench.report.plots import _segments

    ax = Figure().subplots()
    _segments(ax, {"change_points": [3, 7], "segment_start": 7}, 10)
    assert [line.get_xdata()[0] for line in ax.lines] == [3.5, 7.5]
    (shade,) = ax.patches
    assert shade.get_x() == 7.5 and shade.get_width() == 3.0  # runs 8–10
    empty = Figure().subplots()
    _segments(empty, {"change_points": ["x", 99], "segment_start": None}, 10)
    assert not empty.lines and not empty.patches


def test_the_history_plot_rings_the_runs_recorded_although_they_regressed():
    from matplotlib.figure import Figure

    from pytest_vidbench.report.plots import _flagged

    ax = Figure().subplots()
    history = np.array([1.0, 1.0, 1.3, 1.3])
    _flagged(ax, {"history_regressed": [2, 2, 9, "x", True]}, history)
    (rings,) = ax.collections
    assert rings.get_offsets().tolist() == [[3.0, 1.3]]  # run 3 (1-based), once
    assert ax.get_legend().get_texts()[0].get_text() == "recorded although it regressed"
    empty = Figure().subplots()
    _flagged(empty, {}, history)
    assert not empty.collections and empty.get_legend() is None
