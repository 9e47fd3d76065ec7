"""The end of a run, in stage order: judge (with fresh processes), update the store, report.

session.py delegates its `finish` and `terminal_summary` here; these read the session's
state, call each stage once, and return pytest's share of the exit status.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_vidbench.gate.judge import Comparison, Judge, policy_of
from pytest_vidbench.measure.arms import CLIPS_OPTION, OTHER_TREE_ENV, foreign_modules
from pytest_vidbench.measure.fresh import in_child_process
from pytest_vidbench.measure.worktree import AgainstError
from pytest_vidbench.plugin.fidelity import save_arm_clips
from pytest_vidbench.plugin.remeasure import more_runs, remeasure_in_fresh_processes
from pytest_vidbench.records import RunContext, RunReport
from pytest_vidbench.store.histories import histories
from pytest_vidbench.store.schema import InputError

if TYPE_CHECKING:
    from pytest_vidbench.plugin.session import VidbenchSession


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
    pairing = session.against if not interrupted else None
    can = c.remeasure and not in_child_process() and not interrupted \
        and not session.options.update_baselines and pairing is None
    policy = policy_of(c.thresholds, c.remeasure_runs, c.remeasure_references)
    shards = _shards(session)
    if shards > 1:  # each shard one family at α/N: the union of N gates keeps α (Bonferroni)
        policy = replace(policy, alpha=policy.alpha / shards)
    context.alpha = policy.alpha
    judge = Judge(c.thresholds, session.measured.quality_metrics(), policy, pairing)
    if pairing is not None:
        pairing.head_frames = session.measured.clips
        session.release_devices()  # the arms' processes need the device
        context.side_by_side = pairing.record
    remeasure = remeasure_in_fresh_processes(session) if can else None
    judge.judge(session.records, comparison, context, remeasure)
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
    return line + more_runs(session)


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
        **({"foreign_modules": foreign_modules(Path(other))}
           if (other := os.environ.get(OTHER_TREE_ENV)) else {}),
    }


def end_run(session: VidbenchSession, exitstatus: int) -> int:
    """Judge, update the store if asked, then report; 1 when the gate fails."""
    from pytest_vidbench.report.build import build_report
    from pytest_vidbench.report.outputs import write_outputs
    from pytest_vidbench.report.paired import blind_spots, control_warning

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
        try:
            comparison, context = judge_run(session, interrupted)
        except AgainstError as error:  # nothing is written: the run compared nothing
            session.against_error = str(error)
            return pytest.ExitCode.USAGE_ERROR
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
    report.side_by_side = context.side_by_side
    report.warnings += blind_spots(session.records) + control_warning(context.side_by_side)
    session.report = report
    cost.report += time.perf_counter() - report_started  # up to the writes, which it is in
    write_outputs(report, session.options, run_info(session, report, context))
    if clips := session.config.getoption(CLIPS_OPTION, None):  # a warm-up arm's process
        save_arm_clips(clips, session.measured.clips({(r.model, r.variant)
                                                      for r in session.records}),
                       c.reference_max_side, c.reference_max_frames)
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
    if session.against_error is not None:
        reporter.write_sep("=", "vidbench")
        reporter.write_line(f"ERROR: {session.against_error}", red=True)
        reporter.write_line("nothing was judged or written (exit 4)")
        return
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
    if store is not None and not session.options.update_baselines and session.against is None:
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
