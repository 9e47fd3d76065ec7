"""Energy: the NVML total-energy counter's difference over a window, in joules.

Only NVIDIA GPUs of the Volta generation and newer have the counter; elsewhere the tracker
is unavailable with the reason, never a made-up number. The counter covers the whole device,
other processes included, so the record says so.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pytest_vidbench.measure.device import DeviceSetup, synchronize
from pytest_vidbench.measure.trackers.base import Tracker, TrackerUnavailable
from pytest_vidbench.measure.trackers.nvml import NvmlUnavailable, match_device, total_energy_mj


class EnergyTracker(Tracker):
    kind: ClassVar[str] = "energy"
    unit: ClassVar[str] = "J"

    def __init__(self, setup: DeviceSetup) -> None:
        if not setup.is_cuda:
            raise TrackerUnavailable(
                "energy needs an NVIDIA GPU's NVML energy counter; this run is on the CPU"
            )
        self.setup = setup
        try:
            self.nvml = match_device(setup.torch_device.index or 0)
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
        return {"scope": "whole device (other processes included)", "gpu": self.nvml.name}
