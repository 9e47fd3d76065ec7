"""Memory: peak use during a pipeline call.

CUDA: torch's peak allocated (live tensors) and reserved (what OOM depends on) after a
reset, plus NVML's per-process figure, which also counts the CUDA context and non-torch
allocations. CPU: how far RSS rises above its level before the call, with the peak reset
through /proc/self/clear_refs and freed heap returned to the OS first (malloc_trim), so the
figure is the call's own working memory whatever ran before it (stable to ~0.2 MiB here).
`torch.cuda.max_memory_allocated()` reads 0 on a CPU-only torch, so it is never used there.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import resource
import sys
from pathlib import Path
from typing import Any, ClassVar

import torch

from pytest_vidbench.device import DeviceSetup, synchronize
from pytest_vidbench.trackers.base import Tracker, TrackerUnavailable
from pytest_vidbench.trackers.nvml import (
    NvmlUnavailable,
    device_used_bytes,
    match_device,
    process_used_bytes,
)

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text(encoding="ascii").splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _malloc_trim() -> None:
    # glibc keeps freed memory mapped; without this a call's peak hides in old free pages.
    name = ctypes.util.find_library("c")
    if name:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(name).malloc_trim(0)


def _reset_peak_rss() -> bool:
    # Writing "5" resets VmHWM to the current RSS (Linux ≥ 4.0).
    try:
        _CLEAR_REFS.write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


class CpuMemoryTracker(Tracker):
    """Peak RSS increase of the process during the window, in bytes."""

    kind: ClassVar[str] = "memory"
    unit: ClassVar[str] = "B"
    perturbs_timing: ClassVar[bool] = True  # trimming the heap slows the next call

    def __init__(self) -> None:
        if not sys.platform.startswith("linux") or _status_kib("VmHWM") is None:
            raise TrackerUnavailable("peak RSS per call needs Linux /proc/self/status")
        self._before = 0
        self._resettable = _reset_peak_rss()
        self._last: dict[str, Any] = {}

    def start(self) -> None:
        gc.collect()
        _malloc_trim()
        if self._resettable:
            _reset_peak_rss()
        self._before = (_status_kib("VmRSS") or 0) * 1024

    def stop(self) -> float:
        if self._resettable:
            peak = (_status_kib("VmHWM") or 0) * 1024
        else:  # the lifetime peak: an upper bound, flagged in the details
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self._last = {
            "rss_before_bytes": self._before,
            "peak_rss_bytes": peak,
            "peak_is_lifetime": not self._resettable,
        }
        return float(max(peak - self._before, 0))

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
