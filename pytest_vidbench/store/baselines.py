"""Baselines in `baselines/`: one git-friendly JSON file per environment key.

Per test: a run-level history (last K runs' summaries, commit, date) and the newest run's
samples. Files change only through `update` (locked, atomic), at the end of a completed run.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_vidbench.records import KINDS, ResultRecord
from pytest_vidbench.store.atomic import write_json_atomic
from pytest_vidbench.store.schema import (
    InputError,
    in_range,
    is_number,
    is_positive,
    is_reference_path,
    is_str_list,
    kind_floor,
    numbers,
    parse_json,
    range_text,
    read_text,
)

if TYPE_CHECKING:  # the update pulls in numpy/torch for the clips; loading never does
    from pytest_vidbench.store.transaction import UpdateOutcome

SCHEMA_VERSION = 1
FIX_HINT = (
    "fix the JSON by hand (git diff shows what changed), restore it with git checkout, or "
    "delete it and record a new history with `pytest benchmarks/ --vidbench "
    "--vidbench-update-baselines`"
)


class BaselineError(InputError):
    """A baseline file that cannot be used; the message names the file and the fix."""


@dataclass
class RunSummary:
    """One earlier run of one test: the numbers the verdict statistics use."""

    value: float
    date: str
    commit: str | None = None
    normalized: float | None = None  # latency ÷ the run's control workload time
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
    # "m[v]" -> "references/m__v.<hash>.npz" under <key>/; older files: the unversioned name
    references: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        document = {
            "schema_version": SCHEMA_VERSION,
            "environment_key": self.environment_key,
            "environment": self.environment,
            "tests": {key: asdict(test) for key, test in sorted(self.tests.items())},
        }
        if self.references:  # older files stay byte-identical on a round trip
            document["references"] = dict(sorted(self.references.items()))
        return document


def _fail(path: Path, problem: str) -> BaselineError:
    return BaselineError(f"baseline file {path}: {problem}; {FIX_HINT}")


def _parse_summary(data: Any, path: Path, where: str, kind: str) -> RunSummary:
    if not isinstance(data, dict) or not is_number(data.get("value")) or not isinstance(
        data.get("date"), str
    ):
        raise _fail(path, f"{where} needs a numeric `value` and a `date`")
    unknown = set(data) - {"value", "date", "commit", "normalized", "peers", "n"}
    if unknown:
        raise _fail(path, f"{where} has unknown keys {sorted(unknown)}")
    normalized = data.get("normalized")
    if normalized is not None and not is_positive(normalized):
        raise _fail(path, f"{where}.normalized must be a number > 0")
    commit = data.get("commit")
    n = data.get("n", 0)
    if (commit is not None and not isinstance(commit, str)) or isinstance(n, bool) or \
            not isinstance(n, int) or n < 0:
        raise _fail(path, f"{where}: `commit` must be a string and `n` an integer ≥ 0")
    peers = data.get("peers")
    if peers is not None and not is_positive(peers):
        raise _fail(path, f"{where}.peers must be a number > 0")
    if not in_range(data["value"], kind):
        raise _fail(path, f"{where}.value: a {kind} value must be {range_text(kind)}")
    return RunSummary(value=float(data["value"]), date=data["date"], commit=commit,
                      normalized=None if normalized is None else float(normalized),
                      n=n)


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
    if not numbers(data.get("samples", []), *kind_floor(data["kind"])):
        raise _fail(path, f"{where}.samples must be numbers {range_text(data['kind'])}")
    if not numbers(data.get("control", []), 0.0, strict=True):
        raise _fail(path, f"{where}.control must be a list of seconds > 0")
    labels = data.get("sample_labels", [])
    if not is_str_list(labels):
        raise _fail(path, f"{where}.sample_labels must be a list of strings")
    stages = data.get("stages", {})
    if not isinstance(stages, dict) or not all(numbers(v, 0.0) for v in stages.values()):
        raise _fail(path, f"{where}.stages must map stage names to lists of seconds ≥ 0")
    return BaselineEntry(
        **{name: data[name] for name in required},
        history=[_parse_summary(h, path, f"{where}.history[{i}]", data["kind"])
                 for i, h in enumerate(history)],
        samples=[float(x) for x in data.get("samples", [])],
        sample_labels=list(labels),
        stages={str(k): [float(x) for x in v] for k, v in stages.items()},
        control=[float(x) for x in data.get("control", [])],
    )


def parse_baseline(text: str, path: Path) -> BaselineFile:
    """Validate a baseline document. Raises BaselineError naming the file and the fix."""
    try:
        document = parse_json(text)
    except InputError as error:
        raise _fail(path, str(error)) from None
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
    unknown = set(document) - {"schema_version", "environment_key", "environment", "tests",
                               "references"}
    if unknown:
        raise _fail(path, f"has unknown keys {sorted(unknown)}")
    references = document.get("references", {})
    if not isinstance(references, dict) or not all(
            is_reference_path(v) for v in references.values()):
        raise _fail(path, "`references` must map model[variant] to files named "
                          "references/<name>.npz (no other directory)")
    return BaselineFile(
        path=path, environment_key=key, environment=environment,
        tests={str(k): _parse_test(str(k), v, path) for k, v in tests.items()},
        references=dict(references),
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
        try:
            text = read_text(self.path)
        except FileNotFoundError:  # removed since is_file(): no baseline yet
            return None
        except InputError as error:
            raise _fail(self.path, str(error)) from None
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
        control: Sequence[float] = (),
    ) -> BaselineFile:
        """The file after appending this run's ok records (pure: nothing is written)."""
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
            )
            history = (old.history if old and old.kind == record.kind else []) + [summary]
            tests[record.key] = BaselineEntry(
                model=record.model, variant=record.variant, metric=record.metric,
                kind=record.kind, unit=record.unit, direction=record.direction,
                history=history[-history_limit:], samples=list(record.samples),
                sample_labels=list(record.sample_labels), stages=dict(record.stages or {}),
                control=list(control) if record.kind == "latency" else [],
            )
        if prune:
            seen = {record.key for record in records}
            tests = {key: test for key, test in tests.items() if key in seen}
        return BaselineFile(self.path, self.environment_key,
                            baseline_environment(environment), tests, dict(base.references))

    def write(self, baseline: BaselineFile) -> None:
        write_json_atomic(self.path, baseline.to_json())

    def update(self, records: list[ResultRecord], environment: dict[str, Any],
               history_limit: int, prune: bool, **options: Any) -> UpdateOutcome:
        """Locked, atomic append with reference clips: store/transaction.py's options."""
        from pytest_vidbench.store.transaction import update_baselines

        return update_baselines(self, records, environment, history_limit, prune, **options)

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
