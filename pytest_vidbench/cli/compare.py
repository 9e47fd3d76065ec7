"""`vidbench compare BASE [BASE ...] NEW`: the run's verdicts, reached offline.

Against a baseline file this is exactly the comparison the run made: the same `Judge`, the
thresholds of ./pyproject.toml, and the run's fresh-process re-measurements replayed from
NEW, so the verdicts equal those NEW stores (a note says so when they do not).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

from pytest_vidbench.cli._common import CliError, is_number, project_config, terminal_width
from pytest_vidbench.cli.compare_inputs import (
    History,
    NewRun,
    load_history,
    load_new,
    no_history,
)
from pytest_vidbench.config import Thresholds
from pytest_vidbench.gate.judge import Comparison, Judge, stored_remeasurements
from pytest_vidbench.measure.environment import short_commit
from pytest_vidbench.records import VERDICTS, ResultRecord, RunContext, RunReport, Verdict
from pytest_vidbench.store.histories import histories
from pytest_vidbench.store.results import results_document, write_results

# What the arithmetic of the verdict rules raises on numbers no run would write.
_JUDGING_ERRORS = (ArithmeticError, ValueError, TypeError, KeyError, statistics.StatisticsError)


def _quality_metrics(records: list[ResultRecord]) -> dict[str, Any]:
    names = {r.metric for r in records if r.kind == "quality"}
    if not names:
        return {}
    # Imported only when needed: the default metrics pull in torchmetrics.
    from pytest_vidbench.quality.metrics import default_quality_metrics

    registry = default_quality_metrics()
    return {name: registry.get(name) for name in names if name in registry}


def _stored_verdict(record: ResultRecord) -> Verdict | None:
    verdict = record.verdict
    return verdict if verdict is not None and verdict.status in VERDICTS else None


def _number(value: Any) -> float | None:
    return float(value) if is_number(value) else None


def _judge_unknown_metric(record: ResultRecord, stored: Verdict | None, comparison: Comparison,
                          history: History) -> Verdict:
    """Quality metrics registered in a conftest.py are not loaded here: keep the run's own
    verdict where it judged against this very baseline file, else say why there is none."""
    if comparison.incomparable:
        return Verdict("incomparable", reason=comparison.warnings()[0])
    if history.from_baseline_file and stored is not None:
        # Only what the renderers can trust: the file may have been edited by hand.
        return Verdict(stored.status, baseline=_number(stored.baseline),
                       change_pct=_number(stored.change_pct), limit=_number(stored.limit),
                       method="the run's verdict", reason=str(stored.reason))
    return Verdict("incomparable", reason=f"quality metric {record.metric!r} is not one of the "
                   "built-in metrics; it is registered in a conftest.py, which vidbench "
                   "compare does not load")


def _contains_new(history: History, new: NewRun) -> bool:
    measured = [r for r in new.records if r.status == "ok" and r.value is not None]
    newest = {key: test.newest for key, test in history.baseline.tests.items()}
    return bool(measured) and all(
        newest.get(r.key) is not None and newest[r.key].value == float(r.value)
        for r in measured)


def judge(new: NewRun, history: History, thresholds: Thresholds) -> Comparison:
    """Set a fresh verdict on every record of NEW; returns the comparison for the report."""
    comparable = history.key == new.key
    comparison = Comparison(new.key, histories(history.baseline) if comparable else None,
                            [] if comparable else [history.key])
    stored = [_stored_verdict(r) for r in new.records]
    context = RunContext.from_json(new.run)
    # A merged file holds the fresh processes of one shard only: its timing verdicts stay
    # the shards' own (each shard judged at α/N with its own processes; run_end.py).
    merged = bool(new.run.get("merged_from")) and history.from_baseline_file and comparable
    # Side by side, the timing verdicts come from pairs of head's and base's processes, which
    # no baseline file holds: they stay the run's own.
    paired = context.side_by_side is not None
    remeasure = stored_remeasurements(context) if history.from_baseline_file and not merged \
        else None
    context = RunContext(context.control_samples, context.calls)  # the replay refills it
    for record in new.records:
        record.verdict = None  # skipped records keep none, as in the run
    metrics = _quality_metrics(new.records)
    unknown = {i for i, r in enumerate(new.records)
               if r.kind == "quality" and r.metric not in metrics and r.status == "ok"}
    judged = [r for i, r in enumerate(new.records) if i not in unknown]
    try:
        Judge(thresholds, metrics).judge(judged, comparison, context, remeasure)
    except _JUDGING_ERRORS as error:
        raise CliError(f"cannot judge {new.path} against {history.description}: "
                       f"{type(error).__name__}: {error}") from None
    for i in sorted(unknown):
        record = new.records[i]
        record.verdict = _judge_unknown_metric(record, stored[i], comparison, history)
    if merged or paired:
        for record, verdict in zip(new.records, stored, strict=True):
            own = record.kind in ("latency", "energy") or (
                paired and verdict is not None and verdict.method.startswith("paired"))
            if own and verdict is not None:
                record.verdict = verdict
    if paired:
        comparison.notes.append("side by side: latency, energy, memory and fidelity verdicts "
                                "are the run's own, from its head and base processes "
                                "(docs/side-by-side.md)")
    elif merged:
        comparison.notes.append("merged shards: latency and energy verdicts are each shard's "
                                "own, judged at α/N with its own fresh processes")
    if unknown and not comparison.incomparable:
        names = sorted({new.records[i].metric for i in unknown})
        comparison.notes.append(
            f"quality metric(s) {', '.join(names)} are registered in a conftest.py, not "
            "built in: " + ("their verdicts are the run's own" if history.from_baseline_file
                            else "they are not judged here"))
    if history.from_baseline_file and comparable and _contains_new(history, new):
        comparison.notes.append(
            f"{history.baseline.path} already holds this run as its newest history entry "
            "(--vidbench-update-baselines wrote it): compare against the file as it was "
            "before the run, e.g. from `git show HEAD:<path>`")
    elif history.from_baseline_file and comparable:
        differ = [r.key for r, s in zip(new.records, stored, strict=True)
                  if s is not None and r.verdict is not None and r.verdict.status != s.status]
        if differ:
            shown = ", ".join(differ[:5]) + (" …" if len(differ) > 5 else "")
            comparison.notes.append(
                f"{len(differ)} verdict(s) differ from those stored in {new.path} ({shown}): "
                "the thresholds in pyproject.toml or this baseline file are not the run's")
    return comparison


def _repeats(run: dict[str, Any]) -> str:
    values = [run.get(k) for k in ("warmup", "rounds", "calls_per_round")]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return ""
    return f"{values[0]} warm-up, {values[1]} rounds × {values[2]} calls"


def _seconds(value: Any) -> float | None:
    return float(value) if is_number(value) and value >= 0 else None


def build_report(new: NewRun, history: History, comparison: Comparison,
                 report_only: bool) -> RunReport:
    from pytest_vidbench.report.paired import control_warning

    newest = sorted((t.newest for t in history.baseline.tests.values() if t.newest),
                    key=lambda s: s.date)
    env = new.environment
    commit = short_commit(env) if isinstance(env.get("git_commit"), str) else None
    interrupted = new.run.get("interrupted") is True
    side_by_side = RunContext.from_json(new.run).side_by_side
    return RunReport(
        records=list(new.records), environment=env, commit=commit,
        baseline_commit=newest[-1].commit if newest else None,
        baseline_date=newest[-1].date if newest else None,
        baseline_environment=history.key, repeats=_repeats(new.run),
        wall_seconds=_seconds(new.run.get("wall_seconds")),
        timed_seconds=_seconds(new.run.get("timed_seconds")),
        warnings=comparison.warnings() + history.notes + (
            [f"{new.path} is the results file of an interrupted run: only the tests that "
             "finished are in it"] if interrupted else []) + control_warning(side_by_side),
        gate_enforced=not report_only, interrupted=interrupted, side_by_side=side_by_side,
    )


def _write_json(path: Path, new: NewRun, history: History) -> None:
    run = dict(new.run)
    run["compared_with"] = history.description  # so the file says where its verdicts came from
    write_results(path, results_document(new.records, new.environment, run))


def run_compare(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.files]
    if len(paths) < 2:
        raise CliError("give BASE [BASE ...] NEW: at least one baseline or results file to "
                       "compare with, then the new results file")
    config = project_config()
    new = load_new(paths[-1])
    missing = False
    if len(paths) == 2 and paths[0].is_dir():  # baselines/: this run's environment's file
        paths[0] = paths[0] / f"{new.key}.json"
        missing = not paths[0].is_file()
        if missing and not new.run.get("side_by_side"):
            raise CliError(f"{paths[0]}: no baselines for {new.key} yet; record them with "
                           "pytest benchmarks/ --vidbench --vidbench-update-baselines")
    history = no_history(paths[0], new.key) if missing else load_history(paths[:-1],
                                                                          config.history)
    comparison = judge(new, history, config.thresholds)
    report = build_report(new, history, comparison, args.report_only)

    # Imported here: the renderers (and their matplotlib, for HTML) only when comparing.
    from pytest_vidbench.report.outputs import write_reports
    from pytest_vidbench.report.terminal import render_gate_section, render_terminal

    width = terminal_width()
    print(f"vidbench compare: {new.path} ({len(new.records)} results, {new.key}) "
          f"against {history.description}")
    for line in render_terminal(report, width=width):
        print(line)
    for warning in report.warnings:
        print(f"warning: {warning}")
    for line in render_gate_section(report, width=width):
        print(line)
    try:
        write_reports(report, Path(args.markdown) if args.markdown else None,
                      Path(args.html) if args.html else None)
        if args.json:
            _write_json(Path(args.json), new, history)
    except OSError as error:
        raise CliError(f"cannot write {error.filename or 'an output file'}: "
                       f"{error.strerror or error}") from None
    return 1 if report.gate_failed or report.interrupted else 0  # a cut-short run never passes
