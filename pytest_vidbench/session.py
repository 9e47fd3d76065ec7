"""The run's state and the order of its stages: measure → gate → store → report.

Hooks in plugin.py are one-liners that call into this object. Measuring lives in measure/,
judging in gate/, files in store/, rendering in report/; `finish()` only calls them in
order, and its result is combined into pytest's exit status.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from pytest_vidbench.cases import CASE_FIXTURE, BenchmarkCase, scoped_registries, select_cases
from pytest_vidbench.config import ConfigError
from pytest_vidbench.measure.progress import Progress
from pytest_vidbench.options import RunOptions
from pytest_vidbench.records import ResultRecord, RunContext, RunReport
from pytest_vidbench.store.schema import InputError

if TYPE_CHECKING:  # torch, scipy and diffusers load only once a benchmark runs
    from pytest_vidbench.measure.campaign import MeasurementCampaign, Measurements
    from pytest_vidbench.measure.device import DeviceSetup
    from pytest_vidbench.store.baselines import BaselineFile, BaselineStore

SESSION_KEY = pytest.StashKey["VidbenchSession"]()
SKIP_REASON = "vidbench benchmarks run only with --vidbench"


class VidbenchSession:
    def __init__(self, config: pytest.Config, options: RunOptions) -> None:
        self.config = config
        self.options = options
        self.cases: dict[str, BenchmarkCase] = {}  # nodeid -> case, after deselection
        self.collected_keys: set[str] = set()  # every collected case, before deselection
        self.records: list[ResultRecord] = []
        self.deselected = 0
        self.started = time.monotonic()
        self.report: RunReport | None = None
        self.messages: list[str] = []
        self.usage_errors: list[str] = []
        self.failed_update = False
        self.context = RunContext()  # run-level facts, filled at the end of the run
        self._setup: DeviceSetup | None = None
        self._environment: dict[str, Any] | None = None
        self._campaign: MeasurementCampaign | None = None
        self._store: BaselineStore | None = None
        self._baseline: BaselineFile | None = None
        self._references: dict[tuple[str, str], Any] = {}

    # -- collection ----------------------------------------------------------------

    def parametrize(self, metafunc: pytest.Metafunc) -> None:
        if CASE_FIXTURE not in metafunc.fixturenames:
            return
        models, metrics = scoped_registries(metafunc.definition.ihook)
        try:
            cases = select_cases(self.options.config, models, metrics,
                                 metafunc.definition.get_closest_marker("vidbench"))
        except ConfigError as error:  # a usage error (exit 4), reported after collection
            self.usage_errors.append(f"{metafunc.definition.nodeid}: {error}")
            cases = []
        metafunc.parametrize(CASE_FIXTURE, cases, ids=[c.id for c in cases])

    def after_collection(self, items: list[pytest.Item]) -> None:
        """Runs before deselection: remember every case; skip them all without --vidbench."""
        owners: dict[str, str] = {}
        for item in items:
            case = _case_of(item)
            if case is None:
                continue
            function = item.nodeid.split("[", 1)[0]
            if owners.setdefault(case.record_key, function) != function:
                self.usage_errors.append(
                    f"{case.record_key} is produced by both {owners[case.record_key]} and "
                    f"{function}: give the two tests different models or metrics")
            self.collected_keys.add(case.record_key)
            if not self.options.enabled:
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
        if self.usage_errors:
            raise pytest.UsageError("pytest-vidbench: " + "\n".join(self.usage_errors))

    def collection_finished(self, items: list[pytest.Item]) -> None:
        self.cases = {item.nodeid: case for item in items if (case := _case_of(item))}
        self.deselected = max(len(self.collected_keys) - len(self.cases), 0)
        if self.active:
            self._load_baselines()

    @property
    def active(self) -> bool:
        return self.options.enabled and bool(self.cases)

    # -- measuring -----------------------------------------------------------------

    def device_setup(self) -> DeviceSetup:
        from pytest_vidbench.measure.device import DeviceUnavailable, apply_device_setup

        if self._setup is None:
            c = self.options.config
            try:
                self._setup = apply_device_setup(c.device, c.threads, c.tf32, c.deterministic)
            except DeviceUnavailable as error:
                raise pytest.UsageError(str(error)) from None
        return self._setup

    def environment(self) -> dict[str, Any]:
        from pytest_vidbench.measure.environment import collect_environment

        if self._environment is None:
            env = collect_environment(self.device_setup(), self.options.rootdir)
            self.config.hook.pytest_vidbench_machine_info(config=self.config, info=env)
            self._environment = env
        return self._environment

    def _load_baselines(self) -> None:
        from pytest_vidbench.measure.environment import environment_key
        from pytest_vidbench.store.baselines import BaselineStore

        # The key needs the device, so this resolves it; bad files stop the run here (exit 4).
        self._store = BaselineStore(self.options.baselines_dir, environment_key(self.environment()))
        try:
            self._baseline = self._store.load()
        except InputError as error:
            raise pytest.UsageError(str(error)) from None

    def measurements(self, key: tuple[str, str]) -> Measurements:
        from pytest_vidbench.measure.campaign import MeasurementCampaign

        if self._campaign is None:
            wanted: dict[tuple[str, str], BenchmarkCase] = {}
            for case in self.cases.values():
                wanted.setdefault(case.measurement_key, case)
            self._campaign = MeasurementCampaign(
                [(c.model, c.variant) for c in wanted.values()], self.device_setup(),
                self.options.config, self._progress())
            self._campaign.run()
        return self._campaign.results[key]

    def _progress(self) -> Progress:
        return Progress(self.config.pluginmanager.get_plugin("terminalreporter"),
                        self.config.get_verbosity())

    def references(self, key: tuple[str, str]) -> Any:
        """The baseline's pinned reference clips for (model, variant), or None."""
        if key not in self._references:
            assert self._store is not None
            self._references[key] = self._store.load_references(self._baseline, *key)
        return self._references[key]

    def add_record(self, record: ResultRecord) -> None:
        self.records.append(record)

    # -- the end of the run: gate, store, report -------------------------------------

    def finish(self, exitstatus: int) -> int:
        """Judge, update the store if asked, then report; 1 when the gate fails."""
        from pytest_vidbench.report.build import build_report
        from pytest_vidbench.report.outputs import write_outputs
        from pytest_vidbench.run_end import judge_run, run_info, update_store

        if not self.active or not self.records:
            return 0
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        assert self._store is not None
        comparison, context = judge_run(self, interrupted)
        updated = update_store(self, exitstatus, interrupted) if self.options.update_baselines \
            else None
        c = self.options.config
        campaign = self._campaign
        timed = (campaign.timed_seconds if campaign else 0.0) + sum(
            f.timed_seconds for f in context.fresh)
        report = build_report(
            self.records, self.environment(), comparison, self._baseline,
            f"{c.warmup} warm-up, {c.rounds} rounds × {c.calls_per_round} calls",
            time.monotonic() - self.started, timed, self.messages,
            self.options.gate_enforced, updated)
        self.report = report
        write_outputs(report, self.options, run_info(self, report, context))
        self.config.hook.pytest_vidbench_report(config=self.config, report=report)
        return 1 if report.gate_failed or self.failed_update else 0

    def terminal_summary(self, reporter: Any) -> None:
        if self.report is None:
            if not self.options.enabled and self.collected_keys:
                reporter.write_line(f"vidbench: {len(self.collected_keys)} benchmark tests "
                                    "skipped; run with --vidbench to measure")
            return
        from pytest_vidbench.report.terminal import summary_lines

        reporter.write_sep("=", "vidbench")
        for line in summary_lines(self.report, self._first_run(), self._unused(),
                                  width=min(reporter._tw.fullwidth, 100)):
            reporter.write_line(line)

    def _unused(self) -> list[str]:
        from pytest_vidbench.store.baselines import BaselineStore

        return BaselineStore.unused(self._baseline, self.collected_keys)

    def _first_run(self) -> list[str]:
        from pytest_vidbench.report.first_run import first_run_lines

        if self._store is None or self.options.update_baselines:
            return []
        tests = self._baseline.tests if self._baseline else {}
        history = {k: len(tests[k].history) if k in tests else 0
                   for k in {c.record_key for c in self.cases.values()}}
        return first_run_lines(self._store.environment_key, self._store.other_environments(),
                               history)


def _case_of(item: pytest.Item) -> BenchmarkCase | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    case = callspec.params.get(CASE_FIXTURE)
    return case if isinstance(case, BenchmarkCase) else None
