"""Matplotlib figures for the HTML report, returned as base64 PNG data URIs.

Figures are built with `matplotlib.figure.Figure` on an Agg canvas, never through pyplot:
no global figure registry to leak, no GUI backend chosen behind the user's back, and each
figure is freed when it goes out of scope.
"""

from __future__ import annotations

import base64
import io
import os
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pytest_vidbench.records import ResultRecord
from pytest_vidbench.report.format import middle_ellipsis, unit_scale
from pytest_vidbench.report.rows import Row, finite_floats

DPI = 80  # small PNGs: ~40 of them must render in seconds and keep the file light
MAX_FRAMES_BYTES = 64 * 2**20  # larger .npz files are not a frame strip: skip them
STATUS_COLORS = {
    "regression": "#cf222e", "suspicious": "#bf8700", "improvement": "#1a7f37",
    "unchanged": "#0969da", "new": "#8250df", "incomparable": "#6e7781", "error": "#6e7781",
    "skipped": "#6e7781", "none": "#6e7781",
}
BASELINE_COLOR = "#8c959f"
_RC = {
    "text.parse_math": False,  # a "$" in a model name must not be read as TeX
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


@contextmanager
def plot_style() -> Iterator[None]:
    with mpl.rc_context(_RC):
        yield


def to_data_uri(fig: Figure) -> str:
    FigureCanvasAgg(fig)  # attach an Agg canvas: no pyplot, no backend switch
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _scale(record: ResultRecord, values: Sequence[float]) -> tuple[float, str]:
    magnitude = float(np.median(np.abs(values))) if len(values) else 0.0
    divisor, suffix = unit_scale(record.unit, magnitude)
    return divisor, suffix.strip() or record.unit or "value"


def _bounds(record: ResultRecord) -> tuple[tuple[float, float] | None, float | None]:
    verdict = record.verdict
    if verdict is None:
        return None, None
    interval = verdict.interval if verdict.interval is not None else None
    return interval, verdict.limit


def distribution_and_trend(row: Row) -> str | None:
    """Left: baseline history, baseline samples and this run's samples as strips (with boxes).
    Right: the history of run summaries with this run as the last point."""
    record = row.record
    extra: dict[str, Any] = record.verdict.extra if record.verdict else {}
    history = finite_floats(extra.get("history_values"))
    baseline_samples = finite_floats(extra.get("baseline_samples"))
    current = finite_floats(record.samples)
    value = record.value
    if not (history or baseline_samples or current):
        return None
    interval, limit = _bounds(record)
    divisor, unit_label = _scale(record, history + baseline_samples + current)
    color = STATUS_COLORS.get(row.status, BASELINE_COLOR)

    fig = Figure(figsize=(7.2, 2.4))
    # Fixed margins: constrained layout would double the rendering time of the report.
    fig.subplots_adjust(left=0.085, right=0.985, bottom=0.24, top=0.9, wspace=0.22)
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.25])
    groups = [(label, vals, c) for label, vals, c in (
        ("history\n(run summaries)", history, BASELINE_COLOR),
        ("baseline run\n(samples)", baseline_samples, BASELINE_COLOR),
        ("this run\n(samples)", current, color),
    ) if vals]
    rng = np.random.default_rng(0)  # fixed jitter: the same report renders the same picture
    for i, (_, vals, c) in enumerate(groups):
        y = np.asarray(vals) / divisor
        if len(y) >= 5:
            left.boxplot(y, positions=[i], widths=0.55, showfliers=False,
                         medianprops={"color": c}, boxprops={"color": "#57606a"},
                         whiskerprops={"color": "#57606a"}, capprops={"color": "#57606a"})
        left.scatter(i + rng.uniform(-0.14, 0.14, len(y)), y, s=10, color=c, alpha=0.7,
                     zorder=3, linewidths=0)
    left.set_xticks(range(len(groups)), [g[0] for g in groups])
    left.set_xlim(-0.6, len(groups) - 0.4)
    left.set_ylabel(unit_label)
    left.set_title("distribution")
    for ax in (left, right):
        if interval is not None:
            ax.axhspan(interval[0] / divisor, interval[1] / divisor, color="#0969da", alpha=0.08)
        if limit is not None:
            ax.axhline(limit / divisor, color="#cf222e", linestyle="--", linewidth=1)

    if history:
        xs = np.arange(1, len(history) + 1)
        _segments(right, extra, len(history))
        right.plot(xs, np.asarray(history) / divisor, marker="o", markersize=3,
                   color=BASELINE_COLOR, linewidth=1)
        _flagged(right, extra, np.asarray(history) / divisor)
        if value is not None:
            right.scatter([len(history) + 1], [value / divisor], s=36, color=color, zorder=4)
        right.set_xlabel("run, oldest to newest (last: this run)")
        right.xaxis.get_major_locator().set_params(integer=True)
    else:
        right.text(0.5, 0.5, "no history yet", ha="center", va="center",
                   transform=right.transAxes, color="#57606a")
        right.set_axis_off()
    right.set_title("history")
    return to_data_uri(fig)


