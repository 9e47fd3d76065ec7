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
