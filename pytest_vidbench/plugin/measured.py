"""What the run measured, wherever it was measured: one strategy per place behind a Protocol.

A serial run or an xdist worker reads its own campaigns (`InThisProcess`); the controller
reads what its workers handed over (scale/handover.py `HandedOver`). The end of the run
asks only `Measured`, so judging, storing and reporting never branch on the role.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from pytest_vidbench.records import RunCost

if TYPE_CHECKING:
    from pytest_vidbench.measure.campaign import MeasurementCampaign
    from pytest_vidbench.plugin.cases import BenchmarkCase
    from pytest_vidbench.quality.registry import QualityMetric

Pair = tuple[str, str]  # (model, variant)


class Measured(Protocol):
    def control_samples(self) -> list[float]: ...
    def timed_seconds(self) -> float: ...
    def clips(self, keys: set[Pair]) -> dict[Pair, dict]: ...
    def quality_metrics(self) -> dict[str, QualityMetric]: ...
    def reference_keys(self) -> set[Pair]: ...
    def record_keys(self) -> set[str]: ...
    def cost(self) -> RunCost: ...


class InThisProcess:
    """A serial run's or a worker's own campaigns (one per group of models) and cases."""

    def __init__(self, campaigns: dict[int, MeasurementCampaign],
                 cases: dict[str, BenchmarkCase], cost: RunCost) -> None:
        self.campaigns = campaigns  # shared with the session, which fills them
        self.cases = cases
        self._cost = cost

    def cost(self) -> RunCost:
        return self._cost

    def control_samples(self) -> list[float]:
        return [x for c in self.campaigns.values() for x in c.control]

    def timed_seconds(self) -> float:
        return sum(c.timed_seconds for c in self.campaigns.values())

    def clips(self, keys: set[Pair]) -> dict[Pair, dict]:
        """The frames of each (model, variant) in `keys` that was measured without error."""
        out = {}
        for campaign in self.campaigns.values():
            for key in sorted(keys):
                m = campaign.results.get(key)
                if m is not None and m.error is None and m.frames:
                    out[key] = m.frames
        return out

    def quality_metrics(self) -> dict[str, QualityMetric]:
        return {k.metric: k.quality for k in self.cases.values() if k.quality is not None}

    def reference_keys(self) -> set[Pair]:
        """(model, variant) pairs whose quality tests compare against a reference clip."""
        return {c.measurement_key for c in self.cases.values()
                if c.quality is not None and c.quality.needs_reference}

    def record_keys(self) -> set[str]:
        return {c.record_key for c in self.cases.values()}
