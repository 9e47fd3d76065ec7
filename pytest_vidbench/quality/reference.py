"""Compact reference clips for fidelity metrics (PSNR/SSIM/VMAF): how a clip is reduced,
and how a current clip is brought to a reference. Storing them is store/references.py.

Clips are shrunk to `max_side` px and `max_frames` evenly spaced frames, then further (frames
first, down to `min_frames`, then side, down to `min_side`) until the raw uint8 bytes plus zip
overhead fit `budget_bytes`. Default: 64 px, 8 frames, 200 KB per (model, variant) file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pytest_vidbench.quality.errors import REFRESH_HINT, QualityInputError, ReferenceBudgetError
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

__all__ = [
    "ReferenceClip",
    "ReferenceConfig",
    "align_to_reference",
    "downscale",
    "make_reference_clip",
]

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

