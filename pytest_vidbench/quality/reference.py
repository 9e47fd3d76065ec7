"""Compact reference clips stored next to the baselines, for fidelity metrics (PSNR/SSIM/VMAF).

One compressed `.npz` per (model, variant) holds one uint8 clip per (prompt index, seed),
labelled "p<i>/s<seed>". Layout (format 1), chosen so labels need no key sanitising:
    format_version  int64 scalar
    labels          unicode array, labels[i] is clip i's label
    clip_<i>        uint8 TxCxHxW, the reduced clip
    source_<i>      int64 [T, H, W] of the clip it was reduced from
Clips are shrunk to `max_side` px and `max_frames` evenly spaced frames, then further (frames
first, down to `min_frames`, then side, down to `min_side`) until the raw uint8 bytes plus zip
overhead fit `budget_bytes`. Default: 64 px, 8 frames, 200 KB per (model, variant) file.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pytest_vidbench.quality.errors import (
    REFRESH_HINT,
    QualityInputError,
    ReferenceBudgetError,
    ReferenceFileError,
)
from pytest_vidbench.quality.frames import (
    check_frames,
    downscale,
    from_uint8,
    quantize,
    reduced_size,
    resize,
    temporal_indices,
    to_uint8,
)
from pytest_vidbench.store.atomic import write_bytes_atomic

__all__ = [
    "ReferenceClip",
    "ReferenceConfig",
    "ReferenceStore",
    "align_to_reference",
    "downscale",
    "load_references",
    "make_reference_clip",
    "save_references",
]

FORMAT_VERSION = 1
# Zip entry + .npy header per array (~300 B) and deflate's worst-case growth on noise.
_OVERHEAD_PER_CLIP = 1024
_OVERHEAD_FIXED = 2048


@dataclass(frozen=True)
class ReferenceConfig:
    max_side: int = 64  # px; fidelity metrics are computed at this size
    max_frames: int = 8
    budget_bytes: int = 200_000  # per (model, variant) file
    min_side: int = 24  # below ~17 px VMAF cannot run; keep headroom
    min_frames: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.min_side <= self.max_side or not 1 <= self.min_frames <= self.max_frames:
            raise ValueError(f"inconsistent reference config: {self}")


@dataclass(frozen=True, eq=False)
class ReferenceClip:
    """A stored reduced clip, and what it was reduced from (so a current clip can follow)."""

    label: str
    frames: np.ndarray  # uint8 TxCxHxW
    source_frames: int  # T of the original clip
    source_size: tuple[int, int]  # (H, W) of the original clip

    @property
    def size(self) -> tuple[int, int]:
        return int(self.frames.shape[2]), int(self.frames.shape[3])

    @property
    def indices(self) -> list[int]:
        """Which frames of the original clip were kept."""
        return temporal_indices(self.source_frames, self.frames.shape[0])

    def as_tensor(self) -> torch.Tensor:
        return from_uint8(self.frames)

    def reduce(self, frames: torch.Tensor) -> torch.Tensor:
        """Bring a current clip to this reference's frames and size, the way it was made.

        Same frame indices, same resize, same 8-bit rounding: a clip identical to the one
        stored comes out bit-identical to the reference.
        """
        x = check_frames(frames)
        t, _, h, w = x.shape
        if t != self.source_frames or (h, w) != self.source_size:
            raise QualityInputError(
                f"current clip is {t}x{h}x{w} but reference {self.label!r} was made from a"
                f" {self.source_frames}x{self.source_size[0]}x{self.source_size[1]} clip: the"
                f" workload changed; refresh the references ({REFRESH_HINT})"
            )
        return quantize(resize(x[self.indices], self.size))


def make_reference_clip(
    label: str, frames: torch.Tensor, *, max_side: int = 64, max_frames: int = 8
) -> ReferenceClip:
    """Reduce one clip: `max_frames` evenly spaced frames, longer side `max_side`, uint8."""
    x = check_frames(frames, name=f"clip {label!r}")
    t, _, h, w = x.shape
    small = downscale(x[temporal_indices(t, max_frames)], max_side)
    return ReferenceClip(label, to_uint8(small), t, (h, w))


def align_to_reference(
    frames: torch.Tensor, reference: object
) -> tuple[torch.Tensor, torch.Tensor]:
    """(current, reference) as float tensors of equal shape, for a fidelity metric.

    With a `ReferenceClip`, the current clip is reduced exactly as the reference was. With a
    tensor of another shape, the current clip is subsampled evenly in time, resized to the
    reference's (H, W) when the aspect ratio agrees, and rounded to 8 bits, as stored
    references are; anything else raises QualityInputError.
    """
    x = check_frames(frames)
    if isinstance(reference, ReferenceClip):
        return reference.reduce(x), reference.as_tensor()
    ref = check_frames(reference, name="reference")
    if ref.shape == x.shape:
        return x, ref
    (t, _, h, w), (rt, _, rh, rw) = x.shape, ref.shape
    if rt > t or reduced_size(h, w, max(rh, rw)) != (rh, rw):
        raise QualityInputError(
            f"current clip {t}x{h}x{w} cannot be brought to the reference's {rt}x{rh}x{rw}"
            " (fewer frames, larger, or a different aspect ratio)"
        )
    return quantize(resize(x[temporal_indices(t, rt)], (rh, rw))), ref


def _plan(shapes: list[tuple[int, int, int]], config: ReferenceConfig) -> tuple[int, int]:
    """The largest (max_side, max_frames) whose clips fit the budget; frames give way first."""

    def cost(side: int, n: int) -> int:
        raw = sum(min(t, n) * 3 * np.prod(reduced_size(h, w, side)) for t, h, w in shapes)
        return int(raw) + _OVERHEAD_FIXED + _OVERHEAD_PER_CLIP * len(shapes)

    side, n = config.max_side, config.max_frames
    while cost(side, n) > config.budget_bytes and n > config.min_frames:
        n -= 1
    while cost(side, n) > config.budget_bytes and side > config.min_side:
        side -= 1
    if cost(side, n) > config.budget_bytes:
        raise ReferenceBudgetError(
            f"{len(shapes)} reference clip(s) need {cost(side, n)} bytes even at"
            f" {n} frames and {side} px, over the {config.budget_bytes}-byte budget:"
            " raise the budget or benchmark fewer prompts x seeds"
        )
    return side, n


def save_references(
    path: str | Path,
    clips: Mapping[str, torch.Tensor],
    config: ReferenceConfig | None = None,
) -> dict[str, ReferenceClip]:
    """Reduce `clips` (label → full clip) to fit the budget and write them atomically.

    Writes a temp file in the same directory, then `os.replace`s it over `path`, so a reader
    never sees a half-written file. Returns the stored clips.
    """
    config = config or ReferenceConfig()
    if not clips:
        raise ValueError("no reference clips to save")
    for label in clips:
        # numpy string arrays drop trailing NULs, so such a label would not round-trip.
        if not isinstance(label, str) or not label or "\x00" in label:
            raise ValueError(f"labels must be non-empty strings without NUL, got {label!r}")
    checked = {label: check_frames(c, name=f"clip {label!r}") for label, c in clips.items()}
    shapes = [(c.shape[0], c.shape[2], c.shape[3]) for c in checked.values()]
    side, n = _plan(shapes, config)
    stored = {
        label: make_reference_clip(label, c, max_side=side, max_frames=n)
        for label, c in checked.items()
    }
    arrays: dict[str, np.ndarray] = {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "labels": np.array(list(stored), dtype=np.str_),
    }
    for i, clip in enumerate(stored.values()):
        arrays[f"clip_{i}"] = clip.frames
        arrays[f"source_{i}"] = np.array([clip.source_frames, *clip.source_size], dtype=np.int64)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_bytes_atomic(Path(path), buffer.getvalue())
    return stored


def _read(path: Path) -> dict[str, np.ndarray]:
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive (a bare .npy array)")
        with data:
            return {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise
    except Exception as exc:  # any parse failure of untrusted bytes is the same user problem
        raise ReferenceFileError(path, f"cannot be read ({type(exc).__name__}: {exc})") from exc


def load_references(path: str | Path) -> dict[str, ReferenceClip]:
    """Read a reference file; raises FileNotFoundError if absent, ReferenceFileError if bad."""
    path = Path(path)
    arrays = _read(path)

    def fail(problem: str) -> ReferenceFileError:
        return ReferenceFileError(path, problem)

    version = arrays.get("format_version")
    if version is None or version.shape != () or version.dtype.kind not in "iu":
        raise fail("no integer format_version")
    if int(version) != FORMAT_VERSION:
        raise fail(f"format version {int(version)}, expected {FORMAT_VERSION}")
    labels = arrays.get("labels")
    if labels is None or labels.ndim != 1 or labels.dtype.kind != "U":
        raise fail("no 1-D string array of labels")
    if len(set(labels.tolist())) != len(labels):
        raise fail("duplicate labels")
    clips: dict[str, ReferenceClip] = {}
    for i, label in enumerate(labels.tolist()):
        frames, source = arrays.get(f"clip_{i}"), arrays.get(f"source_{i}")
        if frames is None or source is None:
            raise fail(f"clip {label!r} (index {i}) is missing its arrays")
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1] != 3:
            raise fail(
                f"clip {label!r} is {frames.dtype} {frames.shape}, expected uint8 Tx3xHxW"
            )
        if min(frames.shape) < 1:
            raise fail(f"clip {label!r} is empty {frames.shape}")
        if source.dtype.kind not in "iu" or source.shape != (3,):
            raise fail(f"clip {label!r} has a bad source shape record {source!r}")
        st, sh, sw = (int(v) for v in source)
        t, _, h, w = frames.shape
        if min(st, sh, sw) < 1 or st < t or (h, w) != reduced_size(sh, sw, max(h, w)):
            raise fail(f"clip {label!r} ({t}x{h}x{w}) cannot come from a {st}x{sh}x{sw} clip")
        clips[label] = ReferenceClip(label, frames, st, (sh, sw))
    return clips


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def reference_path(directory: str | Path, model: str, variant: str) -> Path:
    """Where the (model, variant) reference file lives, e.g. references/wan-tiny__fp32.npz."""

    def safe(part: str) -> str:
        return _UNSAFE.sub("_", part).strip("._") or "_"

    return Path(directory) / "references" / f"{safe(model)}__{safe(variant)}.npz"


class ReferenceStore:
    """The reference files under a baselines directory, one per (model, variant)."""

    def __init__(self, directory: str | Path, config: ReferenceConfig | None = None) -> None:
        self.directory = Path(directory)
        self.config = config or ReferenceConfig()

    def path(self, model: str, variant: str) -> Path:
        return reference_path(self.directory, model, variant)

    def save(
        self, model: str, variant: str, clips: Mapping[str, torch.Tensor]
    ) -> dict[str, ReferenceClip]:
        return save_references(self.path(model, variant), clips, self.config)

    def load(self, model: str, variant: str) -> dict[str, ReferenceClip] | None:
        """The stored clips, or None when this (model, variant) has no reference file yet."""
        try:
            return load_references(self.path(model, variant))
        except FileNotFoundError:
            return None