def _flagged(ax: Any, extra: dict[str, Any], history: np.ndarray) -> None:
    """Runs recorded although they regressed (--vidbench-accept-regressions): red rings."""
    flagged = sorted({i for i in extra.get("history_regressed") or []
                      if isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(history)})
    if flagged:
        ax.scatter(np.asarray(flagged) + 1, history[flagged], s=48, facecolors="none",
                   edgecolors="#cf222e", linewidths=1.2, zorder=4,
                   label="recorded although it regressed")
        ax.legend(loc="lower left", fontsize=7, frameon=False)


def _segments(ax: Any, extra: dict[str, Any], n: int) -> None:
    """Change points as dashed lines; the newest stable segment, judged against, shaded."""
    points = [int(c) for c in extra.get("change_points") or []
              if isinstance(c, int | float) and 0 < c < n]
    for c in points:  # index c starts a new level: between runs c and c + 1 (1-based)
        ax.axvline(c + 0.5, color="#8250df", linestyle=":", linewidth=1.2)
    start = extra.get("segment_start")
    if isinstance(start, int) and 0 < start < n:
        ax.axvspan(start + 0.5, n + 0.5, color="#8250df", alpha=0.07)
        ax.text(start + 0.6, 0.97, "judged against", transform=ax.get_xaxis_transform(),
                va="top", fontsize=7, color="#8250df")


def memory_bars(rows: Sequence[Row], max_bars: int = 30) -> str | None:
    """Baseline against current peak memory, one pair of bars per test."""
    rows = [r for r in rows if r.record.kind == "memory" and r.record.value is not None][:max_bars]
    if not rows:
        return None
    base = [r.record.verdict.baseline if r.record.verdict and r.record.verdict.baseline
            else 0.0 for r in rows]
    current = [float(r.record.value or 0.0) for r in rows]
    divisor, suffix = unit_scale("B", max(base + current))
    y = np.arange(len(rows))
    fig = Figure(figsize=(11, 0.9 + 0.3 * len(rows)), layout="constrained")
    ax = fig.subplots()
    ax.barh(y - 0.2, np.asarray(base) / divisor, height=0.38, color=BASELINE_COLOR)
    ax.barh(y + 0.2, np.asarray(current) / divisor, height=0.38,
            color=[STATUS_COLORS.get(r.status, BASELINE_COLOR) for r in rows])
    for i, (row, value) in enumerate(zip(rows, current, strict=True)):
        note = f" {row.current}" + (f" ({row.change})" if row.change != "—" else "")
        ax.text(value / divisor, i + 0.2, note, va="center", fontsize=7, color="#1f2328")
    ax.set_xlim(0, (max(base + current) or 1.0) / divisor * 1.18)  # room for the value labels
    labels = [middle_ellipsis(f"{r.model} · {r.variant} · {r.metric}", 48) for r in rows]
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel(suffix.strip())
    ax.set_title("peak memory: baseline (grey, upper bar) against this run (lower bar, coloured "
                 "by verdict)")
    return to_data_uri(fig)


