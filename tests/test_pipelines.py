"""Real diffusers paths on tiny pipelines: stage timing, checkpoints, variants, determinism."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from plugin_project import results, write_project

from pytest_vidbench.config import VariantConfig
from pytest_vidbench.measure.device import apply_device_setup
from pytest_vidbench.measure.generation import PipelineRunner
from pytest_vidbench.measure.trackers.latency import StageClock
from pytest_vidbench.models.loading import (
    ALIGNMENT,
    VariantUnsupported,
    apply_variant,
    load_pretrained,
)
from pytest_vidbench.models.registry import ModelEntry
from pytest_vidbench.models.zoo import BUILTIN_MODELS


@pytest.fixture(scope="module")
def cpu():
    return apply_device_setup("cpu", 1, False, True)


@pytest.mark.parametrize("name", ["wan-tiny", "t2vsd-tiny"])
def test_stage_times_cover_text_encoder_each_step_and_vae_decode(cpu, name):
    model = BUILTIN_MODELS[name]
    runner = PipelineRunner(model.build(0), model.spec, cpu)
    clock = StageClock(cpu)
    frames = runner.generate(model.spec.prompts[0], 0, clock)
    stages = clock.resolve()
    assert len(stages["text_encoder"]) == 1
    # One span per denoising step, classifier-free guidance or not (Wan calls twice a step;
    # TextToVideoSD only has the legacy `callback`).
    assert len(stages["denoise_step"]) == model.spec.num_inference_steps
    assert len(stages["vae_decode"]) == 1
    assert all(t > 0 for values in stages.values() for t in values)
    assert tuple(frames.shape[-2:]) == (model.spec.height, model.spec.width)


def save_wan(path, nan_weights: bool = False) -> None:
    pipe = BUILTIN_MODELS["wan-tiny"].build(0)
    if nan_weights:  # a broken checkpoint: the denoiser's output projection is all NaN
        torch.nn.init.constant_(pipe.transformer.proj_out.weight, float("nan"))
    pipe.save_pretrained(path)


def test_a_saved_pipeline_benchmarks_by_path_like_the_builtin(pytester: pytest.Pytester):
    save_wan(pytester.path / "wan-saved")
    spec = BUILTIN_MODELS["wan-tiny"].spec
    generation = (f'{{prompts = {json.dumps(list(spec.prompts))}, height = {spec.height}, '
                  f'width = {spec.width}, num_frames = {spec.num_frames}, '
                  f'num_inference_steps = {spec.num_inference_steps}, '
                  f'guidance_scale = {spec.guidance_scale}, extra = {{max_sequence_length = 16}}}}')
    write_project(pytester, metrics=("latency", "flicker", "motion"), models=(
        '["wan-tiny", {name = "wan-saved", source = "./wan-saved", pipeline = "WanPipeline", '
        f'generation = {generation}}}]'))
    os.environ["HF_HUB_OFFLINE"] = "1"  # the path must not touch the hub
    try:
        run = pytester.runpytest("--vidbench")
    finally:
        del os.environ["HF_HUB_OFFLINE"]
    run.assert_outcomes(passed=6)
    values = {(r["model"], r["metric"]): r["samples"] for r in results(pytester)["results"]}
    # Same weights at the same alignment (own_weights), same seeds, same process and threads:
    # bit-identical frames, so identical quality values, on any CPU.
    for metric in ("flicker", "motion"):
        assert values[("wan-saved", metric)] == values[("wan-tiny", metric)]
    latency = next(r for r in results(pytester)["results"] if r["model"] == "wan-saved"
                   and r["metric"] == "latency")
    assert set(latency["stages"]) >= {"text_encoder", "denoise_step", "vae_decode"}


def saved_entry(path) -> ModelEntry:
    spec = BUILTIN_MODELS["wan-tiny"].spec
    return ModelEntry(name="wan-saved", origin="pretrained", source=str(path),
                      family="Wan 2.1", spec=spec, pipeline_class="WanPipeline")


def test_a_loaded_pipeline_owns_aligned_weights_like_a_built_one(tmp_path):
    save_wan(tmp_path)
    loaded = load_pretrained(saved_entry(tmp_path), "float32")
    for name, module in loaded.components.items():
        if isinstance(module, torch.nn.Module):
            assert not module.training, name
            for tensor in (*module.parameters(), *module.buffers()):
                # safetensors maps weights at 4- or 8-byte offsets; a built pipeline's are 64.
                assert tensor.data_ptr() % ALIGNMENT == 0 and tensor.is_contiguous(), name
                assert not tensor.requires_grad, name


# MKL's SSE4.2 sgemm, the kind of path MKL takes on AMD CPUs, sums in an alignment-dependent
# order: measured on an Intel Xeon, file-mapped Wan weights gave frames up to 9e-7 off the
# built pipeline's there, and identical ones on the AVX-512 path. Without MKL the variable
# is ignored and this is a plain reload check.
RELOAD_ON_SSE42 = """
import sys, torch
from pytest_vidbench.models.zoo import BUILTIN_MODELS
from pytest_vidbench.models.loading import load_pretrained
sys.path.insert(0, sys.argv[2])
from test_pipelines import save_wan, saved_entry
torch.set_num_threads(1)
spec = BUILTIN_MODELS["wan-tiny"].spec
save_wan(sys.argv[1])
def frames(pipe):
    pipe.set_progress_bar_config(disable=True)
    return pipe(prompt=spec.prompts[-1], height=spec.height, width=spec.width,
                num_frames=spec.num_frames, num_inference_steps=spec.num_inference_steps,
                guidance_scale=spec.guidance_scale, output_type="pt", max_sequence_length=16,
                generator=torch.Generator().manual_seed(0)).frames[0]
