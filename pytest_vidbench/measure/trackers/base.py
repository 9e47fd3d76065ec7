"""The interface every tracker shares: start a window, stop it, read one number."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar


class TrackerUnavailable(RuntimeError):
    """This quantity cannot be measured here; the message is the reason, kept in the record."""


class Tracker(ABC):
    """One quantity per window; the fixtures that build records name the unit (s, B, J)."""

    # True: measure on dedicated untimed calls, never around a timed one.
    perturbs_timing: ClassVar[bool] = False

    @abstractmethod
    def start(self) -> None:
        """Open a measurement window (the device is idle: the caller synchronised)."""

    @abstractmethod
    def stop(self) -> float:
        """Close the window and return its measurement (s, B or J)."""

    def details(self) -> dict[str, Any]:
        """Extra figures of the last window that are not the headline number; a figure that
        covers more than this process (a whole GPU) says so under `scope`."""
        return {}
