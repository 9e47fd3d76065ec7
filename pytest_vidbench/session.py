"""The run's state and the order of its stages: measure → gate → store → report.

Hooks in plugin.py are one-liners that call into this object. Measuring lives in measure/,
judging in gate/, files in store/, rendering in report/; `finish()` only calls them in
order, and its result is combined into pytest's exit status.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from pytest_vidbench.cases import BenchmarkCase, case_of, check_collected, parametrize
from pytest_vidbench.measure.progress import Progress
from pytest_vidbench.options import RunOptions
from pytest_vidbench.records import ResultRecord, RunContext, RunReport
from pytest_vidbench.store.schema import InputError

if TYPE_CHECKING:  # torch, scipy and diffusers load only once a benchmark runs
    from pytest_vidbench.measure.campaign import MeasurementCampaign
    from pytest_vidbench.measure.device import DeviceSetup
    from pytest_vidbench.measure.measurements import Measurements
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
        parametrize(metafunc, self.options.config, self.usage_errors)

    def after_collection(self, items: list[pytest.Item]) -> None:
        """Runs before deselection: remember every case; skip them all without --vidbench."""
        self.collected_keys |= check_collected(items, self.usage_errors)
        if not self.options.enabled:
            for item in items:
                if case_of(item) is not None:
                    item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
        if self.usage_errors:
            raise pytest.UsageError("pytest-vidbench: " + "\n".join(self.usage_errors))

    def collection_finished(self, items: list[pytest.Item]) -> None:
        self.cases = {item.nodeid: case for item in items if (case := case_of(item))}
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
                self.options.config, self._progress(),
                frozenset(c.kind for c in self.cases.values()))
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

    # -- the end of the run: gate, store, report (run_end.py) -------------------------

    def finish(self, exitstatus: int) -> int:
        """Judge, update the store if asked, then report; 1 when the gate fails."""
        from pytest_vidbench.run_end import end_run

        return end_run(self, exitstatus)

    def terminal_summary(self, reporter: Any) -> None:
        from pytest_vidbench.run_end import terminal_summary

        terminal_summary(self, reporter)
