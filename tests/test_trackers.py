"""Trackers on this CPU machine: real measurements, and honest 'unavailable' reasons."""

from __future__ import annotations

import pytest
import torch

from pytest_vidbench.measure.device import apply_device_setup
from pytest_vidbench.measure.trackers import (
    CpuMemoryTracker,
    EnergyTracker,
    LatencyTracker,
    StageClock,
    TrackerUnavailable,
    memory_tracker,
)
from pytest_vidbench.measure.trackers.nvml import NvmlUnavailable, match_device


@pytest.fixture(scope="module")
def cpu():
    return apply_device_setup("cpu", 1, False, True)


def test_cpu_setup_pins_threads(cpu):
    assert cpu.device == "cpu" and cpu.threads == 1 == torch.get_num_threads()


def test_latency_is_positive_and_stage_clock_splits_a_call(cpu):
    tracker = LatencyTracker(cpu)
    clock = StageClock(cpu)
    tracker.start()
    for _ in range(3):
        clock.enter("step")
        torch.randn(64, 64) @ torch.randn(64, 64)
        clock.leave("step")
    seconds = tracker.stop()
    stages = clock.resolve()
    assert len(stages["step"]) == 3
    assert 0 < sum(stages["step"]) <= seconds


def test_cpu_memory_sees_an_allocation_of_the_call_itself(cpu):
    tracker = memory_tracker(cpu)
    assert isinstance(tracker, CpuMemoryTracker)
    increases = []
    for mib in (0, 64):
        tracker.start()
        buffer = torch.ones(mib * 2**18 + 1)  # float32: mib MiB, every page touched
        increases.append(tracker.stop())
        del buffer
    assert increases[1] - increases[0] >= 60 * 2**20
    assert increases[1] < 80 * 2**20  # the call's own tensors, not the process's RSS
    assert tracker.details()["allocation_events"] >= 1


def test_cpu_memory_is_the_same_to_the_byte_every_time(cpu):
    tracker = memory_tracker(cpu)
    peaks = []
    for _ in range(3):
        tracker.start()
        x = torch.randn(256, 256)
        y = torch.relu(x @ x) + x
        del x, y
        peaks.append(tracker.stop())
    assert len(set(peaks)) == 1 and peaks[0] >= 3 * 256 * 256 * 4


def test_energy_on_cpu_is_unavailable_with_the_reason(cpu):
    with pytest.raises(TrackerUnavailable, match="NVML energy counter; this run is on the CPU"):
        EnergyTracker(cpu)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-driver path")
def test_nvml_without_a_driver_says_why():
    with pytest.raises(NvmlUnavailable, match=r"NVML could not start: .*no NVIDIA driver"):
        match_device(0)


def _torch_reading(prof) -> list[int]:
    """What torch's own FunctionEvents give: each op's self memory, in start order."""
    events = sorted((e for e in prof.events() if e.self_cpu_memory_usage),
                    key=lambda e: e.time_range.start)
    return [e.self_cpu_memory_usage for e in events]


def _profiled(call) -> object:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        call()
    return prof


def test_the_raw_reading_gives_torchs_own_self_memory_for_nested_ops_and_frees(cpu):
    from pytest_vidbench.measure.trackers.allocation_events import kineto_self_memory

    kept = [torch.ones(1000)]

    def call() -> None:
        x = torch.randn(128, 128)
        y = torch.nn.functional.layer_norm(x @ x, (128,))  # an op with nested ops
        kept.pop()  # a free outside any op, of a block from before the window
        kept.append(torch.cat([y, x]).sum(0))
        del x, y

    prof = _profiled(call)
    assert kineto_self_memory(prof) == _torch_reading(prof)


@pytest.mark.parametrize("model", ["wan-tiny", "animatediff-tiny"])
def test_the_raw_reading_gives_torchs_own_self_memory_on_a_pipeline(cpu, model):
    from pytest_vidbench.config import VariantConfig
    from pytest_vidbench.measure.generation import PipelineRunner
    from pytest_vidbench.measure.trackers.allocation_events import kineto_self_memory
    from pytest_vidbench.measure.trackers.memory import peak_growth
    from pytest_vidbench.models.loading import apply_variant, build_pipeline
    from pytest_vidbench.models.registry import ModelRegistry

    entry = ModelRegistry.with_builtins().get(model)
    pipe = apply_variant(build_pipeline(entry, VariantConfig()), VariantConfig(), cpu.torch_device)
    runner = PipelineRunner(pipe, entry.spec, cpu)
    _, prompt, seed = entry.spec.cases[0]
    prof = _profiled(lambda: runner.generate(prompt, seed, None))
    raw, torchs = kineto_self_memory(prof), _torch_reading(prof)
    assert len(raw) > 1000 and raw == torchs and peak_growth(raw) > 0
