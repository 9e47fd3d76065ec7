"""Quality registry and the default offline metrics, on synthetic clips with known answers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from pytest_vidbench.quality import (
    MS_SSIM,
    PSNR_CAP_DB,
    MetricUnavailable,
    QualityInputError,
    QualityMetric,
    QualityRegistry,
    default_quality_metrics,
    metric_from_function,
    vmaf_status,
)
from pytest_vidbench.quality.reference import make_reference_clip

VMAF_OK = vmaf_status()[0]
needs_vmaf = pytest.mark.skipif(not VMAF_OK, reason="vmaf-torch / einops not installed")


def texture(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A smooth random RGB texture (3xHxW in [0, 1]): optical flow can lock onto it."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, height // 4 + 2, width // 4 + 2, generator=g)
    up = torch.nn.functional.interpolate(coarse, size=(height + 8, width + 8), mode="bicubic")
    return up[0, :, 4 : 4 + height, 4 : 4 + width].clamp(0, 1)


def panning(frames: int, size: int, step: int, seed: int = 0) -> torch.Tensor:
    """A window sliding `step` px per frame over a larger texture (content moves by `step`)."""
    big = texture(size, size + step * frames, seed)
    return torch.stack([big[:, :, t * step : t * step + size] for t in range(frames)])


def noisy(clip: torch.Tensor, sigma: float, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (clip + sigma * torch.randn(clip.shape, generator=g)).clamp(0, 1)


@pytest.fixture(scope="module")
def registry() -> QualityRegistry:
    return default_quality_metrics()


@pytest.fixture(scope="module")
def clip() -> torch.Tensor:
    return panning(8, 48, 1)


# ----------------------------------------------------------------------------- registry


def test_default_set_names_and_metadata(registry: QualityRegistry) -> None:
    expected = ["psnr", "ssim", *(["vmaf"] if VMAF_OK else []), "flicker",
                "frame-consistency", "motion"]
    assert registry.names == expected
    assert "vmaf" not in default_quality_metrics(include_vmaf=False)
    for metric in registry:
        assert metric.direction in ("higher", "lower")
        # Above 0, or 8-bit rounding alone would regress; well inside the range, or no
        # change could.
        low, high = metric.value_range or (-math.inf, math.inf)
        assert 0 < metric.tolerance < 0.1 * (high - low), metric.name
        assert metric.needs_reference == (metric.floor is not None)
        assert not metric.needs_prompt
    assert registry.get("psnr").value_range == (0.0, PSNR_CAP_DB)
    assert registry.get("flicker").min_frames == 2


def test_unknown_name_lists_known_metrics(registry: QualityRegistry) -> None:
    with pytest.raises(KeyError, match=r"'lpips'.*known metrics: psnr, ssim"):
        registry.get("lpips")
    with pytest.raises(KeyError):
        registry.select(["psnr", "nope"])
    assert registry.select(["motion", "psnr"]).names == ["motion", "psnr"]


def test_add_replace_remove() -> None:
    reg = QualityRegistry()
    m = metric_from_function(lambda frames: 0.5, name="half", direction="higher",
                             unit="score", value_range=(0, 1))
    reg.add(m)
    with pytest.raises(ValueError, match="already registered"):
        reg.add(m)
    reg.add(m, replace=True)
    with pytest.raises(TypeError, match="add_function"):
        reg.add(lambda frames: 1.0)  # type: ignore[arg-type]
    assert len(reg) == 1 and "half" in reg and reg.remove("half") is m and len(reg) == 0


def test_add_function_passes_only_accepted_arguments(clip: torch.Tensor) -> None:
    def mean_brightness(frames: torch.Tensor) -> float:
        """Mean pixel value."""
        return float(frames.mean())

    def mean_abs_error(frames: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        return (frames - reference).abs().mean()

    def prompt_length(frames: torch.Tensor, *, prompt: str) -> int:
        return len(prompt)

    reg = QualityRegistry()
    bright = reg.add_function(mean_brightness, direction="higher", unit="score", tolerance=0.02)
    mae = reg.add_function(mean_abs_error, direction="lower", unit="score", floor=0.1,
                           value_range=(0, 1))
    plen = reg.add_function(prompt_length, direction="higher", unit="chars")
    assert reg.names == ["mean-brightness", "mean-abs-error", "prompt-length"]
    assert bright.description == "Mean pixel value." and not bright.needs_reference
    assert mae.needs_reference and not mae.needs_prompt and plen.needs_prompt
    assert bright.compute(clip) == pytest.approx(float(clip.mean()))
    assert mae.compute(clip, reference=clip) == 0.0
    assert plen.compute(clip, prompt="a fox") == 5.0
    with pytest.raises(ValueError, match="needs a reference"):
        mae.compute(clip)
    with pytest.raises(ValueError, match="needs a non-empty prompt"):
        plen.compute(clip, prompt="  ")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"direction": "up"}, "direction"),
        ({"name": "bad name"}, "name"),
        ({"name": ""}, "name"),
        ({"tolerance": -1.0}, "tolerance"),
        ({"tolerance": math.nan}, "tolerance"),
        ({"floor": 2.0}, "floor"),
        ({"value_range": (1.0, 0.0)}, "value_range"),
        ({"min_frames": 0}, "min_frames"),
    ],
)
def test_metric_definition_is_validated(changes: dict, message: str) -> None:
    fields = {"name": "m", "fn": lambda f, **_: 0.0, "direction": "higher", "unit": "score",
              "value_range": (0.0, 1.0), "tolerance": 0.1}
    with pytest.raises(ValueError, match=message):
        QualityMetric(**{**fields, **changes})


def test_metric_results_are_checked(clip: torch.Tensor) -> None:
    for bad, message in ((math.nan, "finite"), (math.inf, "finite"), (1.5, "outside")):
        m = metric_from_function(lambda frames, v=bad: v, name="m", direction="higher",
                                 unit="score", value_range=(0, 1))
        with pytest.raises(ValueError, match=message):
            m.compute(clip)


def test_verdict_helpers_follow_direction(registry: QualityRegistry) -> None:
    psnr = registry.get("psnr")  # higher is better
    assert psnr.worsening(current=30.0, baseline=32.0) == 2.0
    assert psnr.below_floor(29.9) and not psnr.below_floor(30.0)
    assert psnr.mean_paired_worsening([40.0, 41.0], [41.0, 42.0]) == 1.0
    assert not psnr.exceeds_tolerance([40.0, 41.0], [41.0, 42.0])  # exactly 1 dB is allowed
    assert psnr.exceeds_tolerance([40.0, 40.9], [41.0, 42.0])
    lower = metric_from_function(lambda frames: 0.0, name="err", direction="lower", unit="px",
                                 floor=2.0, tolerance=0.5)
    assert lower.worsening(current=3.0, baseline=2.0) == 1.0 and lower.below_floor(2.1)
    assert not registry.get("flicker").below_floor(0.0)  # no floor: never
    with pytest.raises(ValueError, match="paired"):
        psnr.mean_paired_worsening([1.0], [1.0, 2.0])


# ------------------------------------------------------------------------ input checks


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        (np.zeros((4, 3, 16, 16), np.float32), "torch.Tensor"),
        (torch.zeros(3, 16, 16), "4 dims"),
        (torch.zeros(4, 1, 16, 16), "3 \\(RGB\\) channels"),
        (torch.zeros(4, 16, 16, 3), "3 \\(RGB\\) channels"),
        (torch.zeros(4, 3, 16, 16, dtype=torch.uint8), "float tensor"),
        (torch.full((4, 3, 16, 16), 255.0), "\\[0, 1\\]"),
        (torch.full((4, 3, 16, 16), -0.5), "\\[0, 1\\]"),
        (torch.zeros(0, 3, 16, 16), "0 frame"),
    ],
)
def test_bad_frames_raise_value_error(
    registry: QualityRegistry, frames: object, message: str
) -> None:
    for metric in registry:
        with pytest.raises(QualityInputError, match=message):
            metric.compute(frames, reference=torch.zeros(4, 3, 16, 16))  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_frames_are_named(registry: QualityRegistry, clip: torch.Tensor,
                                     bad: float) -> None:
    frames = clip.clone()
    frames[3, 1, 5, 5] = bad
    for metric in registry:
        with pytest.raises(ValueError, match=r"(NaN|Inf).*frame\(s\) \[3\]"):
            metric.compute(frames, reference=clip)


def test_temporal_metrics_need_two_frames(registry: QualityRegistry, clip: torch.Tensor) -> None:
    for name in ("flicker", "frame-consistency", "motion"):
        with pytest.raises(QualityInputError, match=r"1 frame.*at least 2"):
            registry.get(name).compute(clip[:1])
    assert registry.get("psnr").compute(clip[:1], reference=clip[:1]) == PSNR_CAP_DB


def test_frames_too_small_for_a_metric_are_unavailable(registry: QualityRegistry) -> None:
    tiny = panning(3, 8, 1)
    with pytest.raises(MetricUnavailable, match="at least 12 px"):
        registry.get("motion").compute(tiny)
    with pytest.raises(MetricUnavailable, match="SSIM needs frames of at least 6 px"):
        registry.get("ssim").compute(tiny[..., :4, :4], reference=tiny[..., :4, :4])
    if VMAF_OK:
        with pytest.raises(MetricUnavailable, match="VMAF needs frames of at least 17 px"):
            registry.get("vmaf").compute(tiny, reference=tiny)
    with pytest.raises(MetricUnavailable, match="176 px"):
        MS_SSIM.compute(tiny, reference=tiny)


def test_slight_overshoot_is_clamped_not_rejected(registry: QualityRegistry,
                                                  clip: torch.Tensor) -> None:
    over = clip.clone()
    over[0, 0, 0, 0] = 1.0005  # fp16 decoders overshoot by rounding error
    assert registry.get("psnr").compute(over, reference=over) == PSNR_CAP_DB
    assert registry.get("flicker").compute(over) <= 1.0
    assert float(over[0, 0, 0, 0]) == pytest.approx(1.0005)  # the caller's tensor is untouched


# --------------------------------------------------------------------- fidelity metrics


def test_identical_clips_score_perfectly(registry: QualityRegistry, clip: torch.Tensor) -> None:
    assert registry.get("psnr").compute(clip, reference=clip) == PSNR_CAP_DB
    assert registry.get("ssim").compute(clip, reference=clip) == pytest.approx(1.0, abs=1e-6)
    if VMAF_OK:
        # With zero distortion VMAF depends only on motion: 97.4 for a static clip, then
        # clipped to 100 as libvmaf does.
        assert 97.0 <= registry.get("vmaf").compute(clip, reference=clip) <= 100.0


def test_noise_lowers_fidelity_monotonically(registry: QualityRegistry,
                                             clip: torch.Tensor) -> None:
    names = ["psnr", "ssim", *(["vmaf"] if VMAF_OK else [])]
    sigmas = [0.0, 0.01, 0.03, 0.1, 0.3]
    values = {n: [registry.get(n).compute(noisy(clip, s), reference=clip) for s in sigmas]
              for n in names}
    for name, series in values.items():
        assert all(a > b for a, b in itertools.pairwise(series)), (name, series)
    assert values["psnr"][2] == pytest.approx(-20 * math.log10(0.03), abs=1.0)  # ≈ 30.5 dB
    psnr, ssim = registry.get("psnr"), registry.get("ssim")
    assert not psnr.below_floor(values["psnr"][1]) and psnr.below_floor(values["psnr"][3])
    assert not ssim.below_floor(values["ssim"][1]) and ssim.below_floor(values["ssim"][4])


def test_ms_ssim_at_full_size() -> None:
    big = panning(2, 176, 2)
    assert MS_SSIM.compute(big, reference=big) == pytest.approx(1.0, abs=1e-6)
    noisier = [MS_SSIM.compute(noisy(big, s), reference=big) for s in (0.05, 0.1, 0.3)]
    assert noisier == sorted(noisier, reverse=True) and noisier[0] < 1.0
    assert MS_SSIM.compute(panning(2, 176, 2, seed=9), reference=big) < 0.5


def test_fidelity_against_a_reduced_reference(registry: QualityRegistry) -> None:
    full = panning(12, 96, 2)[..., :72, :]  # 12 frames of 72x96
    stored = make_reference_clip("p0/s0", full, max_side=64, max_frames=5)
    assert stored.frames.shape == (5, 3, 48, 64)
    # The same clip reduced the same way is bit-identical to the reference...
    assert registry.get("psnr").compute(full, reference=stored) == PSNR_CAP_DB
    # ...also when the reference comes as a plain tensor of the reduced size.
    assert registry.get("psnr").compute(full, reference=stored.as_tensor()) == PSNR_CAP_DB
    # Noise is partly averaged away by the reduction; other content is not.
    assert registry.get("ssim").compute(noisy(full, 0.1), reference=stored) < 0.99
    other = panning(12, 96, 2, seed=5)[..., :72, :]
    assert registry.get("ssim").compute(other, reference=stored) < 0.5
    assert registry.get("psnr").compute(other, reference=stored) < 20.0
    with pytest.raises(QualityInputError, match="workload changed"):
        registry.get("psnr").compute(full[:10], reference=stored)
    with pytest.raises(QualityInputError, match="aspect ratio"):
        registry.get("psnr").compute(full[..., :40], reference=stored.as_tensor())


# --------------------------------------------------------------------- temporal metrics


def test_frozen_clip(registry: QualityRegistry) -> None:
    frozen = texture(64, 64).expand(8, 3, 64, 64).clone()
    assert registry.get("flicker").compute(frozen) == 1.0
    assert registry.get("frame-consistency").compute(frozen) == pytest.approx(1.0, abs=1e-6)
    assert registry.get("motion").compute(frozen) == pytest.approx(0.0, abs=0.05)


@pytest.mark.parametrize("step", [1, 2, 4])
def test_motion_matches_a_pan_in_pixels(registry: QualityRegistry, step: int) -> None:
    clip = panning(6, 64, step)
    assert registry.get("motion").compute(clip) == pytest.approx(step, rel=0.25)
    assert registry.get("flicker").compute(clip) < 1.0
    assert registry.get("frame-consistency").compute(clip) < 1.0


def test_motion_of_a_moving_square(registry: QualityRegistry) -> None:
    background = torch.full((3, 64, 64), 0.5)
    patch = texture(20, 20, seed=3)
    frames = []
    for t in range(6):  # a textured 20x20 square moving 3 px right per frame
        f = background.clone()
        f[:, 20:40, 5 + 3 * t : 25 + 3 * t] = patch
        frames.append(f)
    motion = registry.get("motion").compute(torch.stack(frames))
    assert motion == pytest.approx(3.0, rel=0.3)  # the square is ~10% of the frame


def test_more_motion_more_flicker_less_consistency(registry: QualityRegistry) -> None:
    steps = [0, 1, 3, 6]
    clips = [panning(6, 64, s) for s in steps]
    motion = [registry.get("motion").compute(c) for c in clips]
    flick = [registry.get("flicker").compute(c) for c in clips]
    consist = [registry.get("frame-consistency").compute(c) for c in clips]
    assert motion == sorted(motion)
    assert flick == sorted(flick, reverse=True)
    assert consist == sorted(consist, reverse=True)


def test_flicker_matches_the_vbench_formula(registry: QualityRegistry) -> None:
    a = torch.zeros(1, 3, 16, 16)
    b = torch.full((1, 3, 16, 16), 51 / 255)  # every pixel changes by 51 grey levels
    clip = torch.cat([a, b, a])
    assert registry.get("flicker").compute(clip) == pytest.approx((255 - 51) / 255)


def test_values_are_deterministic(registry: QualityRegistry) -> None:
    clip = noisy(panning(6, 48, 2), 0.05)
    ref = panning(6, 48, 2)
    for metric in registry:
        first = metric.compute(clip, reference=ref)
        assert all(metric.compute(clip, reference=ref) == first for _ in range(2)), metric.name
        low, high = metric.value_range
        assert low <= first <= high


def test_values_do_not_depend_on_thread_counts(registry: QualityRegistry) -> None:
    """Baselines may come from a machine with another core count."""
    import cv2

    clip = noisy(panning(6, 64, 2), 0.03)
    ref = panning(6, 64, 2)
    saved = torch.get_num_threads(), cv2.getNumThreads()
    results = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            cv2.setNumThreads(threads)
            results.append([m.compute(clip, reference=ref) for m in registry])
    finally:
        torch.set_num_threads(saved[0])
        cv2.setNumThreads(saved[1])
    assert results[0] == results[1]
