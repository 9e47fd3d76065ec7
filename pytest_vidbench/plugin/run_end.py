"""The end of a run, in stage order: judge (with fresh processes), update the store, report.

session.py delegates its `finish` and `terminal_summary` here; these read the session's
state, call each stage once, and return pytest's share of the exit status.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from pytest_vidbench.gate.confirm import ConfirmationFailed, Remeasure
from pytest_vidbench.gate.judge import Comparison, Judge, policy_of
from pytest_vidbench.measure.fresh import (
    CHILD_ENV,
    FreshProcessError,
    carried_options,
    in_child_process,
    run_child,
)
from pytest_vidbench.records import FreshRun, RunContext, RunReport
from pytest_vidbench.store.histories import histories
from pytest_vidbench.store.schema import InputError

if TYPE_CHECKING:
    from pytest_vidbench.plugin.session import VidbenchSession


def _remeasure(session: VidbenchSession) -> Remeasure:
    c = session.options.config
    setup = session.device_setup()
    ids = {r.key: r.test_id for r in session.records}
    passthrough = [f"--vidbench-device={setup.device}", f"--vidbench-threads={c.threads}",
                   f"--vidbench-cpu-allocator={setup.cpu_allocator}",
                   f"--vidbench-warmup={min(c.warmup, 1)}",
                   f"--vidbench-rounds={c.remeasure_rounds}",
                   f"--vidbench-calls-per-round={c.remeasure_calls}"]
    for name in ("--vidbench-models", "--vidbench-metrics"):
        if (value := session.config.getoption(name)) is not None:
            passthrough.append(f"{name}={value}")
    option = session.config.option
    passthrough += carried_options(getattr(option, "plugins", None) or [],
                                   getattr(option, "override_ini", None) or [])
    timeout = max(300.0, 3 * session.measured.timed_seconds())
    progress = session._progress()

    def remeasure(suspects: list[str], refs: list[str]) -> FreshRun:
        session.release_devices()  # the child needs the device the parent still holds
        progress.note(f"re-measuring in a fresh process: {', '.join(suspects)}"
                      + (f" (references: {', '.join(refs)})" if refs else ""))
        try:
            child = run_child([ids[k] for k in [*suspects, *refs] if k in ids],
                              session.options.rootdir, session.config.inipath, passthrough,
                              timeout)
        except FreshProcessError as error:
            raise ConfirmationFailed(str(error)) from None
        values = {r.key: float(r.value) for r in child.records
                  if r.status == "ok" and r.value and r.kind in ("latency", "energy")}
        missing = [k for k in suspects if k not in values]
        if missing:
            raise ConfirmationFailed(f"the fresh process measured no value for "
                                     f"{', '.join(missing)}")
        samples = child.run.get("control_samples") or []
        control = RunContext(control_samples=[float(x) for x in samples]).control
        return FreshRun(values, control, c.remeasure_rounds * c.remeasure_calls,
                        float(child.run.get("timed_seconds") or 0.0))

    return remeasure


def _shards(session: VidbenchSession) -> int:
    from pytest_vidbench.scale.shard import OPTION, parse_shard

    text = session.config.getoption(OPTION, None)
    return parse_shard(text)[1] if text else 1


def judge_run(session: VidbenchSession, interrupted: bool) -> tuple[Comparison, RunContext]:
    store, c = session._store, session.options.config
    assert store is not None
    comparison = Comparison(store.environment_key,
                            histories(session._baseline) if session._baseline else None,
                            store.other_environments())
    context = RunContext(control_samples=session.measured.control_samples(),
                         calls=c.rounds * c.calls_per_round, cost=session.cost)
    session.context = context
    can = c.remeasure and not in_child_process() and not interrupted \
        and not session.options.update_baselines
    policy = policy_of(c.thresholds, c.remeasure_runs, c.remeasure_references)
    shards = _shards(session)
    if shards > 1:  # each shard one family at α/N: the union of N gates keeps α (Bonferroni)
        policy = replace(policy, alpha=policy.alpha / shards)
    context.alpha = policy.alpha
    judge = Judge(c.thresholds, session.measured.quality_metrics(), policy)
    judge.judge(session.records, comparison, context, _remeasure(session) if can else None)
    return comparison, context


def update_store(session: VidbenchSession, exitstatus: int, interrupted: bool) -> str:
    """Append this run to the baselines, or say why not; the line goes into the report."""
    from pytest_vidbench.quality.reference import ReferenceConfig
    from pytest_vidbench.store.transaction import update_baselines

    store, options, c = session._store, session.options, session.options.config
    assert store is not None
    if interrupted or exitstatus != pytest.ExitCode.OK:
        return "baselines NOT updated: the run failed or was interrupted"
    if session.lost_workers:
        session.failed_update = True
        return (f"baselines NOT updated: {', '.join(session.lost_workers)} stopped before "
                "handing over its results")
    regressed = [r.key for r in session.records if r.verdict and r.verdict.status == "regression"]
    if regressed and not options.accept_regressions:
        session.failed_update = True
        return (f"baselines NOT updated: this run regressed ({', '.join(regressed)}); a "
                "regression must not become the baseline silently. Fix it, or record it on "
                "purpose with --vidbench-accept-regressions")
    if options.prune_baselines and session.deselected:
        session.messages.append("baselines not pruned: tests were deselected (-k/-m); prune "
                                "only on a run of the whole suite")
    try:
        outcome = update_baselines(
            store, session.records, session.environment(), c.history,
            options.prune_baselines and not session.deselected,
            references=session.measured.clips(session.measured.reference_keys()),
            reference_config=ReferenceConfig(max_side=c.reference_max_side,
                                             max_frames=c.reference_max_frames),
            rebless=options.rebless, control=session.context.control_samples,
            pin=options.pin_anchor, flag_regressions=bool(regressed))
    except InputError as error:
        session.failed_update = True
        return f"baselines NOT updated: {error}"
    for key, why in outcome.skipped.items():
        session.messages.append(f"reference clip for {key} not stored: {why}")
    if outcome.pinned:
        session.messages.append(f"reference clips kept (pinned) for {', '.join(outcome.pinned)};"
                                " --vidbench-rebless replaces them")
    line = f"baselines updated: {store.path}"
    if options.pin_anchor:
        line += f"; anchor {options.pin_anchor!r} pinned"
    if regressed:
        line += (f" (recorded on purpose although it regressed: {', '.join(regressed)}; "
                 "their new history entries are flagged \"regressed\")")
    return line + _more_runs(session)


def _more_runs(session: VidbenchSession) -> str:
    """--vidbench-runs N: N − 1 more runs, each in its own process, appended in turn."""
    extra = session.options.runs - 1
    if extra <= 0 or in_child_process():
        return ""
    args: list[str] = []
    skip = False
    for a in session.config.invocation_params.args:
        if skip or a.startswith("--vidbench-runs"):
            skip = a == "--vidbench-runs"  # its value is the next argument
            continue
        args.append(a)
    done = 0
    for _ in range(extra):
        child = subprocess.run([sys.executable, "-m", "pytest", *args, "-q"],
                               cwd=session.config.invocation_params.dir,
                               env=dict(os.environ, **{CHILD_ENV: "1"}), check=False,
                               capture_output=True, text=True)
        if child.returncode != 0:
            break
        done += 1
    return f"; {1 + done} of {session.options.runs} runs recorded"


def run_info(session: VidbenchSession, report: RunReport, context: RunContext) -> dict[str, Any]:
    c = session.options.config
    store = session._store
    return {
        "device_setup": session.device_setup().to_json(), "warmup": c.warmup,
        "rounds": c.rounds, "calls_per_round": c.calls_per_round,
        "wall_seconds": report.wall_seconds, "timed_seconds": report.timed_seconds,
        **context.to_json(),
        "baseline_file": str(store.path) if store else None,
        "baselines_updated": report.baselines_updated, "interrupted": report.interrupted,
    }


def end_run(session: VidbenchSession, exitstatus: int) -> int:
    """Judge, update the store if asked, then report; 1 when the gate fails."""
    from pytest_vidbench.report.build import build_report
    from pytest_vidbench.report.outputs import write_outputs

    if session.role.kind == "worker":  # the controller judges, stores and reports
        if session.active:
            from pytest_vidbench.scale.handover import hand_over

            hand_over(session)
        return 0
    interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    # A job cancelled while the campaign measured has no records, but still gets its report.
    cancelled_early = session.cancelled is not None and session._store is not None
    if not session.active or not (session.records or cancelled_early):
        return 1 if session.lost_workers else 0
    if session._store is None:  # an xdist controller collects nothing itself
        session._load_baselines()
    if session.role.kind == "controller":  # the workers measured: their phases join ours
        session.cost.add(session.measured.cost())
    cost = session.cost
    with cost.phase("judge"):
        comparison, context = judge_run(session, interrupted)
    with cost.phase("store"):
        updated = update_store(session, exitstatus, interrupted) \
            if session.options.update_baselines else None
    report_started = time.perf_counter()
    c = session.options.config
    timed = session.measured.timed_seconds() + sum(f.timed_seconds for f in context.fresh)
    if session.cancelled is not None:
        session.messages.append(
            f"the run was interrupted ({session.cancelled}): {len(session.records)}"
            + (f" of {len(session.cases)}" if session.cases else "")
            + " benchmark tests finished; baselines were not updated")
    report = build_report(
        session.records, session.environment(), comparison, session._baseline,
        f"{c.warmup} warm-up, {c.rounds} rounds × {c.calls_per_round} calls",
        time.monotonic() - session.started, timed, session.messages,
        session.options.gate_enforced, updated, interrupted=session.cancelled is not None)
    report.frame_roots = frame_previews(session)
    session.report = report
    cost.report += time.perf_counter() - report_started  # up to the writes, which it is in
    write_outputs(report, session.options, run_info(session, report, context))
    session.config.hook.pytest_vidbench_report(config=session.config, report=report)
    return 1 if report.gate_failed or session.failed_update or session.lost_workers else 0


def frame_previews(session: VidbenchSession) -> tuple[str, ...]:
    """For the HTML report's frame strips: this run's clips of every model with a quality
    test, reduced like reference clips, beside the results file (frames/), and the
    baseline's pinned reference clips. Returns the directories the report may read."""
    from pytest_vidbench.store.references import ReferenceStore, reference_path, save_references

    store = session._store
    if store is None or session.options.html_path is None:
        return ()
    out = session.options.results_path.parent / "frames"
    baseline = session._baseline
    references = ReferenceStore(store.frames_dir,
                                index=baseline.references if baseline else {})
    pairs = {(r.model, r.variant) for r in session.records if r.kind == "quality"}
    clips = session.measured.clips(pairs)
    for model, variant in sorted(clips):
        path = reference_path(out, model, variant)
        try:
            save_references(path, clips[(model, variant)])
        except (OSError, ValueError, InputError):
            continue  # a preview is a nicety: never a reason for the run to fail
        base = references.path(model, variant)
        for r in session.records:
            if (r.model, r.variant) == (model, variant) and r.verdict is not None:
                r.verdict.extra["frames_path"] = str(path)
                if base.is_file():
                    r.verdict.extra["baseline_frames_path"] = str(base)
    return (str(out), str(store.frames_dir))


def terminal_summary(session: VidbenchSession, reporter: Any) -> None:
    if session.report is None:
        if not session.options.enabled and session.collected_keys:
            reporter.write_line(f"vidbench: {len(session.collected_keys)} benchmark tests "
                                "skipped; run with --vidbench to measure")
        return
    from pytest_vidbench.report.first_run import first_run_lines
    from pytest_vidbench.report.terminal import summary_lines
    from pytest_vidbench.store.baselines import BaselineStore

    first: list[str] = []
    store, baseline = session._store, session._baseline
    if store is not None and not session.options.update_baselines:
        tests = baseline.tests if baseline else {}
        history = {k: len(tests[k].history) if k in tests else 0
                   for k in session.measured.record_keys()}
        first = first_run_lines(store.environment_key, store.other_environments(), history,
                                session.role.workers)
    unused = BaselineStore.unused(baseline, session.collected_keys)
    reporter.write_sep("=", "vidbench")
    for line in summary_lines(session.report, first, unused,
                              width=min(reporter._tw.fullwidth, 100)):
        reporter.write_line(line)
