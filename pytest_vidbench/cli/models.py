"""`vidbench models`: what a run would benchmark, from the registry alone (no pipeline built)."""

from __future__ import annotations

import argparse

from pytest_vidbench.cli._common import CliError, project_config
from pytest_vidbench.config import ConfigError
from pytest_vidbench.models.registry import ModelEntry, ModelRegistry, apply_global_overrides

HEADERS = ("name", "family", "origin", "source", "pipeline", "dtype", "variants", "generation")


def _row(entry: ModelEntry) -> tuple[str, ...]:
    source = entry.source + (f"@{entry.revision}" if entry.revision else "")
    return (entry.name, entry.family, entry.origin, source, entry.pipeline_class or "-",
            entry.dtype, ", ".join(entry.variant_names), entry.spec.describe())


def _table(entries: list[ModelEntry]) -> list[str]:
    rows = [HEADERS, *(_row(e) for e in entries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS) - 1)]
    lines = []
    for row in rows:
        # The last column is not padded: it is the longest and ends the line.
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)] + [row[-1]]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def run_models(args: argparse.Namespace) -> int:
    config = project_config()
    registry = ModelRegistry.with_builtins()
    builtins = list(registry)
    try:
        configured = [apply_global_overrides(registry.resolve(m), config.prompts, config.seeds)
                      for m in config.models]
    except ConfigError as error:
        raise CliError(f"pyproject.toml [tool.vidbench] models: {error}") from None
    print(f"built-in models ({len(builtins)}): tiny random-weight diffusers pipelines, "
          "built offline")
    for line in _table(builtins):
        print(line)
    print()
    if configured:
        print(f"configured in pyproject.toml [tool.vidbench] models ({len(configured)}); "
              "a run benchmarks these")
        for line in _table(configured):
            print(line)
    else:
        print("no models in pyproject.toml [tool.vidbench]: a run benchmarks every built-in "
              "model and every model registered in conftest.py")
    print()
    print("Generators registered in conftest.py (pytest_vidbench_models hook) are listed by:")
    print("  pytest benchmarks/ --vidbench --collect-only -q")
    return 0