def _inside(path: str, roots: Sequence[str]) -> bool:
    real = os.path.realpath(path)
    return any(os.path.commonpath([real, os.path.realpath(r)]) == os.path.realpath(r)
               for r in roots if r)


def load_strip(path: object, roots: Sequence[str] = (), max_frames: int = 4
               ) -> np.ndarray | None:
    """A few evenly spaced frames side by side as H x W x 3 uint8, or None if unreadable or
    outside `roots` (the report's frame directories: a crafted results file must not make
    the report embed any other file)."""
    if not isinstance(path, str) or not path.endswith(".npz") or not os.path.isfile(path) \
            or not _inside(path, roots):
        return None
    try:
        if os.path.getsize(path) > MAX_FRAMES_BYTES:
            return None
        with np.load(path, allow_pickle=False) as data:
            if not data.files:
                return None
            # a reference file (store/references.py) keeps its first clip as clip_0
            name = next((n for n in ("frames", "clip_0") if n in data.files), data.files[0])
            array = np.asarray(data[name])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    return _to_strip(array, max_frames)


def _to_strip(array: np.ndarray, max_frames: int) -> np.ndarray | None:
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.number) or array.size == 0:
            return None
        array = np.nan_to_num(array.astype(np.float64))
        scale = 255.0 if array.max(initial=0.0) <= 1.0 else 1.0  # [0, 1] floats or 0..255
        array = np.clip(array * scale, 0, 255).astype(np.uint8)
    while array.ndim > 4:  # e.g. batch x T x H x W x C: the first video
        array = array[0]
    if array.ndim == 2:
        frames = array[None, ..., None]
    elif array.ndim == 3:
        # H x W x C (one image, maybe already a strip) or T x H x W (grey frames)
        frames = array[None] if array.shape[-1] in (1, 3, 4) else array[..., None]
    elif array.ndim == 4:
        channels_first = array.shape[-1] not in (1, 3, 4) and array.shape[1] in (1, 3, 4)
        frames = array.transpose(0, 2, 3, 1) if channels_first else array
    else:
        return None
    if frames.shape[0] == 0 or frames.shape[-1] not in (1, 3, 4) or 0 in frames.shape[1:3]:
        return None
    frames = frames[..., :3] if frames.shape[-1] >= 3 else np.repeat(frames, 3, axis=-1)
    picks = np.unique(np.linspace(0, frames.shape[0] - 1, min(max_frames, frames.shape[0]))
                      .round().astype(int))
    gap = np.full((frames.shape[1], 2, 3), 255, dtype=np.uint8)
    parts: list[np.ndarray] = []
    for i in picks:
        parts += [frames[i], gap]
    return np.concatenate(parts[:-1], axis=1)


def frame_strips(baseline: np.ndarray | None, current: np.ndarray | None) -> str | None:
    """Baseline strip above this run's strip, each labelled."""
    strips = [(label, s) for label, s in (("baseline", baseline), ("this run", current))
              if s is not None]
    if not strips:
        return None
    aspect = max(s.shape[0] / s.shape[1] for _, s in strips)
    width = 7.2
    fig = Figure(figsize=(width, 0.35 + len(strips) * (width * aspect + 0.25)),
                 layout="constrained")
    axes = fig.subplots(len(strips), 1, squeeze=False)[:, 0]
    for ax, (label, strip) in zip(axes, strips, strict=True):
        ax.imshow(strip, interpolation="nearest")
        ax.set_title(label, loc="left")
        ax.set_axis_off()
    return to_data_uri(fig)
