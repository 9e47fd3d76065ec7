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
from pytest_vidbench.handover import WorkerOutput, benchmark_keys
from pytest_vidbench.measure.progress import Progress
from pytest_vidbench.options import RunOptions
from pytest_vidbench.records import ResultRecord, RunContext, RunReport
from pytest_vidbench.store.schema import InputError
from pytest_vidbench.workers import SCRATCH_KEY, Role, group_items, role_of

if TYPE_CHECKING:  # torch, scipy and diffusers load only once a benchmark runs
    from pytest_vidbench.measure.campaign import MeasurementCampaign
    from pytest_vidbench.measure.device import DeviceSetup
    from pytest_vidbench.measure.measurements import Measurements
    from pytest_vidbench.quality.registry import QualityMetric
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
        self.role: Role = role_of(config)
        self.collected_order: list[str] = []
        self.groups: dict[str, int] = {}  # model -> its group of tests (xdist workers only)
        self.handed_over: list[WorkerOutput] = []  # what the workers measured (controller)
        self.lost_workers: list[str] = []  # stopped before handing over (controller)
        self._setup: DeviceSetup | None = None
        self._environment: dict[str, Any] | None = None
        self._campaigns: dict[int, MeasurementCampaign] = {}  # group -> its campaign
        self._scratch: str | None = None  # the controller's directory for worker clips
        self._worker_clips: dict[tuple[str, str], dict] | None = None
        self._store: BaselineStore | None = None
        self._baseline: BaselineFile | None = None
        self._references: dict[tuple[str, str], Any] = {}

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
        if self.options.enabled and self.role.kind == "worker":
            self.groups = group_items(items, self.role,
                                      self.config.workerinput.get(SCRATCH_KEY))

    def collection_finished(self, items: list[pytest.Item]) -> None:
        self.cases = {item.nodeid: case for item in items if (case := case_of(item))}
        self.deselected = max(len(self.collected_keys) - len(self.cases), 0)
        if self.active:
            self._load_baselines()

    @property
    def active(self) -> bool:
        return self.options.enabled and (bool(self.cases) or self.role.kind == "controller")

    # -- measuring -----------------------------------------------------------------

    def device_setup(self) -> DeviceSetup:
        from pytest_vidbench.measure.cpu_allocator import AllocatorUnavailable
        from pytest_vidbench.measure.device import DeviceUnavailable, apply_device_setup

        if self._setup is None:
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
        from pytest_vidbench.measure.campaign import MeasurementCampaign

        group = self.groups.get(key[0], 0)
        if group not in self._campaigns:
            mine = [c for c in self.cases.values() if self.groups.get(c.model.name, 0) == group]
            wanted: dict[tuple[str, str], BenchmarkCase] = {}
            for case in mine:
                wanted.setdefault(case.measurement_key, case)
            campaign = MeasurementCampaign(
                [(c.model, c.variant) for c in wanted.values()], self.device_setup(),
                self.options.config, self._progress(), frozenset(c.kind for c in mine))
            self._campaigns[group] = campaign
            campaign.run()
        return self._campaigns[group].results[key]

    # -- what was measured, wherever it was measured (this process or the workers) ------

    @property
    def _campaign(self) -> MeasurementCampaign | None:  # the serial run's only campaign
        return next(iter(self._campaigns.values()), None)

    def control_samples(self) -> list[float]:
        if self.role.kind == "controller":
            return [x for out in self.handed_over for x in out.control_samples]
        return [x for c in self._campaigns.values() for x in c.control]

    def timed_seconds(self) -> float:
        if self.role.kind == "controller":
            return sum(out.timed_seconds for out in self.handed_over)
        return sum(c.timed_seconds for c in self._campaigns.values())

    def clips(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], dict]:
        """The frames of each (model, variant) in `keys` that was measured without error."""
        if self.role.kind == "controller":
            from pytest_vidbench.handover import load_clips

            if self._worker_clips is None:  # read once: the store and the previews both ask
                self._worker_clips = {k: v for out in self.handed_over
                                      for k, v in load_clips(out.clips).items()}
            found = self._worker_clips
            return {k: found[k] for k in sorted(keys) if k in found}
        out = {}
        for campaign in self._campaigns.values():
            for key in sorted(keys):
                m = campaign.results.get(key)
                if m is not None and m.error is None and m.frames:
                    out[key] = m.frames
        return out

    def release_devices(self) -> None:  # frames stay; a child process needs the device next
        for campaign in self._campaigns.values():
            campaign.release_all()

    def quality_metrics(self) -> dict[str, QualityMetric]:
        if self.role.kind == "controller":
            from pytest_vidbench.handover import CaseInfo

            infos = [CaseInfo(**c) for out in self.handed_over for c in out.cases]
            return {i.metric: q for i in infos if (q := i.metric_thresholds()) is not None}
        return {k.metric: k.quality for k in self.cases.values() if k.quality is not None}

    def reference_keys(self) -> set[tuple[str, str]]:
        """(model, variant) pairs whose quality tests compare against a reference clip."""
        if self.role.kind == "controller":
            from pytest_vidbench.handover import CaseInfo

            infos = [CaseInfo(**c) for out in self.handed_over for c in out.cases]
            return {(i.model, i.variant) for i in infos
                    if i.quality is not None and i.quality.get("needs_reference")}
        return {c.measurement_key for c in self.cases.values()
                if c.quality is not None and c.quality.needs_reference}

    def record_keys(self) -> set[str]:
        if self.role.kind == "controller":
            return {c["record_key"] for out in self.handed_over for c in out.cases}
        return {c.record_key for c in self.cases.values()}

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

    # -- pytest-xdist (workers.py) ------------------------------------------------------

    def configure_worker(self, workerinput: dict[str, Any]) -> None:
        """Controller: where the workers leave their clips for the reference store."""
        import tempfile

        if not self.options.enabled:
            return
        if self._scratch is None:
            self._scratch = tempfile.mkdtemp(prefix="vidbench-workers-")
        workerinput[SCRATCH_KEY] = self._scratch

    def scheduler(self, log: Any) -> Any:
        """Controller: xdist's scheduler, one model group per worker (workers.py)."""
        from pytest_vidbench.workers import make_scheduler

        if not self.options.enabled or self._scratch is None:
            return None
        return make_scheduler(self.config, log, self._scratch)

    def worker_done(self, workeroutput: dict[str, Any] | None, error: Any,
                    worker: str | None) -> None:
        from pytest_vidbench.handover import take_over

        if self.options.enabled:
            take_over(self, workeroutput, error, worker)

    def close(self) -> None:
        if self._scratch is not None:
            import shutil

            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    # -- the end of the run: gate, store, report (run_end.py) -------------------------

    def finish(self, exitstatus: int) -> int:
        """Judge, update the store if asked, then report; 1 when the gate fails."""
        from pytest_vidbench.run_end import end_run

        return end_run(self, exitstatus)

    def terminal_summary(self, reporter: Any) -> None:
        from pytest_vidbench.run_end import terminal_summary

        terminal_summary(self, reporter)