built = frames(BUILTIN_MODELS["wan-tiny"].build(0))
loaded = frames(load_pretrained(saved_entry(sys.argv[1]), "float32"))
print("max difference", (built - loaded).abs().max().item())
"""


def test_reload_is_bit_identical_on_an_alignment_sensitive_blas(tmp_path):
    env = {**os.environ, "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", RELOAD_ON_SSE42, str(tmp_path), os.path.dirname(__file__)],
        env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "max difference 0.0" in done.stdout, done.stdout


def test_nan_in_a_real_pipeline_names_the_step(pytester: pytest.Pytester):
    save_wan(pytester.path / "wan-nan", nan_weights=True)
    write_project(pytester, metrics=("latency",), models=(
        '[{name = "wan-nan", source = "./wan-nan"}]'))
    run = pytester.runpytest("--vidbench")
    run.assert_outcomes(failed=1)
    run.stdout.fnmatch_lines(["*wan-nan [[]fp32[]]: NaN or Inf in the generated frames for "
                              "prompt p0 seed 0 (first non-finite latents at denoising step 0)*"])


def test_a_broken_checkpoint_folder_says_what_is_missing(pytester: pytest.Pytester):
    (pytester.path / "half").mkdir()
    write_project(pytester, metrics=("latency",), models='[{name = "half", source = "./half"}]')
    run = pytester.runpytest("--vidbench")
    run.assert_outcomes(errors=1)
    run.stdout.fnmatch_lines(["*model 'half': *half has no model_index.json*missing file*"])


def test_an_offline_hub_id_says_so(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(pytester.path / "empty-hf-home"))
    write_project(pytester, metrics=("latency",), models=(
        '[{name = "remote", source = "some-org/some-video-model", pipeline = "WanPipeline"}]'))
    run = pytester.runpytest_subprocess("--vidbench")
    run.assert_outcomes(errors=1)
    run.stdout.fnmatch_lines(["*model 'remote' (some-org/some-video-model): the hub is offline*"])


def test_variants_are_a_parametrization_axis(pytester: pytest.Pytester):
    write_project(pytester, metrics=("latency", "flicker"), models=(
        '[{name = "wan-tiny", variants = [{dtype = "bfloat16"}, '
        '{name = "math-sdpa", attention_backend = "_native_math"}]}]'))
    run = pytester.runpytest("--vidbench", "-q")
    run.assert_outcomes(passed=6)
    ids = sorted(r["test_id"].split("[")[1][:-1] for r in results(pytester)["results"])
    assert ids == ["wan-tiny-bf16-flicker", "wan-tiny-bf16-latency", "wan-tiny-fp32-flicker",
                   "wan-tiny-fp32-latency", "wan-tiny-math-sdpa-flicker",
                   "wan-tiny-math-sdpa-latency"]


def test_a_variant_that_cannot_run_here_errors_with_the_reason(cpu):
    pipe = BUILTIN_MODELS["wan-tiny"].build(0)
    with pytest.raises(VariantUnsupported, match="needs --vidbench-device cuda"):
        apply_variant(pipe, VariantConfig(cpu_offload=True), cpu.torch_device)
    with pytest.raises(VariantUnsupported, match=r"unknown attention_backend 'nope'.*native"):
        apply_variant(pipe, VariantConfig(attention_backend="nope"), cpu.torch_device)


def test_two_cpu_runs_give_bit_identical_quality(pytester: pytest.Pytester):
    write_project(pytester, metrics=("flicker", "frame-consistency", "motion"),
                  models=("wan-tiny", "ltx-tiny"))
    first = []
    for _ in range(2):
        pytester.runpytest("--vidbench").assert_outcomes(passed=6)
        first.append(json.dumps([r["samples"] for r in results(pytester)["results"]]))
    assert first[0] == first[1]
