"""The run's state: what was collected, what was measured, and how the run ends.

Hooks in plugin.py are one-liners that call into this object; `finish()`'s result is
combined into pytest's exit status. Parsing lives in options.py, storage in
baseline_store.py / results_file.py, rendering in report/.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from pytest_vidbench.cases import CASE_FIXTURE, BenchmarkCase, scoped_registries, select_cases
from pytest_vidbench.config import ConfigError
from pytest_vidbench.gate.remeasure import (
    carried_options,
    in_child_process,
    remeasure_in_fresh_process,
)
from pytest_vidbench.measure.progress import Progress
from pytest_vidbench.options import RunOptions
from pytest_vidbench.records import ResultRecord, RunReport
from pytest_vidbench.store.baselines import BaselineError, BaselineFile, BaselineStore

if TYPE_CHECKING:  # torch, scipy and diffusers load only once a benchmark runs
    from pytest_vidbench.gate.judge import Comparison
    from pytest_vidbench.measure.campaign import MeasurementCampaign, Measurements
    from pytest_vidbench.measure.device import DeviceSetup

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
        self.unused: list[str] = []
        self.messages: list[str] = []
        self.usage_errors: list[str] = []
        self._setup: DeviceSetup | None = None
        self._environment: dict[str, Any] | None = None
        self._campaign: MeasurementCampaign | None = None
        self._store: BaselineStore | None = None
        self._baseline: BaselineFile | None = None
        self._references: dict[tuple[str, str], Any] = {}
        self._extra_timed = 0.0

    # -- collection ----------------------------------------------------------------

    def parametrize(self, metafunc: pytest.Metafunc) -> None:
        if CASE_FIXTURE not in metafunc.fixturenames:
            return
        models, metrics = scoped_registries(metafunc.definition.ihook)
        try:
            cases = select_cases(self.options.config, models, metrics,
                                 metafunc.definition.get_closest_marker("vidbench"))
        except ConfigError as error:
            # Raised from here pytest would call it a collection error (exit 2); it is a usage
            # error (exit 4), reported once collection is over.
            self.usage_errors.append(f"{metafunc.definition.nodeid}: {error}")
            cases = []
        metafunc.parametrize(CASE_FIXTURE, cases, ids=[c.id for c in cases])

    def after_collection(self, items: list[pytest.Item]) -> None:
        """Runs before deselection: remember every case; skip them all without --vidbench."""
        if self.usage_errors:
            raise pytest.UsageError("pytest-vidbench: " + "\n".join(self.usage_errors))
        for item in items:
            case = _case_of(item)
            if case is None:
                continue
            self.collected_keys.add(case.record_key)
            if not self.options.enabled:
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))

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

        # The key needs the device, so this resolves it; bad files stop the run here (exit 4).
        self._store = BaselineStore(self.options.baselines_dir, environment_key(self.environment()))
        try:
            self._baseline = self._store.load()
        except BaselineError as error:
            raise pytest.UsageError(str(error)) from None

    def measurements(self, key: tuple[str, str]) -> Measurements:
        from pytest_vidbench.measure.campaign import MeasurementCampaign

        if self._campaign is None:
            wanted: dict[tuple[str, str], BenchmarkCase] = {}
            for case in self.cases.values():
                wanted.setdefault(case.measurement_key, case)
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            progress = Progress(reporter, self.config.get_verbosity())
            self._campaign = MeasurementCampaign(
                [(c.model, c.variant) for c in wanted.values()], self.device_setup(),
                self.options.config, progress)
            self._campaign.run()
        return self._campaign.results[key]

    def control_samples(self) -> list[float]:
        return list(self._campaign.control) if self._campaign else []

    def references(self, key: tuple[str, str]) -> Any:
        """The baseline's reference clips for (model, variant), or None."""
        if key not in self._references:
            from pytest_vidbench.quality.reference import ReferenceStore

            assert self._store is not None
            self._references[key] = ReferenceStore(self._store.frames_dir).load(*key)
        return self._references[key]

    def add_record(self, record: ResultRecord) -> None:
        self.records.append(record)

    # -- the end of the run --------------------------------------------------------

    def _remeasure(self, keys: list[str]
                   ) -> dict[str, list[tuple[float, float | None, float | None]]]:
        # Every latency test runs again, not only the suspects: the other models are the
        # reference a suspect's time is normalised by.
        ids = [r.test_id for r in self.records
               if r.key in keys or (r.kind == "latency" and r.status == "ok")]
        c = self.options.config
        setup = self.device_setup()
        passthrough = [f"--vidbench-device={setup.device}", f"--vidbench-threads={c.threads}",
                       f"--vidbench-warmup={c.warmup}", f"--vidbench-rounds={c.rounds}",
                       f"--vidbench-calls-per-round={c.calls_per_round}"]
        for name in ("--vidbench-models", "--vidbench-metrics"):
            if (value := self.config.getoption(name)) is not None:
                passthrough.append(f"{name}={value}")
        passthrough += carried_options(self.config.invocation_params.args)
        progress = Progress(self.config.pluginmanager.get_plugin("terminalreporter"),
                            self.config.get_verbosity())
        runs = c.remeasure_runs
        progress.note(f"re-measuring {len(ids)} test(s) in {runs} fresh process(es), for "
                      f"{len(keys)} suspect(s): {', '.join(sorted(keys))}")
        timeout = max(300.0, 3 * (self._campaign.timed_seconds if self._campaign else 0))
        fresh: dict[str, list[tuple[float, float | None, float | None]]] = {}
        for _ in range(runs):
            outcome = remeasure_in_fresh_process(
                ids, self.options.rootdir, self.config.inipath, passthrough, timeout=timeout)
            self._extra_timed += outcome.timed_seconds
            if outcome.error:
                self.messages.append(f"re-measurement failed: {outcome.error}")
            for key, summary in outcome.summaries.items():
                if key in keys:
                    fresh.setdefault(key, []).append(summary)
        return fresh

    def finish(self, exitstatus: int) -> int:
        """Judge, write the outputs, maybe update baselines; 1 when the gate fails."""
        from pytest_vidbench.gate.judge import Comparison, Judge
        from pytest_vidbench.report.outputs import write_outputs

        if not self.active or not self.records:
            return 0
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        assert self._store is not None
        comparison = Comparison(self._store.environment_key, self._baseline,
                                self._store.other_environments())
        metrics = {c.metric: c.quality for c in self.cases.values() if c.quality is not None}
        can_remeasure = self.options.config.remeasure and not in_child_process() \
            and not interrupted and not self.options.update_baselines
        Judge(self.options.config.thresholds, metrics).judge(
            self.records, comparison, self._remeasure if can_remeasure else None)
        self.unused = BaselineStore.unused(self._baseline, self.collected_keys)
        report = self._build_report(comparison)
        self.report = report
        write_outputs(report, self.options, self._run_info(report))
        if self.options.update_baselines:
            self._update_baselines(exitstatus, interrupted)
        self.config.hook.pytest_vidbench_report(config=self.config, report=report)
        return 1 if report.gate_failed else 0

    def _build_report(self, comparison: Comparison) -> RunReport:
        from pytest_vidbench.measure.environment import short_commit

        env = self.environment()
        c = self.options.config
        newest = [t.newest for t in self._baseline.tests.values() if t.newest] \
            if self._baseline else []
        newest.sort(key=lambda s: s.date)
        return RunReport(
            records=list(self.records), environment=env, commit=short_commit(env),
            baseline_commit=newest[-1].commit if newest else None,
            baseline_date=newest[-1].date if newest else None,
            baseline_environment=self._store.environment_key if self._store else None,
            repeats=f"{c.warmup} warm-up, {c.rounds} rounds × {c.calls_per_round} calls",
            wall_seconds=time.monotonic() - self.started,
            timed_seconds=(self._campaign.timed_seconds if self._campaign else 0.0)
            + self._extra_timed,
            warnings=comparison.warnings() + self.messages,
            gate_enforced=self.options.gate_enforced,
        )

    def _run_info(self, report: RunReport) -> dict[str, Any]:
        c = self.options.config
        return {
            "device_setup": self.device_setup().to_json(), "warmup": c.warmup,
            "rounds": c.rounds, "calls_per_round": c.calls_per_round,
            "wall_seconds": report.wall_seconds, "timed_seconds": report.timed_seconds,
            "control_samples": self.control_samples(),
            "baseline_file": str(self._store.path) if self._store else None,
        }

    def _update_baselines(self, exitstatus: int, interrupted: bool) -> None:
        assert self._store is not None
        if interrupted or exitstatus != pytest.ExitCode.OK:
            self.messages.append("baselines NOT updated: the run failed or was interrupted")
            return
        if self.options.prune_baselines and self.deselected:
            self.messages.append("baselines not pruned: tests were deselected (-k/-m); prune "
                                 "only on a run of the whole suite")
        prune = self.options.prune_baselines and not self.deselected
        updated = self._store.updated(self._baseline, self.records, self.environment(),
                                      self.options.config.history, prune)
        self._save_references()
        self._store.write(updated)
        self.messages.append(f"baselines updated: {self._store.path}")

    def _save_references(self) -> None:
        from pytest_vidbench.quality.errors import ReferenceBudgetError
        from pytest_vidbench.quality.reference import ReferenceConfig, ReferenceStore

        assert self._store is not None and self._campaign is not None
        c = self.options.config
        store = ReferenceStore(self._store.frames_dir, ReferenceConfig(
            max_side=c.reference_max_side, max_frames=c.reference_max_frames))
        keys = {case.measurement_key for case in self.cases.values()
                if case.quality is not None and case.quality.needs_reference}
        for key in sorted(keys):
            m = self._campaign.results.get(key)
            if m is not None and m.error is None and m.frames:
                try:
                    store.save(*key, m.frames)
                except ReferenceBudgetError as error:
                    self.messages.append(f"reference clip for {key[0]} [{key[1]}] not "
                                         f"stored: {error}")

    def terminal_summary(self, reporter: Any) -> None:
        if self.report is None:
            if not self.options.enabled and self.collected_keys:
                reporter.write_line(f"vidbench: {len(self.collected_keys)} benchmark tests "
                                    "skipped; run with --vidbench to measure")
            return
        from pytest_vidbench.report.terminal import render_gate_section, render_terminal

        reporter.write_sep("=", "vidbench")
        for line in render_terminal(self.report, width=min(reporter._tw.fullwidth, 100)):
            reporter.write_line(line)
        for line in [*self.report.warnings, *(m for m in self.messages
                                               if m not in self.report.warnings)]:
            reporter.write_line(f"note: {line}")
        if self.unused:
            reporter.write_line(f"unused baseline entries ({len(self.unused)}): "
                                f"{', '.join(self.unused)}; "
                                "--vidbench-prune-baselines removes them")
        for line in render_gate_section(self.report):
            reporter.write_line(line)


def _case_of(item: pytest.Item) -> BenchmarkCase | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    case = callspec.params.get(CASE_FIXTURE)
    return case if isinstance(case, BenchmarkCase) else None
