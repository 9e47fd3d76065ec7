"""Memory: what one pipeline call needs on top of what was resident before it, in bytes.

Both trackers report the same quantity, peak-during minus resident-before, so a model's
figure does not move when other models, the control tensors or cached frames are resident:

  CUDA  max_memory_allocated() after reset_peak_memory_stats(), minus memory_allocated()
        read just before the call (live tensor bytes on the selected device);
  CPU   the peak of the running sum of torch's CPU allocation events during the call (live
        tensor bytes allocated by the call, less the ones it freed), which starts at 0.

Reserved bytes (what OOM depends on), NVML's per-process and device figures are kept as
details; they cover the whole process or device, not the call, and say so.
`torch.cuda.max_memory_allocated()` reads 0 on a CPU-only torch, so it is never used there.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import torch

from pytest_vidbench.measure.device import DeviceSetup, synchronize
from pytest_vidbench.measure.trackers.allocation_events import kineto_self_memory
from pytest_vidbench.measure.trackers.base import Tracker
from pytest_vidbench.measure.trackers.nvml import (
    NvmlUnavailable,
    device_used_bytes,
    match_device,
    process_used_bytes,
)

_STATUS = Path("/proc/self/status")
DEFINITION = "peak during the call minus resident before it (the call's own need)"


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text(encoding="ascii").splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def call_peak_bytes(resident_before: int, peak_during: int) -> int:
    """The call's own need: the device-wide peak during it less what was resident before.

    Never negative: a peak counter reset at the start reads at least the resident bytes.
    """
    return max(int(peak_during) - int(resident_before), 0)


def peak_growth(deltas: Iterable[int]) -> int:
    """The highest the live bytes rose above their level at the start, given each
    allocation (+) and free (-) in time order: call_peak_bytes on a running sum."""
    live = peak = 0
    for delta in deltas:
        live += delta
        peak = max(peak, live)
    return peak


class CpuMemoryTracker(Tracker):
    """Peak growth of live torch tensor bytes on the CPU during the window over their level
    at its start, from torch.profiler's allocation events: the same quantity as
    CudaMemoryTracker's (tensors resident before the call are not counted).

    Peak RSS was tried first and rejected: with glibc's heap heuristics the same call's RSS
    increase moved 46 → 81 MiB between two runs of the suite; the allocator's own events
    give the same peak to the byte in every run. The profiler slows the call it watches, so
    the campaign uses it on an untimed call only.
    """

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
        deltas = kineto_self_memory(self._profiler)
        peak = peak_growth(deltas)
        self._profiler = None
        self._last = {"method": "torch.profiler allocation events (live tensor bytes)",
                      "definition": DEFINITION,
                      "allocation_events": len(deltas),
                      "rss_before_bytes": self._rss_before,
                      "rss_after_bytes": (_status_kib("VmRSS") or 0) * 1024}
        return float(peak)

    def details(self) -> dict[str, Any]:
        return dict(self._last)


class CudaMemoryTracker(Tracker):
    """Peak torch-allocated VRAM of the window above what was allocated at its start, with
    the process-wide torch and NVML figures as details."""

    perturbs_timing: ClassVar[bool] = False

    def __init__(self, setup: DeviceSetup) -> None:
        self.setup = setup
        self.device = setup.torch_device
        try:
            self.nvml = match_device(setup.cuda_index or 0)
            self.nvml_reason = ""
        except NvmlUnavailable as error:
            self.nvml = None
            self.nvml_reason = str(error)
        self._last: dict[str, Any] = {}
        self._allocated_before = self._reserved_before = 0

    def start(self) -> None:
        synchronize(self.setup)
        # Read before the reset: the reset sets the peak to the current allocation.
        self._allocated_before = torch.cuda.memory_allocated(self.device)
        self._reserved_before = torch.cuda.memory_reserved(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)

    def stop(self) -> float:
        synchronize(self.setup)
        peak = torch.cuda.max_memory_allocated(self.device)
        peak_reserved = torch.cuda.max_memory_reserved(self.device)
        self._last = {
            "definition": DEFINITION,
            "resident_before_bytes": self._allocated_before,
            "process_peak_allocated_bytes": peak,  # everything resident included
            "process_peak_reserved_bytes": peak_reserved,
            # Cached blocks of other models can serve the call, so this may read low.
            "reserved_growth_bytes": call_peak_bytes(self._reserved_before, peak_reserved),
        }
        if self.nvml is not None:
            # A snapshot after the call: the caching allocator still holds the peak's blocks.
            self._last["nvml_process_bytes"] = process_used_bytes(self.nvml)
            self._last["nvml_device_used_bytes"] = device_used_bytes(self.nvml)
            self._last["nvml_matched_by"] = self.nvml.matched_by
            self._last["nvml_scope"] = self.nvml.scope  # the MIG instance, or the whole GPU
        else:
            self._last["nvml_unavailable"] = self.nvml_reason
        return float(call_peak_bytes(self._allocated_before, peak))

    def details(self) -> dict[str, Any]:
        return dict(self._last)


def memory_tracker(setup: DeviceSetup) -> Tracker:
    return CudaMemoryTracker(setup) if setup.is_cuda else CpuMemoryTracker()
