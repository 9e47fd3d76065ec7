"""Baselines in `baselines/`: one git-friendly JSON file per environment key.

Per test, a file keeps a run-level history (the summary of each of the last K runs, with
commit and date) and the raw samples of the newest run. Files change only through
`--vidbench-update-baselines` at the end of a run that completed, and atomically.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_vidbench.records import KINDS, ResultRecord
from pytest_vidbench.store.atomic import write_json_atomic

SCHEMA_VERSION = 1
FIX_HINT = (
    "fix the JSON by hand (git diff shows what changed), restore it with git checkout, or "
    "delete it and record a new history with `pytest benchmarks/ --vidbench "
    "--vidbench-update-baselines`"
)


class BaselineError(ValueError):
    """A baseline file that cannot be used; the message names the file and the fix."""


@dataclass
class RunSummary:
    """One earlier run of one test: the numbers the verdict statistics use."""

    value: float
    date: str
    commit: str | None = None
    normalized: float | None = None  # latency ÷ the run's control workload time
    peers: float | None = None  # geometric mean latency of the run's other models
    n: int = 0  # samples behind the value


@dataclass
class BaselineEntry:
    model: str
    variant: str
    metric: str
    kind: str
    unit: str
    direction: str
    history: list[RunSummary] = field(default_factory=list)  # oldest first
    samples: list[float] = field(default_factory=list)  # newest run's raw samples
    sample_labels: list[str] = field(default_factory=list)
    stages: dict[str, list[float]] = field(default_factory=dict)
    control: list[float] = field(default_factory=list)  # newest run's control samples

    @property
    def newest(self) -> RunSummary | None:
        return self.history[-1] if self.history else None


@dataclass
class BaselineFile:
    path: Path
    environment_key: str
    environment: dict[str, Any]
    tests: dict[str, BaselineEntry] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "environment_key": self.environment_key,
            "environment": self.environment,
            "tests": {key: asdict(test) for key, test in sorted(self.tests.items())},
        }


def _fail(path: Path, problem: str) -> BaselineError:
    return BaselineError(f"baseline file {path}: {problem}; {FIX_HINT}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _numbers(value: Any) -> bool:
    return isinstance(value, list) and all(_number(v) for v in value)


def _parse_summary(data: Any, path: Path, where: str, positive: bool) -> RunSummary:
    if not isinstance(data, dict) or not _number(data.get("value")) or not isinstance(
        data.get("date"), str
    ):
        raise _fail(path, f"{where} needs a numeric `value` and a `date`")
    unknown = set(data) - {"value", "date", "commit", "normalized", "peers", "n"}
    if unknown:
        raise _fail(path, f"{where} has unknown keys {sorted(unknown)}")
    normalized = data.get("normalized")
    if normalized is not None and not _number(normalized):
        raise _fail(path, f"{where}.normalized must be a number")
    commit = data.get("commit")
    n = data.get("n", 0)
    if (commit is not None and not isinstance(commit, str)) or not isinstance(n, int):
        raise _fail(path, f"{where}: `commit` must be a string and `n` an integer")
    peers = data.get("peers")
    if peers is not None and not (_number(peers) and peers > 0):
        raise _fail(path, f"{where}.peers must be a number > 0")
    if (normalized is not None and normalized <= 0) or (positive and data["value"] <= 0):
        raise _fail(path, f"{where}: times and energies must be > 0")
    return RunSummary(value=float(data["value"]), date=data["date"], commit=commit,
                      normalized=None if normalized is None else float(normalized),
                      peers=None if peers is None else float(peers), n=n)


def _parse_test(key: str, data: Any, path: Path) -> BaselineEntry:
    where = f"tests[{key!r}]"
    if not isinstance(data, dict):
        raise _fail(path, f"{where} is not an object")
    required = ("model", "variant", "metric", "kind", "unit", "direction")
    if any(not isinstance(data.get(name), str) for name in required):
        raise _fail(path, f"{where} needs string fields {', '.join(required)}")
    if data["kind"] not in KINDS or data["direction"] not in ("lower", "higher"):
        raise _fail(path, f"{where} has kind {data['kind']!r} / direction {data['direction']!r}")
    unknown = set(data) - {*required, "history", "samples", "sample_labels", "stages", "control"}
    if unknown:
        raise _fail(path, f"{where} has unknown keys {sorted(unknown)}")
    history = data.get("history", [])
    if not isinstance(history, list):
        raise _fail(path, f"{where}.history must be a list")
    for name in ("samples", "control"):
        if not _numbers(data.get(name, [])):
            raise _fail(path, f"{where}.{name} must be a list of finite numbers")
    labels = data.get("sample_labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise _fail(path, f"{where}.sample_labels must be a list of strings")
    stages = data.get("stages", {})
    if not isinstance(stages, dict) or not all(_numbers(v) for v in stages.values()):
        raise _fail(path, f"{where}.stages must map stage names to lists of seconds")
    return BaselineEntry(
        **{name: data[name] for name in required},
        history=[_parse_summary(h, path, f"{where}.history[{i}]", data["kind"] in (
            "latency", "energy")) for i, h in enumerate(history)],
        samples=[float(x) for x in data.get("samples", [])],
        sample_labels=list(labels),
        stages={str(k): [float(x) for x in v] for k, v in stages.items()},
        control=[float(x) for x in data.get("control", [])],
    )


def parse_baseline(text: str, path: Path) -> BaselineFile:
    """Validate a baseline document. Raises BaselineError naming the file and the fix."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise _fail(path, f"is not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise _fail(path, "is not a JSON object")
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise _fail(path, f"has schema_version {version!r}; this plugin reads {SCHEMA_VERSION}")
    key, environment, tests = (
        document.get("environment_key"), document.get("environment"), document.get("tests")
    )
    if not isinstance(key, str) or not isinstance(environment, dict) or not isinstance(tests, dict):
        raise _fail(path, "needs `environment_key` (string), `environment` and `tests` (objects)")
    return BaselineFile(
        path=path, environment_key=key, environment=environment,
        tests={str(k): _parse_test(str(k), v, path) for k, v in tests.items()},
    )


