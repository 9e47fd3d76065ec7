"""The default offline quality metrics (no model weights) and `default_quality_metrics()`.

Fidelity metrics (psnr, ssim, vmaf) compare a clip with the baseline's reference clip, at the
reference's reduced size; temporal metrics (flicker, frame-consistency, motion) need no
reference. Every function has the `QualityMetric.fn` signature and expects checked frames
(`QualityMetric.compute` checks them); called directly they check their input too.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
from typing import Any

import numpy as np
import torch

from pytest_vidbench.quality.errors import MetricUnavailable, QualityInputError
from pytest_vidbench.quality.frames import check_frames, to_uint8
from pytest_vidbench.quality.reference import align_to_reference
from pytest_vidbench.quality.registry import QualityMetric, QualityRegistry

# PSNR of identical frames is +inf, which JSON cannot hold. 100 dB means an MSE of 1e-10,
# far below one 8-bit step (a 1/255 error everywhere is 48.1 dB), so the cap reads as "identical".
PSNR_CAP_DB = 100.0
SSIM_SIGMA = 1.5  # Gaussian window sigma of Wang et al. 2004 (an 11x11 window)
SSIM_MIN_SIDE = 6  # the 11-px window's reflect padding (5 px) must be smaller than the frame
VMAF_MIN_SIDE = 17  # found by trial: vmaf-torch's 4-scale ADM/VIF pyramid fails at 16 px
FLOW_MIN_SIDE = 12  # found by trial: OpenCV DIS (medium preset) rejects 8 px frames
MS_SSIM_MIN_SIDE = 176  # 5 scales, 11-px window: torchmetrics 1.9 needs H // 16 > 10
MOTION_TOP_FRACTION = 0.05  # pool the top 5% of flow magnitudes, as VBench's dynamic degree


def _need_reference(reference: Any, name: str) -> None:
    if reference is None:
        raise QualityInputError(f"{name} compares with a reference clip, got none")


def _need_side(frames: torch.Tensor, min_side: int, what: str) -> None:
    h, w = frames.shape[-2:]
    if min(h, w) < min_side:
        raise MetricUnavailable(
            f"{what} needs frames of at least {min_side} px per side, got {h}x{w}"
            " (raise the reference max side or the generation size)"
        )


def psnr(frames: torch.Tensor, reference: Any = None, prompt: str | None = None) -> float:
    """Mean per-frame PSNR (dB, data range 1) against the reference, each frame capped at 100 dB."""
    # Peak signal-to-noise ratio, 10·log10(1/MSE); torchmetrics functional API.
    _need_reference(reference, "psnr")
    cur, ref = align_to_reference(frames, reference)
    from torchmetrics.functional.image import peak_signal_noise_ratio  # lazy: slow import

    per_frame = peak_signal_noise_ratio(cur, ref, data_range=1.0, reduction="none", dim=(1, 2, 3))
    return float(per_frame.clamp(max=PSNR_CAP_DB).mean())


def _ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    # SSIM of Wang et al., IEEE TIP 2004: Gaussian sigma 1.5, K1 0.01, K2 0.03; mean over frames.
    _need_side(a, SSIM_MIN_SIDE, "SSIM")
    from torchmetrics.functional.image import structural_similarity_index_measure

    value = structural_similarity_index_measure(a, b, data_range=1.0, sigma=SSIM_SIGMA)
    return float(value)  # type: ignore[arg-type]


def ssim(frames: torch.Tensor, reference: Any = None, prompt: str | None = None) -> float:
    """Mean per-frame SSIM against the reference."""
    _need_reference(reference, "ssim")
    return _ssim(*align_to_reference(frames, reference))


def ms_ssim(frames: torch.Tensor, reference: Any = None, prompt: str | None = None) -> float:
    """Mean per-frame MS-SSIM (standard 5 scales) against the reference; needs ≥ 176 px."""
    # MS-SSIM of Wang, Simoncelli & Bovik 2003 with its published scale weights.
    _need_reference(reference, "ms-ssim")
    cur, ref = align_to_reference(frames, reference)
    _need_side(cur, MS_SSIM_MIN_SIDE, "MS-SSIM (5 scales)")
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    value = multiscale_structural_similarity_index_measure(
        cur, ref, data_range=1.0, sigma=SSIM_SIGMA, normalize="relu"
    )
    return float(value)  # type: ignore[arg-type]


def vmaf_status() -> tuple[bool, str]:
    """Whether VMAF can run, and if not, what to install."""
    if importlib.util.find_spec("vmaf_torch") is None:
        return False, "VMAF needs the `vmaf-torch` package: pip install vmaf-torch"
    if importlib.util.find_spec("einops") is None:
        return False, "VMAF (torchmetrics.video) needs `einops`: pip install einops"
    return True, "available"


def vmaf(frames: torch.Tensor, reference: Any = None, prompt: str | None = None) -> float:
    """Mean per-frame VMAF (v0.6.1 model) against the reference, clipped to [0, 100] as libvmaf."""
    # VMAF (Li et al., Netflix 2016) via torchmetrics.video and vmaf-torch, on the luma channel.
    ok, reason = vmaf_status()
    if not ok:
        raise MetricUnavailable(reason)
    from torchmetrics.functional.video import video_multi_method_assessment_fusion

    _need_reference(reference, "vmaf")
    cur, ref = align_to_reference(frames, reference)
    _need_side(cur, VMAF_MIN_SIDE, "VMAF")
    # torchmetrics wants batch x channels x frames x H x W.
    scores = video_multi_method_assessment_fusion(
        cur.permute(1, 0, 2, 3).unsqueeze(0), ref.permute(1, 0, 2, 3).unsqueeze(0)
    )
    # vmaf-torch leaves scores unclipped (identical textured frames reach ~116); libvmaf clips.
    return float(torch.as_tensor(scores).clamp(0.0, 100.0).mean())


def flicker(frames: torch.Tensor, reference: Any = None, prompt: str | None = None) -> float:
    """VBench formula for temporal flickering: (255 - mean_t mean|f_t - f_{t+1}|) / 255, uint8."""
    # Huang et al., VBench (CVPR 2024), "temporal flickering"; VBench also pre-selects static
    # videos with RAFT, which is not done here: the formula is VBench's, the selection is not.
    x = check_frames(frames, min_frames=2)
    q = (x * 255.0).round()  # the uint8 values, kept as exact small integers in float32
    diff = (q[1:] - q[:-1]).abs().flatten(1)
    per_pair = diff.sum(dim=1, dtype=torch.float64) / diff.shape[1]  # float64: exact sums
    return float((255.0 - per_pair.mean()) / 255.0)


def frame_consistency(
    frames: torch.Tensor, reference: Any = None, prompt: str | None = None
) -> float:
    """Mean SSIM between consecutive frames (1 for a frozen clip)."""
    # SSIM (Wang et al. 2004) of frame t+1 against frame t, averaged over the T-1 pairs.
    x = check_frames(frames, min_frames=2)
    return _ssim(x[1:], x[:-1])


def motion(frames: torch.Tensor, reference: Any = None, prompt: str | None = None) -> float:
    """Motion proxy (px): mean over consecutive pairs of the mean of the top 5% flow magnitudes."""
    # DIS optical flow (Kroeger et al., ECCV 2016; OpenCV, medium preset), pooled like VBench's
    # RAFT-based dynamic degree but NOT comparable with it (other flow, no threshold).
    import cv2  # lazy: only when the metric runs

    x = check_frames(frames, min_frames=2)
    _need_side(x, FLOW_MIN_SIDE, "the motion proxy (DIS optical flow)")
    gray = [
        cv2.cvtColor(np.ascontiguousarray(f.transpose(1, 2, 0)), cv2.COLOR_RGB2GRAY)
        for f in to_uint8(x)
    ]
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    pooled = []
    for prev, nxt in itertools.pairwise(gray):
        flow = dis.calc(prev, nxt, None)
        mag = np.sqrt((flow.astype(np.float64) ** 2).sum(axis=-1)).ravel()
        k = max(1, math.ceil(MOTION_TOP_FRACTION * mag.size))
        pooled.append(np.partition(mag, mag.size - k)[-k:].mean())
    return float(np.mean(pooled))


# The default set. Thresholds assume baselines taken in the same environment, where a
# deterministic pipeline reproduces its reference exactly (psnr at the cap, ssim 1).
PSNR = QualityMetric(
    name="psnr", fn=psnr, direction="higher", unit="dB", value_range=(0.0, PSNR_CAP_DB),
    # 30 dB (RMS error ≈ 8/255) is the usual lower bound of "good" lossy coding.
    floor=30.0, tolerance=1.0, needs_reference=True,
    description=f"Mean per-frame PSNR vs the reference clip, capped at {PSNR_CAP_DB:g} dB",
)
SSIM = QualityMetric(
    name="ssim", fn=ssim, direction="higher", unit="score", value_range=(-1.0, 1.0),
    # 0.95 tolerates rounding and resampling noise; a changed picture drops far below.
    floor=0.95, tolerance=0.01, needs_reference=True,
    description="Mean per-frame SSIM (Gaussian sigma 1.5) vs the reference clip",
)
VMAF = QualityMetric(
    name="vmaf", fn=vmaf, direction="higher", unit="score", value_range=(0.0, 100.0),
    # Identical clips score 97.4-100. Measured on the tiny pipelines (calibrate/fidelity.py):
    # bf16, scheduler swaps and 5% attention noise stay ≥ 91.9, a new seed ≤ 28; 80 keeps ~12
    # points each side.
    floor=80.0, tolerance=2.0, needs_reference=True,
    description="Mean per-frame VMAF v0.6.1 vs the reference clip (uncalibrated below 1080p)",
)
MS_SSIM = QualityMetric(
    name="ms-ssim", fn=ms_ssim, direction="higher", unit="score", value_range=(0.0, 1.0),
    floor=0.95, tolerance=0.01, needs_reference=True,
    description="Mean per-frame 5-scale MS-SSIM vs the reference; needs references ≥ 176 px",
)
FLICKER = QualityMetric(
    name="flicker", fn=flicker, direction="higher", unit="score", value_range=(0.0, 1.0),
    # 0.01 = the mean absolute frame-to-frame change grows by 2.55 grey levels.
    tolerance=0.01, min_frames=2,
    description="Temporal flickering, VBench formula on uint8 frames (no static-video filter)",
)
FRAME_CONSISTENCY = QualityMetric(
    name="frame-consistency", fn=frame_consistency, direction="higher", unit="score",
    value_range=(-1.0, 1.0), tolerance=0.02, min_frames=2,
    description="Mean SSIM between consecutive frames",
)
MOTION = QualityMetric(
    name="motion", fn=motion, direction="higher", unit="px", value_range=(0.0, math.inf),
    # Higher = more dynamic (a frozen clip is the failure to catch); 0.5 px is sub-pixel
    # drift at the clip's own resolution, which the baseline shares. Capped at half the
    # baseline's motion so a nearly static clip (0.14 px) can still be seen to freeze.
    tolerance=0.5, relative_tolerance=0.5, min_frames=2,
    description="Motion proxy: top-5% DIS flow magnitude per frame pair (not VBench's RAFT)",
)


def default_quality_metrics(*, include_vmaf: bool | None = None) -> QualityRegistry:
    """psnr, ssim, [vmaf], flicker, frame-consistency, motion (a fresh registry each call).

    VMAF is included when `vmaf-torch` and `einops` are importable (`include_vmaf=None`).
    MS-SSIM is left out: at the references' default 64 px the standard 5-scale form cannot
    run; add `MS_SSIM` yourself together with references of at least 176 px.
    """
    if include_vmaf is None:
        include_vmaf = vmaf_status()[0]
    fidelity = [PSNR, SSIM, *([VMAF] if include_vmaf else [])]
    return QualityRegistry([*fidelity, FLICKER, FRAME_CONSISTENCY, MOTION])
