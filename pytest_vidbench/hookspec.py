"""Hooks users implement in conftest.py to extend pytest-vidbench."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_vidbench.models.registry import ModelRegistry
    from pytest_vidbench.quality.registry import QualityRegistry
    from pytest_vidbench.records import RunReport

hookspec = pytest.hookspec


@hookspec
def pytest_vidbench_models(registry: ModelRegistry) -> None:
    """Register models for the benchmark tests in this conftest's directory and below.

    registry.add_generator("toy", generate, spec=GenerationSpec(...)) registers any callable
    (prompt, seed) -> T×C×H×W float tensor in [0, 1]; registry.add_pretrained(name, source)
    registers a hub id or a saved pipeline directory.
    """


@hookspec
def pytest_vidbench_quality_metrics(registry: QualityRegistry) -> None:
    """Register quality metrics: registry.add_function(fn, direction=..., unit=..., ...)."""


@hookspec
def pytest_vidbench_machine_info(config: pytest.Config, info: dict[str, Any]) -> None:
    """Add to (or edit) the environment fingerprint written with the results."""


@hookspec
def pytest_vidbench_report(config: pytest.Config, report: RunReport) -> None:
    """Called once the run is judged, e.g. to upload the results somewhere."""
