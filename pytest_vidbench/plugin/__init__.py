"""The pytest plugin: hooks are one-liners; the run's state lives in VidbenchSession."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from pytest_vidbench import hookspec
from pytest_vidbench.config import ConfigError
from pytest_vidbench.plugin.against import open_against
from pytest_vidbench.plugin.fixtures import (  # noqa: F401  (fixtures are found by name)
    vidbench_device,
    vidbench_energy,
    vidbench_latency,
    vidbench_measurements,
    vidbench_memory,
    vidbench_quality,
    vidbench_result,
    vidbench_session,
)
from pytest_vidbench.plugin.options import add_options, prepare_process, resolve_options
from pytest_vidbench.plugin.session import SESSION_KEY, VidbenchSession
from pytest_vidbench.plugin.termination import trap_sigterm, untrap_sigterm
from pytest_vidbench.scale.handover import take_over
from pytest_vidbench.scale.workers import (
    assign_gpus,
    check_layout,
    choose_dist,
    make_scheduler,
    pin_worker,
)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspec)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)  # before the first conftest files can import torch
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    prepare_process(early_config, args)


@pytest.hookimpl(wrapper=True)  # before pytest-xdist's own (tryfirst) turns -n into --dist load
def pytest_cmdline_main(config: pytest.Config) -> Generator[None, object, object]:
    choose_dist(config)
    return (yield)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "vidbench(models=None, metrics=None): choose the models and metrics of a "
        "benchmark test (default: [tool.vidbench], else every built-in model)")
    try:
        options = resolve_options(config)
    except ConfigError as error:
        raise pytest.UsageError(f"pytest-vidbench: {error}") from None
    session = config.stash[SESSION_KEY] = VidbenchSession(config, options)
    if options.enabled:
        session.against = open_against(config, options.config, options.update_baselines,
                                       session.messages, session.note)
        check_layout(session.role, options.config.device)
        pin_worker(session.role)
        trap_sigterm(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    untrap_sigterm(config)
    if SESSION_KEY in config.stash:
        _session(config).scratch.remove()
        if (against := _session(config).against) is not None:
            against.close()


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's controller, before any worker starts
def pytest_xdist_setupnodes(config: pytest.Config, specs: list) -> None:
    if _session(config).options.enabled:
        assign_gpus(specs, _session(config).options.config.device)


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's controller, once per worker
def pytest_configure_node(node: object) -> None:
    if (session := _session(node.config)).options.enabled:  # type: ignore[attr-defined]
        session.scratch.give(node.workerinput)  # type: ignore[attr-defined]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    scratch = _session(config).scratch.path  # set only when --vidbench gave it to workers
    return make_scheduler(config, log, scratch) if scratch is not None else None


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    if (session := _session(node.config)).options.enabled:  # type: ignore[attr-defined]
        take_over(session, getattr(node, "workeroutput", None), error,
                  getattr(node, "workerinput", {}).get("workerid"))


def _session(config: pytest.Config) -> VidbenchSession:
    return config.stash[SESSION_KEY]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    _session(metafunc.config).parametrize(metafunc)


@pytest.hookimpl(wrapper=True)  # before deselection, and again after -k/-m and shards
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]
                                  ) -> Generator[None, None, None]:
    _session(config).after_collection(items)
    yield
    _session(config).selected(items)


def pytest_collection_finish(session: pytest.Session) -> None:
    _session(session.config).collection_finished(session.items)


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    try:
        return (yield)
    except KeyboardInterrupt as error:
        # Collection errors end the loop with the same exit status; only Ctrl-C or SIGTERM
        # (termination.py) is a cancelled run, whose reports must say so.
        if not isinstance(error, pytest.Session.Interrupted):
            _session(session.config).cancelled = str(error) or "Ctrl-C"
        raise


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from pytest_vidbench.plugin.run_end import end_run  # gate, store, report: only now

    status = end_run(_session(session.config), exitstatus)
    if status == pytest.ExitCode.USAGE_ERROR:  # --vidbench-against: base could not be run
        session.exitstatus = status
    elif status and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from pytest_vidbench.plugin.run_end import terminal_summary

    terminal_summary(_session(terminalreporter.config), terminalreporter)
