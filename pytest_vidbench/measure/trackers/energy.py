"""Energy: the NVML total-energy counter's difference over a window, in joules.

Only NVIDIA GPUs of the Volta generation and newer have the counter; elsewhere the tracker
is unavailable with the reason, never a made-up number. The counter covers the whole GPU,
other processes and, under MIG, other instances included, so `details()` says so for the
record.
"""

from __future__ import annotations

from typing import Any

from pytest_vidbench.measure.device import DeviceSetup, synchronize
from pytest_vidbench.measure.trackers.base import Tracker, TrackerUnavailable
from pytest_vidbench.measure.trackers.mig import MIG_INSTANCE, MIG_UNRESOLVED
from pytest_vidbench.measure.trackers.nvml import NvmlUnavailable, match_device, total_energy_mj


def energy_scope(device_scope: str) -> str:
    """What an energy figure covers, given the scope torch's device was matched at."""
    if device_scope == MIG_INSTANCE:
        return ("whole GPU: the energy counter has no per-MIG-instance reading "
                "(other MIG instances and processes included)")
    if device_scope == MIG_UNRESOLVED:
        return "whole device (MIG instance not resolvable; other processes included)"
    return "whole device (other processes included)"


class EnergyTracker(Tracker):
    """Joules per window, from the counter of the GPU that holds the selected device."""

    def __init__(self, setup: DeviceSetup) -> None:
        if not setup.is_cuda:
            raise TrackerUnavailable(
                "energy needs an NVIDIA GPU's NVML energy counter; this run is on the CPU"
            )
        self.setup = setup
        try:
            self.nvml = match_device(setup.cuda_index or 0)
            total_energy_mj(self.nvml)  # fails here on GPUs without the counter
        except NvmlUnavailable as error:
            raise TrackerUnavailable(str(error)) from None
        self._start_mj = 0

    def start(self) -> None:
        synchronize(self.setup)
        self._start_mj = total_energy_mj(self.nvml)

    def stop(self) -> float:
        synchronize(self.setup)
        return (total_energy_mj(self.nvml) - self._start_mj) / 1e3

    def details(self) -> dict[str, Any]:
        return {"scope": energy_scope(self.nvml.scope), "gpu": self.nvml.name,
                "nvml_matched_by": self.nvml.matched_by}
