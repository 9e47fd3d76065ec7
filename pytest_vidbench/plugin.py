"""The pytest plugin: hooks are one-liners; the run's state lives in VidbenchSession."""

from __future__ import annotations

import pytest

from pytest_vidbench import hookspec
from pytest_vidbench.config import ConfigError
from pytest_vidbench.fixtures import (  # noqa: F401  (fixtures are found by name)
    vidbench_device,
    vidbench_energy,
    vidbench_latency,
    vidbench_measurements,
    vidbench_memory,
    vidbench_quality,
    vidbench_result,
    vidbench_session,
)
from pytest_vidbench.options import add_options, resolve_options
from pytest_vidbench.session import SESSION_KEY, VidbenchSession
from pytest_vidbench.termination import trap_sigterm, untrap_sigterm


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspec)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "vidbench(models=None, metrics=None): choose the models and metrics of a "
        "benchmark test (default: [tool.vidbench], else every built-in model)")
    try:
        options = resolve_options(config)
    except ConfigError as error:
        raise pytest.UsageError(f"pytest-vidbench: {error}") from None
    config.stash[SESSION_KEY] = VidbenchSession(config, options)
    if options.enabled:
        trap_sigterm(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    untrap_sigterm(config)


def _session(config: pytest.Config) -> VidbenchSession:
    return config.stash[SESSION_KEY]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    _session(metafunc.config).parametrize(metafunc)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _session(config).after_collection(items)


def pytest_collection_finish(session: pytest.Session) -> None:
    _session(session.config).collection_finished(session.items)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _session(session.config).finish(exitstatus) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    _session(terminalreporter.config).terminal_summary(terminalreporter)
