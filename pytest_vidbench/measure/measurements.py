"""What the campaign measured for one (model, variant), read by the tests' fixtures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from pytest_vidbench.config import VariantConfig
from pytest_vidbench.measure.generation import Runner
from pytest_vidbench.models.registry import ModelEntry


@dataclass
class Measurements:
    """What the campaign measured for one (model, variant)."""

    entry: ModelEntry
    variant: VariantConfig
    error: str | None = None
    build_failed: bool = False  # the model never ran (build, load or variant failed)
    latency: list[float] = field(default_factory=list)  # seconds per timed call
    latency_rounds: list[int] = field(default_factory=list)  # the round of each call
    stages: dict[str, list[float]] = field(default_factory=dict)
    memory: list[float] = field(default_factory=list)
    memory_details: dict[str, Any] = field(default_factory=dict)
    memory_unavailable: str | None = None
    energy: list[float] = field(default_factory=list)  # joules per call, one per round
    energy_unavailable: str | None = None
    energy_details: dict[str, Any] = field(default_factory=dict)  # scope of the figure
    frames: dict[str, torch.Tensor] = field(default_factory=dict)  # case label -> frames
    runner: Runner | None = None
    calls: int = 0
    seconds: float = 0.0  # spent building and calling it: the per-model time limit's clock

    @property
    def variant_name(self) -> str:
        return self.variant.resolved_name(self.entry.dtype)

    @property
    def key(self) -> tuple[str, str]:
        return (self.entry.name, self.variant_name)
