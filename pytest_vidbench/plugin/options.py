"""Command-line options, merged over `[tool.vidbench]` into one `RunOptions`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_vidbench.config.checks import ConfigError, validate_cpu_allocator, validate_device
from pytest_vidbench.config.settings import ModelConfig, VidbenchConfig, load_pyproject_config
from pytest_vidbench.measure import huge_pages
from pytest_vidbench.plugin.against import add_against_options

# (option suffix, config field, type, help); None field: not a config override.
_OVERRIDES: tuple[tuple[str, str, type, str], ...] = (
    ("device", "device", str, "auto|cpu|cuda[:N]; auto picks CUDA when available"),
    ("threads", "threads", int, "torch threads on CPU (default 1: the least noisy)"),
    ("cpu-allocator", "cpu_allocator", str, "default|fresh-pages: glibc's mmap threshold at "
     "128 KiB, a smaller per-model offset on CPU at +74%% time (docs/noise.md)"),
    ("warmup", "warmup", int, "untimed warm-up calls per model"),
    ("rounds", "rounds", int, "interleaved timing rounds across all models"),
    ("calls-per-round", "calls_per_round", int, "timed calls per model in each round"),
    ("history", "history", int, "runs kept per test in a baseline file"),
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("vidbench", "video-diffusion benchmarks (pytest-vidbench)")
    group.addoption("--vidbench", action="store_true", help="run the vidbench benchmarks")
    for suffix, _field, kind, text in _OVERRIDES:
        group.addoption(f"--vidbench-{suffix}", type=kind, default=None, help=text)
    group.addoption("--vidbench-models", default=None,
                    help="comma-separated model names (overrides [tool.vidbench] models)")
    group.addoption("--vidbench-metrics", default=None,
                    help="comma-separated metric names (overrides [tool.vidbench] metrics)")
    group.addoption("--vidbench-json", default=None, metavar="PATH",
                    help="results file (default .vidbench/results.json)")
    group.addoption("--vidbench-benchmark-json", default=None, metavar="PATH",
                    help="also write results in pytest-benchmark's JSON layout")
    group.addoption("--vidbench-baselines", default=None, metavar="DIR",
                    help="baseline directory (default baselines/)")
    group.addoption("--vidbench-update-baselines", action="store_true",
                    help="append this run to the baseline history (only if the run completes)")
    group.addoption("--vidbench-runs", type=int, default=1, metavar="N",
                    help="with --vidbench-update-baselines: record N runs, each in its own "
                         "process, so a new machine gets a useful history in one command")
    group.addoption("--vidbench-rebless", action="store_true",
                    help="with --vidbench-update-baselines: replace the pinned reference clips")
    group.addoption("--vidbench-pin-anchor", default=None, metavar="LABEL",
                    help="with --vidbench-update-baselines: pin the updated histories as the "
                         "anchor (e.g. a release tag) that creep is judged against")
    group.addoption("--vidbench-accept-regressions", action="store_true",
                    help="with --vidbench-update-baselines: record a run even if it regressed")
    group.addoption("--vidbench-prune-baselines", action="store_true",
                    help="remove baseline entries of tests that no longer exist")
    group.addoption("--vidbench-report-only", action="store_true",
                    help="report verdicts but always exit 0 on regressions")
    group.addoption("--vidbench-markdown", default=None, metavar="PATH",
                    help="write the PR-comment Markdown here")
    group.addoption("--vidbench-html", default=None, metavar="PATH",
                    help="write a self-contained HTML report here")
    group.addoption("--vidbench-prometheus", default=None, metavar="PATH",
                    help="write the results as a Prometheus textfile (node_exporter) here")
    add_against_options(group)


@dataclass(frozen=True)
class RunOptions:
    enabled: bool
    config: VidbenchConfig
    rootdir: Path
    results_path: Path
    benchmark_json_path: Path | None
    baselines_dir: Path
    update_baselines: bool
    prune_baselines: bool
    report_only: bool
    markdown_path: Path | None
    html_path: Path | None
    runs: int = 1  # runs to record with update_baselines, one process each
    rebless: bool = False
    accept_regressions: bool = False
    pin_anchor: str | None = None  # label of the anchor this update pins
    prometheus_path: Path | None = None

    @property
    def gate_enforced(self) -> bool:
        return not (self.report_only or self.update_baselines)


def _path(rootdir: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    return path if path.is_absolute() else rootdir / path


def _comma_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _apply_overrides(config: VidbenchConfig, pytest_config: pytest.Config) -> VidbenchConfig:
    changes: dict[str, Any] = {}
    for suffix, field, _kind, _text in _OVERRIDES:
        value = pytest_config.getoption(f"--vidbench-{suffix}")
        if value is None:
            continue
        if field not in ("device", "cpu_allocator") and value < (0 if field == "warmup" else 1):
            raise ConfigError(f"--vidbench-{suffix} must be ≥ {0 if field == 'warmup' else 1}")
        changes[field] = value
    if "device" in changes:
        validate_device(changes["device"], "--vidbench-device")
    if "cpu_allocator" in changes:
        validate_cpu_allocator(changes["cpu_allocator"], "--vidbench-cpu-allocator")
    models = pytest_config.getoption("--vidbench-models")
    if models is not None:
        by_name = {m.name: m for m in config.models}
        changes["models"] = tuple(by_name.get(n, ModelConfig(name=n)) for n in _comma_list(models))
    metrics = pytest_config.getoption("--vidbench-metrics")
    if metrics is not None:
        changes["metrics"] = _comma_list(metrics)
    return dataclasses.replace(config, **changes)


def _pyproject(pytest_config: pytest.Config) -> Path:
    inipath = pytest_config.inipath
    use_ini = inipath is not None and inipath.name == "pyproject.toml"
    return inipath if use_ini else Path(pytest_config.rootpath) / "pyproject.toml"


def prepare_process(early_config: pytest.Config, args: list[str]) -> None:
    """Before any conftest file loads: what must be in place before torch starts."""
    if not getattr(early_config.known_args_namespace, "vidbench", False):
        return  # not a benchmark run: the plugin changes nothing of the user's tests
    try:
        enabled = load_pyproject_config(_pyproject(early_config)).cpu_huge_pages
    except ConfigError:
        return  # pytest_configure reports it, with the key and the fix
    huge_pages.request(enabled)


def resolve_options(pytest_config: pytest.Config) -> RunOptions:
    """Read pyproject.toml at the rootdir and apply the command line. Raises ConfigError."""
    rootdir = Path(pytest_config.rootpath)
    config = _apply_overrides(load_pyproject_config(_pyproject(pytest_config)), pytest_config)
    getoption = pytest_config.getoption
    return RunOptions(
        enabled=bool(getoption("--vidbench")),
        config=config,
        rootdir=rootdir,
        results_path=_path(rootdir, getoption("--vidbench-json") or config.results),
        benchmark_json_path=_path(rootdir, getoption("--vidbench-benchmark-json")),
        baselines_dir=_path(rootdir, getoption("--vidbench-baselines") or config.baselines),
        update_baselines=bool(getoption("--vidbench-update-baselines")),
        prune_baselines=bool(getoption("--vidbench-prune-baselines")),
        report_only=bool(getoption("--vidbench-report-only")),
        markdown_path=_path(rootdir, getoption("--vidbench-markdown")),
        html_path=_path(rootdir, getoption("--vidbench-html")),
        runs=_runs(getoption("--vidbench-runs")),
        rebless=bool(getoption("--vidbench-rebless")),
        accept_regressions=bool(getoption("--vidbench-accept-regressions")),
        pin_anchor=_label(getoption("--vidbench-pin-anchor"), bool(
            getoption("--vidbench-update-baselines"))),
        prometheus_path=_prometheus(rootdir, getoption("--vidbench-prometheus")),
    )


def _prometheus(rootdir: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    from pytest_vidbench.report.prometheus import check_available

    try:
        check_available()
    except ImportError as error:
        raise ConfigError(str(error)) from None
    return _path(rootdir, value)


def _label(value: str | None, updating: bool) -> str | None:
    if value is None:
        return None
    if not updating:
        raise ConfigError("--vidbench-pin-anchor pins what an update records: add "
                          "--vidbench-update-baselines")
    label = value.strip()
    if not label or len(label) > 100 or not label.isprintable():
        raise ConfigError(f"--vidbench-pin-anchor {value!r}: give a short printable label, "
                          "such as a release tag (v1.4.0)")
    return label


def _runs(value: int | None) -> int:
    if value is None:
        return 1
    if not 1 <= value <= 100:
        raise ConfigError(f"--vidbench-runs must be between 1 and 100, got {value}")
    return value
