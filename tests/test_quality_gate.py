"""Quality end to end: a real pipeline whose frames change fails the gate; users add metrics."""

from __future__ import annotations

import pytest
from plugin_project import verdicts, write_project

from pytest_vidbench.models.zoo import BUILTIN_MODELS


def test_noise_in_the_attention_output_is_a_quality_regression(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    # Built once out here: pytester drops modules first imported inside a run, and torch's
    # operator registrations cannot be imported twice in one process.
    BUILTIN_MODELS["animatediff-tiny"].build(0)
    write_project(pytester, metrics=("psnr", "ssim", "flicker"), models=("animatediff-tiny",))
    plugin = ("-p", "pytest_vidbench.calibrate.perturb")
    pytester.runpytest("--vidbench", "--vidbench-update-baselines", *plugin).assert_outcomes(
        passed=3)
    assert pytester.runpytest("--vidbench", *plugin).ret == pytest.ExitCode.OK
    monkeypatch.setenv("VIDBENCH_ATTENTION_NOISE", "animatediff-tiny:0.2")
    run = pytester.runpytest("--vidbench", *plugin)
    assert run.ret == pytest.ExitCode.TESTS_FAILED
    found = verdicts(pytester)
    assert found["animatediff-tiny-psnr"] == "regression"
    assert found["animatediff-tiny-ssim"] == "regression"
    run.stdout.fnmatch_lines(["*REGRESSION animatediff-tiny [[]fp32[]] psnr*"])


def test_a_metric_registered_in_conftest_is_scored_and_judged(pytester: pytest.Pytester):
    write_project(pytester, metrics=("brightness",))
    (pytester.path / "conftest.py").write_text(
        (pytester.path / "conftest.py").read_text() + '''

def mean_brightness(frames):
    """Mean pixel value: a dim clip is a failed clip here."""
    return float(frames.mean())


def pytest_vidbench_quality_metrics(registry):
    registry.add_function(mean_brightness, name="brightness", direction="higher",
                          unit="score", value_range=(0.0, 1.0), tolerance=0.05)
''')
    pytester.runpytest("--vidbench", "--vidbench-update-baselines").assert_outcomes(passed=1)
    pytester.runpytest("--vidbench").assert_outcomes(passed=1)
    assert verdicts(pytester) == {"toy-brightness": "unchanged"}


def test_opt_in_clip_score_without_weights_skips_saying_where_to_put_them(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(pytester.path / "empty-hf"))
    write_project(pytester, metrics=("clip-score",),
                  extra='clip_model = "openai/clip-vit-base-patch32"')
    run = pytester.runpytest("--vidbench", "-rs")
    run.assert_outcomes(skipped=1)
    run.stdout.fnmatch_lines(["*SKIPPED*CLIP score*openai/clip-vit-base-patch32*"])
