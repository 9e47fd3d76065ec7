"""The run's state: its cases, what it measured and its baseline file.

The hooks (plugin/__init__.py) are one-liners that call into this object during the run,
and run_end.py at its end: measure → gate → store → report. Measuring lives in measure/,
judging in gate/, files in store/, rendering in report/.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from pytest_vidbench.measure.progress import Progress
from pytest_vidbench.plugin.against import Against, keep_only
from pytest_vidbench.plugin.cases import BenchmarkCase, case_of, check_collected, parametrize
from pytest_vidbench.plugin.measured import InThisProcess, Measured
from pytest_vidbench.plugin.options import RunOptions
from pytest_vidbench.records import ResultRecord, RunContext, RunCost, RunReport
from pytest_vidbench.scale.handover import HandedOver, WorkerOutput, benchmark_keys
from pytest_vidbench.scale.workers import SCRATCH_KEY, Role, Scratch, group_items, role_of
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
        self.cancelled: str | None = None  # why Ctrl-C or SIGTERM ended the run, if one did
        self.context = RunContext()  # run-level facts, filled at the end of the run
        self.cost = RunCost()  # where this process's time goes (records/)
        self.role: Role = role_of(config)
        self.collected_order: list[str] = []
        self.groups: dict[str, int] = {}  # model -> its group of tests (xdist workers only)
        self.handed_over: list[WorkerOutput] = []  # what the workers measured (controller)
        self.lost_workers: list[str] = []  # stopped before handing over (controller)
        self.scratch = Scratch()  # the controller's directory for the workers' clips
        self._setup: DeviceSetup | None = None
        self._environment: dict[str, Any] | None = None
        self._campaigns: dict[int, MeasurementCampaign] = {}  # group -> its campaign
        self.measured: Measured = HandedOver(self.handed_over) if self.role.kind == \
            "controller" else InThisProcess(self._campaigns, self.cases, self.cost)
        self._store: BaselineStore | None = None
        self._baseline: BaselineFile | None = None
        self._references: dict[tuple[str, str], Any] = {}
        self.against: Against | None = None  # --vidbench-against: plugin/against.py
        self.against_error: str | None = None  # why the side-by-side run could not finish

    # -- collection ----------------------------------------------------------------

    def parametrize(self, metafunc: pytest.Metafunc) -> None:
        parametrize(metafunc, self.options.config, self.usage_errors)

    def after_collection(self, items: list[pytest.Item]) -> None:
        """Runs before deselection: remember every case; skip them all without --vidbench."""
        self.collected_keys |= check_collected(items, self.usage_errors)
        self.collected_order = benchmark_keys(items)
        if not self.options.enabled:
            for item in items:
                if case_of(item) is not None:
                    item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
        if self.usage_errors:
            raise pytest.UsageError("pytest-vidbench: " + "\n".join(self.usage_errors))

    def selected(self, items: list[pytest.Item]) -> None:
        """After -k/-m and --vidbench-shard: an xdist worker splits what is left by model."""
        keep_only(self.config, items, lambda i: c.record_key if (c := case_of(i)) else None)
        if self.options.enabled and self.role.kind == "worker":
            self.groups = group_items(items, self.role,
                                      self.config.workerinput.get(SCRATCH_KEY))

    def collection_finished(self, items: list[pytest.Item]) -> None:
        self.cases.clear()  # the same dict that `measured` reads
        self.cases.update({item.nodeid: case for item in items if (case := case_of(item))})
        self.deselected = max(len(self.collected_keys) - len(self.cases), 0)
        if self.active:
            self._load_baselines()

    @property
    def active(self) -> bool:
        return self.options.enabled and (bool(self.cases) or self.role.kind == "controller")

    # -- measuring -----------------------------------------------------------------

    def device_setup(self) -> DeviceSetup:
        if self._setup is None:
            with self.cost.phase("imports"):  # torch, unless a conftest loaded it already
                from pytest_vidbench.measure.cpu_allocator import AllocatorUnavailable
                from pytest_vidbench.measure.device import DeviceUnavailable, apply_device_setup
            c = self.options.config
            try:
                self._setup = apply_device_setup(c.device, c.threads, c.tf32, c.deterministic,
                                                 c.cpu_allocator)
            except (DeviceUnavailable, AllocatorUnavailable) as error:
                raise pytest.UsageError(str(error)) from None
        return self._setup

    def environment(self) -> dict[str, Any]:
        from pytest_vidbench.measure.environment import collect_environment

        if self._environment is None:
            env = collect_environment(self.device_setup(), self.options.rootdir,
                                      self.role.workers)
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
        """What the campaign of this test's group measured; the first test of a group runs
        it (a serial run has one group; an xdist worker one per share it was sent)."""
        group = self.groups.get(key[0], 0)
        if group not in self._campaigns:
            with self.cost.phase("imports"):  # diffusers and the trackers, the first time
                from pytest_vidbench.measure.campaign import MeasurementCampaign

            mine = [c for c in self.cases.values() if self.groups.get(c.model.name, 0) == group]
            wanted: dict[tuple[str, str], BenchmarkCase] = {}
            for case in mine:
                wanted.setdefault(case.measurement_key, case)
            campaign = MeasurementCampaign(
                [(c.model, c.variant) for c in wanted.values()], self.device_setup(),
                self.options.config, self._progress(), frozenset(c.kind for c in mine),
                self.cost)
            self._campaigns[group] = campaign
            campaign.run()
        return self._campaigns[group].results[key]

    def release_devices(self) -> None:  # frames stay; a child process needs the device next
        for campaign in self._campaigns.values():
            campaign.release_all()

    def note(self, line: str) -> None:
        self._progress().note(line)

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
