"""One tracker per measured quantity (latency, memory, energy), all with the same interface."""

from pytest_vidbench.measure.trackers.base import Tracker, TrackerUnavailable
from pytest_vidbench.measure.trackers.energy import EnergyTracker
from pytest_vidbench.measure.trackers.latency import LatencyTracker, StageClock
from pytest_vidbench.measure.trackers.memory import (
    CpuMemoryTracker,
    CudaMemoryTracker,
    memory_tracker,
)

__all__ = [
    "CpuMemoryTracker",
    "CudaMemoryTracker",
    "EnergyTracker",
    "LatencyTracker",
    "StageClock",
    "Tracker",
    "TrackerUnavailable",
    "memory_tracker",
]
