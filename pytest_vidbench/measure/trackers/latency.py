"""Latency: wall time of a whole pipeline call, and the time spent in each stage.

On CUDA the clock is a pair of CUDA events read after a synchronize, so queued kernels are
counted; on CPU it is `perf_counter_ns`. Events are recorded on the current stream of the
selected device: a bare `Event.record()` uses the current device's stream, which is cuda:0
unless set, and would time cuda:0's idle queue during a `--vidbench-device cuda:1` run.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from pytest_vidbench.measure.device import DeviceSetup, synchronize
from pytest_vidbench.measure.trackers.base import Tracker


class _Mark:
    """A point in time: a recorded CUDA event, or a perf_counter_ns reading."""

    __slots__ = ("event", "ns")

    def __init__(self, setup: DeviceSetup) -> None:
        self.event: Any = None
        self.ns = 0
        index = setup.cuda_index
        if index is not None:
            with torch.cuda.device(index):
                self.event = torch.cuda.Event(enable_timing=True)
                self.event.record(torch.cuda.current_stream(index))
        else:
            self.ns = time.perf_counter_ns()

    def seconds_until(self, later: _Mark) -> float:
        if self.event is not None:
            return float(self.event.elapsed_time(later.event)) / 1e3  # ms -> s
        return (later.ns - self.ns) / 1e9


class LatencyTracker(Tracker):
    """Seconds per call."""

    def __init__(self, setup: DeviceSetup) -> None:
        self.setup = setup
        self._start: _Mark | None = None

    def start(self) -> None:
        synchronize(self.setup)
        self._start = _Mark(self.setup)

    def stop(self) -> float:
        end = _Mark(self.setup)
        synchronize(self.setup)  # the end event must have completed before it is read
        assert self._start is not None, "stop() without start()"
        return self._start.seconds_until(end)


class StageClock:
    """Marks stage boundaries inside one call; resolves them to seconds after the call.

    `enter(stage)` and `leave(stage)` bracket one occurrence of a stage. A stage that occurs
    several times in a call (a denoising step) yields one duration per occurrence.
    """

    def __init__(self, setup: DeviceSetup) -> None:
        self.setup = setup
        self._open: dict[str, _Mark] = {}
        self._spans: list[tuple[str, _Mark, _Mark]] = []

    def enter(self, stage: str) -> None:
        self._open[stage] = _Mark(self.setup)

    def leave(self, stage: str) -> None:
        start = self._open.pop(stage, None)
        if start is not None:
            self._spans.append((stage, start, _Mark(self.setup)))

    def is_open(self, stage: str) -> bool:
        return stage in self._open

    def resolve(self) -> dict[str, list[float]]:
        """Per stage, the duration of each occurrence in seconds (call after synchronize)."""
        out: dict[str, list[float]] = {}
        for stage, start, end in self._spans:
            out.setdefault(stage, []).append(start.seconds_until(end))
        self._spans.clear()
        self._open.clear()
        return out
