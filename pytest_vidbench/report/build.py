"""The `RunReport` every renderer reads, built once the gate and the store are done."""

from __future__ import annotations

from pytest_vidbench.gate.judge import Comparison
from pytest_vidbench.measure.environment import short_commit
from pytest_vidbench.records import ResultRecord, RunReport
from pytest_vidbench.store.baselines import BaselineFile


def build_report(records: list[ResultRecord], environment: dict, comparison: Comparison,
                 baseline: BaselineFile | None, repeats: str, wall: float, timed: float,
                 messages: list[str], gate_enforced: bool,
                 baselines_updated: str | None, interrupted: bool = False) -> RunReport:
    newest = sorted((t.newest for t in baseline.tests.values() if t.newest),
                    key=lambda s: s.date) if baseline else []
    warnings = comparison.warnings()
    return RunReport(
        records=list(records), environment=environment, commit=short_commit(environment),
        baseline_commit=newest[-1].commit if newest else None,
        baseline_date=newest[-1].date if newest else None,
        baseline_environment=comparison.environment_key,
        repeats=repeats, wall_seconds=wall, timed_seconds=timed,
        warnings=warnings + [m for m in messages if m not in warnings],
        gate_enforced=gate_enforced, baselines_updated=baselines_updated,
        interrupted=interrupted,
    )
