"""Parametrization: which (model, variant, metric) cases a benchmark test function gets.

Models and quality metrics that users register through hooks are looked up with the hook
proxy of the test's own directory, so a conftest.py registers for the tests beside and
below it (the same scoping as fixtures), whatever order pytest collects directories in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from pytest_vidbench.config import ConfigError, ModelConfig, VariantConfig, VidbenchConfig
from pytest_vidbench.models.registry import ModelEntry, ModelRegistry, apply_global_overrides
from pytest_vidbench.records import Kind

if TYPE_CHECKING:
    from pytest_vidbench.quality.registry import QualityMetric, QualityRegistry

CASE_FIXTURE = "vidbench_case"
PERFORMANCE_METRICS: dict[str, Kind] = {"latency": "latency", "memory": "memory",
                                        "energy": "energy"}


@dataclass(frozen=True)
class BenchmarkCase:
    """One benchmark test: a model variant and a metric."""

    model: ModelEntry
    variant: VariantConfig
    metric: str
    kind: Kind
    quality: QualityMetric | None = None

    @property
    def variant_name(self) -> str:
        return self.variant.resolved_name(self.model.dtype)

    @property
    def id(self) -> str:
        return f"{self.model.name}-{self.variant_name}-{self.metric}"

    @property
    def measurement_key(self) -> tuple[str, str]:
        return (self.model.name, self.variant_name)

    @property
    def record_key(self) -> str:
        return f"{self.model.name}[{self.variant_name}]::{self.metric}"


def scoped_registries(hook: Any) -> tuple[ModelRegistry, QualityRegistry]:
    """Built-ins plus what the conftest files in scope of `hook` register."""
    from pytest_vidbench.quality.metrics import default_quality_metrics

    models = ModelRegistry.with_builtins()
    metrics = default_quality_metrics()
    hook.pytest_vidbench_models(registry=models)
    hook.pytest_vidbench_quality_metrics(registry=metrics)
    return models, metrics


def _selected_names(marker: pytest.Mark | None, key: str, configured: tuple[Any, ...]) -> Any:
    if marker is not None and key in marker.kwargs:
        return tuple(marker.kwargs[key])
    return configured


def select_cases(
    config: VidbenchConfig,
    models: ModelRegistry,
    metrics: QualityRegistry,
    marker: pytest.Mark | None,
) -> list[BenchmarkCase]:
    """Every case for one test function. Raises ConfigError on unknown names."""
    if marker is not None:
        unknown = set(marker.kwargs) - {"models", "metrics"}
        if unknown:
            raise ConfigError(f"@pytest.mark.vidbench takes models= and metrics=, "
                              f"not {sorted(unknown)}")
    chosen = _selected_names(marker, "models", config.models)
    configured = {m.name: m for m in config.models}
    if chosen:
        # A name in the marker may refer to a model defined in [tool.vidbench].
        entries = [models.resolve(configured.get(m, ModelConfig(name=m))
                                  if isinstance(m, str) else m) for m in chosen]
    else:
        entries = list(models)
    metric_names = _selected_names(marker, "metrics", config.metrics) or default_metric_names(
        metrics)
    from pytest_vidbench.quality.optin import OPT_IN_NAMES, opt_in_metric

    for name in set(metric_names) & set(OPT_IN_NAMES) - set(metrics.names):
        # Opt-in metrics exist only when asked for; without weights they skip with the reason.
        metrics.add(opt_in_metric(name, config.clip_model, config.inception_weights))
    cases = []
    for entry in entries:
        entry = apply_global_overrides(entry, config.prompts, config.seeds)
        for variant in entry.all_variants:
            for name in metric_names:
                cases.append(_case(entry, variant, name, metrics))
    return cases


def default_metric_names(metrics: QualityRegistry) -> list[str]:
    return [*PERFORMANCE_METRICS, *metrics.names]


def _case(entry: ModelEntry, variant: VariantConfig, name: str,
          metrics: QualityRegistry) -> BenchmarkCase:
    if name in PERFORMANCE_METRICS:
        return BenchmarkCase(entry, variant, name, PERFORMANCE_METRICS[name])
    if name not in metrics:
        from pytest_vidbench.quality.optin import OPT_IN_NAMES

        known = ", ".join([*PERFORMANCE_METRICS, *metrics.names, *OPT_IN_NAMES])
        raise ConfigError(f"unknown metric {name!r}; known metrics: {known}. Register new ones "
                          "with the pytest_vidbench_quality_metrics hook in conftest.py")
    return BenchmarkCase(entry, variant, name, "quality", metrics.get(name))


def parametrize(metafunc: pytest.Metafunc, config: VidbenchConfig, errors: list[str]) -> None:
    """One parameter per case; a bad selection becomes a usage error after collection."""
    if CASE_FIXTURE not in metafunc.fixturenames:
        return
    models, metrics = scoped_registries(metafunc.definition.ihook)
    try:
        cases = select_cases(config, models, metrics,
                             metafunc.definition.get_closest_marker("vidbench"))
    except ConfigError as error:  # a usage error (exit 4), reported after collection
        errors.append(f"{metafunc.definition.nodeid}: {error}")
        cases = []
    metafunc.parametrize(CASE_FIXTURE, cases, ids=[c.id for c in cases])


def case_of(item: pytest.Item) -> BenchmarkCase | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    case = callspec.params.get(CASE_FIXTURE)
    return case if isinstance(case, BenchmarkCase) else None


def check_collected(items: list[pytest.Item], errors: list[str]) -> set[str]:
    """The record keys of every collected case; two test functions producing the same
    record key is an error (their results would overwrite each other)."""
    owners: dict[str, str] = {}
    for item in items:
        case = case_of(item)
        if case is None:
            continue
        function = item.nodeid.split("[", 1)[0]
        if owners.setdefault(case.record_key, function) != function:
            errors.append(f"{case.record_key} is produced by both {owners[case.record_key]} "
                          f"and {function}: give the two tests different models or metrics")
    return set(owners)
