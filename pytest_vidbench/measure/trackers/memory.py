"""Memory: peak use during a pipeline call.

CUDA: torch's peak allocated (live tensors) and reserved (what OOM depends on) after a
reset, plus NVML's per-process figure, which also counts the CUDA context and non-torch
allocations. CPU: the peak of live tensor bytes, from the CPU allocator's events.
`torch.cuda.max_memory_allocated()` reads 0 on a CPU-only torch, so it is never used there.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any, ClassVar

import torch

from pytest_vidbench.measure.device import DeviceSetup, synchronize
from pytest_vidbench.measure.trackers.base import Tracker
from pytest_vidbench.measure.trackers.nvml import (
    NvmlUnavailable,
    device_used_bytes,
    match_device,
    process_used_bytes,
)

_STATUS = Path("/proc/self/status")


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text(encoding="ascii").splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class CpuMemoryTracker(Tracker):
    """Peak bytes of live torch tensors on the CPU during the window, from torch.profiler's
    allocation events: the CPU counterpart of torch.cuda.max_memory_allocated().

    Peak RSS was tried first and rejected: with glibc's heap heuristics the same call's RSS
    increase moved 46 → 81 MiB between two runs of the suite; the allocator's own events
    give the same peak to the byte in every run. The profiler slows the call it watches, so
    the campaign uses it on an untimed call only.
    """

    kind: ClassVar[str] = "memory"
    unit: ClassVar[str] = "B"
    perturbs_timing: ClassVar[bool] = True

    def __init__(self) -> None:
        self._profiler: Any = None
        self._last: dict[str, Any] = {}
        self._rss_before = 0

    def start(self) -> None:
        from torch.profiler import ProfilerActivity, profile

        gc.collect()
        self._rss_before = (_status_kib("VmRSS") or 0) * 1024
        self._profiler = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
        self._profiler.__enter__()

    def stop(self) -> float:
        assert self._profiler is not None, "stop() without start()"
        self._profiler.__exit__(None, None, None)
        # Each allocation counted once, at the innermost op that made it ("self" memory;
        # an op's total repeats its children's); "[memory]" events are frees outside ops.
        events = sorted((e for e in self._profiler.events() if e.self_cpu_memory_usage),
                        key=lambda e: e.time_range.start)
        live = peak = 0
        for event in events:
            live += event.self_cpu_memory_usage
            peak = max(peak, live)
        self._profiler = None
        self._last = {"method": "torch.profiler allocation events (live tensor bytes)",
                      "allocation_events": len(events),
                      "rss_before_bytes": self._rss_before,
                      "rss_after_bytes": (_status_kib("VmRSS") or 0) * 1024}
        return float(peak)

    def details(self) -> dict[str, Any]:
        return dict(self._last)


class CudaMemoryTracker(Tracker):
    """Peak torch-allocated VRAM during the window, in bytes, with reserved and NVML figures."""

    kind: ClassVar[str] = "memory"
    unit: ClassVar[str] = "B"
    perturbs_timing: ClassVar[bool] = False

    def __init__(self, setup: DeviceSetup) -> None:
        self.setup = setup
        self.device = setup.torch_device
        try:
            self.nvml = match_device(self.device.index or 0)
            self.nvml_reason = ""
        except NvmlUnavailable as error:
            self.nvml = None
            self.nvml_reason = str(error)
        self._last: dict[str, Any] = {}

    def start(self) -> None:
        synchronize(self.setup)
        torch.cuda.reset_peak_memory_stats(self.device)

    def stop(self) -> float:
        synchronize(self.setup)
        allocated = torch.cuda.max_memory_allocated(self.device)
        self._last = {"peak_reserved_bytes": torch.cuda.max_memory_reserved(self.device)}
        if self.nvml is not None:
            # A snapshot after the call: the caching allocator still holds the peak's blocks.
            self._last["nvml_process_bytes"] = process_used_bytes(self.nvml)
            self._last["nvml_device_used_bytes"] = device_used_bytes(self.nvml)
            self._last["nvml_matched_by"] = self.nvml.matched_by
        else:
            self._last["nvml_unavailable"] = self.nvml_reason
        return float(allocated)

    def details(self) -> dict[str, Any]:
        return dict(self._last)


def memory_tracker(setup: DeviceSetup) -> Tracker:
    return CudaMemoryTracker(setup) if setup.is_cuda else CpuMemoryTracker()
