"""The fidelity study's core on one model: unchanged code scores identical, noise gets flagged."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_vidbench.calibrate.fidelity import UNCHANGED, Change, study_model
from pytest_vidbench.models.zoo import get_builtin
from pytest_vidbench.quality.metrics import PSNR_CAP_DB, default_quality_metrics

# animatediff-tiny rather than the cheaper wan-tiny: at eps=0.2 it falls below the psnr and
# ssim floors, so the test holds without the optional VMAF packages (wan-tiny at eps=0.2 is
# caught by VMAF alone). Its first prompt only, to stay within ~10 s in a fresh process.
MODEL = "animatediff-tiny"


@pytest.fixture(scope="module")
def study() -> dict[str, Any]:
    metrics = default_quality_metrics()
    one_prompt = {"prompts": get_builtin(MODEL).spec.prompts[:1]}
    changes = [UNCHANGED, Change("attn eps=0.2", eps=0.2)]
    results = study_model(MODEL, changes, metrics, one_prompt)
    return {"metrics": metrics, **{r.change: r for r in results}}


def test_unchanged_code_scores_identical(study: dict[str, Any]) -> None:
    fp32, unchanged = study["fp32"], study["unchanged"]
    assert unchanged.values["psnr"] == [PSNR_CAP_DB] * len(unchanged.labels)
    assert unchanged.values["ssim"] == pytest.approx([1.0] * len(unchanged.labels), abs=1e-6)
    # A rebuilt pipeline gives bit-identical frames, so every metric, the no-reference ones
    # included, matches the reference's own values exactly.
    for metric in study["metrics"]:
        assert unchanged.values[metric.name] == fp32.values[metric.name], metric.name
    assert all(w == 0.0 for w in unchanged.worsening.values())
    assert unchanged.flagged == []


def test_noisy_attention_is_flagged(study: dict[str, Any]) -> None:
    noisy, unchanged = study["attn eps=0.2"], study["unchanged"]
    assert max(noisy.values["psnr"]) < min(unchanged.values["psnr"])
    assert noisy.flagged, "eps=0.2 attention noise must trip at least one floor or tolerance"
    assert {"psnr", "ssim"} <= set(noisy.flagged)