def baseline_environment(environment: dict[str, Any]) -> dict[str, Any]:
    """The part of the fingerprint a baseline file keeps (no host names, no commit)."""
    keep = ("device_kind", "device_name", "torch", "diffusers", "transformers", "cuda",
            "torch_threads", "tf32")
    return {k: environment.get(k) for k in keep}


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
        if not self.path.is_file():
            return None
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise _fail(self.path, f"cannot be read ({error})") from None
        baseline = parse_baseline(text, self.path)
        if baseline.environment_key != self.environment_key:
            raise _fail(self.path, f"says environment_key {baseline.environment_key!r} but is "
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
    ) -> BaselineFile:
        """The file after appending this run's ok records (pure: nothing is written)."""
        base = current or BaselineFile(self.path, self.environment_key, {}, {})
        tests = dict(base.tests)
        commit = environment.get("git_commit")
        date = date or datetime.now(UTC).replace(microsecond=0).isoformat()
        for record in records:
            if record.status != "ok" or record.value is None:
                continue
            old = tests.get(record.key)
            summary = RunSummary(
                value=float(record.value), date=date, commit=commit[:12] if commit else None,
                normalized=record.details.get("normalized_value"), n=len(record.samples),
                peers=record.details.get("peer_value"),
            )
            history = (old.history if old and old.kind == record.kind else []) + [summary]
            tests[record.key] = BaselineEntry(
                model=record.model, variant=record.variant, metric=record.metric,
                kind=record.kind, unit=record.unit, direction=record.direction,
                history=history[-history_limit:], samples=list(record.samples),
                sample_labels=list(record.sample_labels), stages=dict(record.stages or {}),
                control=list(record.details.get("control_samples", [])),
            )
        if prune:
            seen = {record.key for record in records}
            tests = {key: test for key, test in tests.items() if key in seen}
        return BaselineFile(self.path, self.environment_key,
                            baseline_environment(environment), tests)

    def write(self, baseline: BaselineFile) -> None:
        write_json_atomic(self.path, baseline.to_json())

    @staticmethod
    def unused(baseline: BaselineFile | None, keys: set[str]) -> list[str]:
        """Baseline entries no test of this run produced."""
        if baseline is None:
            return []
        return sorted(key for key in baseline.tests if key not in keys)
