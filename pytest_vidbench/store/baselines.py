"""Baselines in `baselines/`: one git-friendly JSON file per environment key.

Per test: a run-level history (last K runs' summaries, commit, date) and the newest run's
samples. Files change only through `update` (locked, atomic), at the end of a completed run.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_vidbench.records import ResultRecord
from pytest_vidbench.store.atomic import write_json_atomic
from pytest_vidbench.store.baseline_format import (  # re-exported: the store's vocabulary
    FIX_HINT,
    SCHEMA_VERSION,
    BaselineEntry,
    BaselineError,
    BaselineFile,
    RunSummary,
    fail,
    parse_baseline,
)
from pytest_vidbench.store.schema import InputError, read_text

__all__ = ["FIX_HINT", "SCHEMA_VERSION", "BaselineEntry", "BaselineError", "BaselineFile",
           "BaselineStore", "RunSummary", "baseline_environment", "parse_baseline"]

def baseline_environment(environment: dict[str, Any]) -> dict[str, Any]:
    """The part of the fingerprint a baseline file keeps (no host names, no commit)."""
    keep = ("device_kind", "device_name", "torch", "diffusers", "transformers", "cuda",
            "torch_threads", "tf32")
    kept = {k: environment.get(k) for k in keep}
    if (environment.get("workers") or 1) != 1:  # serial files keep their bytes
        kept["workers"] = environment["workers"]
    if (environment.get("cpu_allocator") or "default") != "default":  # so do default ones
        kept["cpu_allocator"] = environment["cpu_allocator"]
    if environment.get("cpu_huge_pages") is True:
        kept["cpu_huge_pages"] = True
    return kept


class BaselineStore:
    """The `baselines/` directory, seen from one environment."""

    def __init__(self, directory: Path, environment_key: str) -> None:
        self.directory = Path(directory)
        self.environment_key = environment_key

    @property
    def path(self) -> Path:
        return self.directory / f"{self.environment_key}.json"

    @property
    def frames_dir(self) -> Path:
        """Beside the JSON file: baselines/<key>/references/<model>__<variant>.npz."""
        return self.directory / self.environment_key

    def load(self) -> BaselineFile | None:
        """This environment's file, or None when there is none yet."""
        try:
            text = read_text(self.path)
        except FileNotFoundError:  # removed since is_file(): no baseline yet
            return None
        except InputError as error:
            raise fail(self.path, str(error)) from None
        baseline = parse_baseline(text, self.path)
        if baseline.environment_key != self.environment_key:
            raise fail(self.path, f"says environment_key {baseline.environment_key!r} but is "
                                   f"named for {self.environment_key!r}")
        return baseline

    def other_environments(self) -> list[str]:
        """Keys of baseline files for other environments (for the `incomparable` warning)."""
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.json") if p != self.path)

    def updated(
        self,
        current: BaselineFile | None,
        records: list[ResultRecord],
        environment: dict[str, Any],
        history_limit: int,
        prune: bool,
        date: str | None = None,
        control: Sequence[float] = (),
        pin: str | None = None,
        flag_regressions: bool = False,
    ) -> BaselineFile:
        """The file after appending this run's ok records (pure: nothing is written).
        `pin`: also pin each updated history as the test's anchor, under that label;
        `flag_regressions`: mark the entries of records whose verdict is a regression (a
        run recorded with --vidbench-accept-regressions)."""
        base = current or BaselineFile(self.path, self.environment_key, {}, {})
        tests = dict(base.tests)
        commit = environment.get("git_commit")
        centre = statistics.median(control) if control else None  # the run's control time
        date = date or datetime.now(UTC).replace(microsecond=0).isoformat()
        for record in records:
            if record.status != "ok" or record.value is None:
                continue
            old = tests.get(record.key)
            summary = RunSummary(
                value=float(record.value), date=date, commit=commit[:12] if commit else None,
                normalized=float(record.value) / centre
                if centre and record.kind == "latency" else None, n=len(record.samples),
                regressed=flag_regressions and record.verdict is not None
                and record.verdict.status == "regression",
            )
            same = old is not None and old.kind == record.kind
            history = (old.history if same else []) + [summary]
            history = history[-history_limit:]
            anchor = list(history) if pin else (old.anchor if same else [])
            label = pin or (old.anchor_label if same and anchor else None)
            tests[record.key] = BaselineEntry(
                model=record.model, variant=record.variant, metric=record.metric,
                kind=record.kind, unit=record.unit, direction=record.direction,
                history=history, samples=list(record.samples),
                sample_labels=list(record.sample_labels), stages=dict(record.stages or {}),
                control=list(control) if record.kind == "latency" else [],
                anchor=anchor, anchor_label=label,
            )
        if prune:
            seen = {record.key for record in records}
            tests = {key: test for key, test in tests.items() if key in seen}
        return BaselineFile(self.path, self.environment_key,
                            baseline_environment(environment), tests, dict(base.references))

    def write(self, baseline: BaselineFile) -> None:
        write_json_atomic(self.path, baseline.to_json())

    def load_references(self, baseline: BaselineFile | None, model: str, variant: str) -> Any:
        """The reference clips the baseline file names for (model, variant), or None."""
        from pytest_vidbench.store.references import ReferenceStore

        index = baseline.references if baseline is not None else {}
        return ReferenceStore(self.frames_dir, index=index).load(model, variant)

    @staticmethod
    def unused(baseline: BaselineFile | None, keys: set[str]) -> list[str]:
        """Baseline entries no test of this run produced."""
        if baseline is None:
            return []
        return sorted(key for key in baseline.tests if key not in keys)
