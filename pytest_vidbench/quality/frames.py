"""Frame checks and conversions shared by the metrics and the reference store.

Frames are a TxCxHxW float tensor in [0, 1] with C = 3, on CPU.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from pytest_vidbench.quality.errors import QualityInputError

# Decoders and fp16 pipelines overshoot [0, 1] by rounding error; tolerate that much, then clamp.
RANGE_SLACK = 1e-3


def check_frames(
    frames: object, *, name: str = "frames", min_frames: int = 1, min_side: int = 1
) -> torch.Tensor:
    """Validate a clip and return it as contiguous float32 in [0, 1] (a copy when converted).

    Raises QualityInputError (a ValueError) naming the problem: not a tensor, wrong rank or
    channel count, too few frames, frames too small, integer dtype, NaN/Inf, out of range.
    """
    if not isinstance(frames, torch.Tensor):
        raise QualityInputError(f"{name} must be a torch.Tensor, got {type(frames).__name__}")
    if frames.ndim != 4:
        raise QualityInputError(
            f"{name} must be TxCxHxW (4 dims), got shape {tuple(frames.shape)}"
        )
    t, c, h, w = frames.shape
    if c != 3:
        raise QualityInputError(
            f"{name} must have 3 (RGB) channels in dim 1, got shape {(t, c, h, w)}"
        )
    if t < min_frames:
        raise QualityInputError(
            f"{name} has {t} frame(s); this metric needs at least {min_frames}"
        )
    if min(h, w) < min_side:
        raise QualityInputError(
            f"{name} are {h}x{w} px; this metric needs at least {min_side} px per side"
        )
    if not frames.is_floating_point():
        raise QualityInputError(
            f"{name} must be a float tensor in [0, 1], got dtype {frames.dtype}"
            " (for uint8 frames use frames.float() / 255)"
        )
    x = frames.detach().to(device="cpu", dtype=torch.float32).contiguous()
    low_t, high_t = torch.aminmax(x)  # one pass; NaN or Inf shows up in min or max
    low, high = float(low_t), float(high_t)
    if not (math.isfinite(low) and math.isfinite(high)):
        finite = torch.isfinite(x)
        bad = (~finite).flatten(1).any(dim=1).nonzero().flatten().tolist()
        kinds = [k for k, f in (("NaN", torch.isnan), ("Inf", torch.isinf)) if bool(f(x).any())]
        raise QualityInputError(
            f"{name} contain {' and '.join(kinds)} values in frame(s) {bad[:10]}"
            " (the pipeline produced non-finite output)"
        )
    if low < -RANGE_SLACK or high > 1.0 + RANGE_SLACK:
        raise QualityInputError(
            f"{name} must be in [0, 1], got values in [{low:.4g}, {high:.4g}]"
            " (are they in [-1, 1] or [0, 255]?)"
        )
    # Never clamp in place: `x` may be the caller's own tensor.
    return x.clamp(0.0, 1.0) if low < 0.0 or high > 1.0 else x


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """[0, 1] float frames to uint8 (round half to even, as torch.round), same TxCxHxW layout."""
    return (frames * 255.0).round().clamp(0, 255).to(torch.uint8).numpy()


def from_uint8(array: np.ndarray) -> torch.Tensor:
    """uint8 TxCxHxW array to float32 frames in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(array)).to(torch.float32) / 255.0


def quantize(frames: torch.Tensor) -> torch.Tensor:
    """Round to the 8-bit grid, as stored references are, so identical clips compare equal."""
    return (frames * 255.0).round().clamp(0, 255) / 255.0


def temporal_indices(num_frames: int, max_frames: int) -> list[int]:
    """Evenly spaced frame indices, first and last included, at most `max_frames` of them."""
    if num_frames < 1 or max_frames < 1:
        raise ValueError(f"need num_frames ≥ 1 and max_frames ≥ 1, got {num_frames}, {max_frames}")
    if num_frames <= max_frames:
        return list(range(num_frames))
    if max_frames == 1:
        return [0]
    return [round(i * (num_frames - 1) / (max_frames - 1)) for i in range(max_frames)]


def reduced_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(H, W) scaled so the longer side is at most `max_side`, aspect kept; never upscales."""
    if max_side < 1:
        raise ValueError(f"max_side must be ≥ 1, got {max_side}")
    longest = max(height, width)
    if longest <= max_side:
        return height, width
    scale = max_side / longest
    # floor(x + 0.5) rather than round(): the same size whichever Python rounding rule applies.
    return (
        max(1, min(max_side, math.floor(height * scale + 0.5))),
        max(1, min(max_side, math.floor(width * scale + 0.5))),
    )


def resize(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize to exactly `size` = (H, W); antialiased bilinear so downscaling does not alias."""
    if tuple(frames.shape[-2:]) == tuple(size):
        return frames
    out = F.interpolate(frames, size=size, mode="bilinear", antialias=True, align_corners=False)
    return out.clamp_(0.0, 1.0)


def downscale(frames: torch.Tensor, max_side: int) -> torch.Tensor:
    """Shrink a clip so its longer side is at most `max_side` px (no-op when already small).

    The reference store uses exactly this to make reference clips, so the plugin can bring a
    current clip to the reference's size with it (or with `ReferenceClip.reduce`).
    """
    x = check_frames(frames)
    return resize(x, reduced_size(x.shape[-2], x.shape[-1], max_side))
