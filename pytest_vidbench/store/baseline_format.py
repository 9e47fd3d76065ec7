"""The baseline file's format: its dataclasses and the checks that read it back.

One git-friendly JSON document per environment key (store/baselines.py keeps the files).
Per test: a run-level history, the newest run's samples, and an optional pinned *anchor*,
the history as it stood when a release was pinned (`--vidbench-pin-anchor`), which creep is
judged against.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pytest_vidbench.records import KINDS
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
)

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
    regressed: bool = False  # recorded with --vidbench-accept-regressions although it regressed


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
    anchor: list[RunSummary] = field(default_factory=list)  # the history when pinned
    anchor_label: str | None = None  # what was pinned, e.g. a release tag

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.anchor:  # files without an anchor keep their old shape
            del data["anchor"], data["anchor_label"]
        for run in (*data["history"], *data.get("anchor", ())):
            if not run["regressed"]:  # the flag is written only where it is set: old
                del run["regressed"]  # files keep their bytes
        return data

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
            "tests": {key: test.to_json() for key, test in sorted(self.tests.items())},
        }
        if self.references:  # older files stay byte-identical on a round trip
            document["references"] = dict(sorted(self.references.items()))
        return document


def fail(path: Path, problem: str) -> BaselineError:
    return BaselineError(f"baseline file {path}: {problem}; {FIX_HINT}")


def _parse_summary(data: Any, path: Path, where: str, kind: str) -> RunSummary:
    if not isinstance(data, dict) or not is_number(data.get("value")) or not isinstance(
        data.get("date"), str
    ):
        raise fail(path, f"{where} needs a numeric `value` and a `date`")
    unknown = set(data) - {"value", "date", "commit", "normalized", "peers", "n", "regressed"}
    if unknown:
        raise fail(path, f"{where} has unknown keys {sorted(unknown)}")
    normalized = data.get("normalized")
    if normalized is not None and not is_positive(normalized):
        raise fail(path, f"{where}.normalized must be a number > 0")
    commit = data.get("commit")
    n = data.get("n", 0)
    if (commit is not None and not isinstance(commit, str)) or isinstance(n, bool) or \
            not isinstance(n, int) or n < 0:
        raise fail(path, f"{where}: `commit` must be a string and `n` an integer ≥ 0")
    peers = data.get("peers")
    if peers is not None and not is_positive(peers):
        raise fail(path, f"{where}.peers must be a number > 0")
    if not in_range(data["value"], kind):
        raise fail(path, f"{where}.value: a {kind} value must be {range_text(kind)}")
    regressed = data.get("regressed", False)
    if not isinstance(regressed, bool):
        raise fail(path, f"{where}.regressed must be true or false")
    return RunSummary(value=float(data["value"]), date=data["date"], commit=commit,
                      normalized=None if normalized is None else float(normalized),
                      n=n, regressed=regressed)


def _parse_test(key: str, data: Any, path: Path) -> BaselineEntry:
    where = f"tests[{key!r}]"
    if not isinstance(data, dict):
        raise fail(path, f"{where} is not an object")
    required = ("model", "variant", "metric", "kind", "unit", "direction")
    if any(not isinstance(data.get(name), str) for name in required):
        raise fail(path, f"{where} needs string fields {', '.join(required)}")
    if data["kind"] not in KINDS or data["direction"] not in ("lower", "higher"):
        raise fail(path, f"{where} has kind {data['kind']!r} / direction {data['direction']!r}")
    unknown = set(data) - {*required, "history", "samples", "sample_labels", "stages", "control",
                           "anchor", "anchor_label"}
    if unknown:
        raise fail(path, f"{where} has unknown keys {sorted(unknown)}")
    history, anchor = data.get("history", []), data.get("anchor", [])
    if not isinstance(history, list) or not isinstance(anchor, list):
        raise fail(path, f"{where}.history and .anchor must be lists")
    label = data.get("anchor_label")
    if label is not None and not isinstance(label, str):
        raise fail(path, f"{where}.anchor_label must be a string")
    if not numbers(data.get("samples", []), *kind_floor(data["kind"])):
        raise fail(path, f"{where}.samples must be numbers {range_text(data['kind'])}")
    if not numbers(data.get("control", []), 0.0, strict=True):
        raise fail(path, f"{where}.control must be a list of seconds > 0")
    labels = data.get("sample_labels", [])
    if not is_str_list(labels):
        raise fail(path, f"{where}.sample_labels must be a list of strings")
    stages = data.get("stages", {})
    if not isinstance(stages, dict) or not all(numbers(v, 0.0) for v in stages.values()):
        raise fail(path, f"{where}.stages must map stage names to lists of seconds ≥ 0")
    return BaselineEntry(
        **{name: data[name] for name in required},
        history=[_parse_summary(h, path, f"{where}.history[{i}]", data["kind"])
                 for i, h in enumerate(history)],
        samples=[float(x) for x in data.get("samples", [])],
        sample_labels=list(labels),
        stages={str(k): [float(x) for x in v] for k, v in stages.items()},
        control=[float(x) for x in data.get("control", [])],
        anchor=[_parse_summary(h, path, f"{where}.anchor[{i}]", data["kind"])
                for i, h in enumerate(anchor)],
        anchor_label=label,
    )


def parse_baseline(text: str, path: Path) -> BaselineFile:
    """Validate a baseline document. Raises BaselineError naming the file and the fix."""
    try:
        document = parse_json(text)
    except InputError as error:
        raise fail(path, str(error)) from None
    if not isinstance(document, dict):
        raise fail(path, "is not a JSON object")
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise fail(path, f"has schema_version {version!r}; this plugin reads {SCHEMA_VERSION}")
    key, environment, tests = (
        document.get("environment_key"), document.get("environment"), document.get("tests")
    )
    if not isinstance(key, str) or not isinstance(environment, dict) or not isinstance(tests, dict):
        raise fail(path, "needs `environment_key` (string), `environment` and `tests` (objects)")
    unknown = set(document) - {"schema_version", "environment_key", "environment", "tests",
                               "references"}
    if unknown:
        raise fail(path, f"has unknown keys {sorted(unknown)}")
    references = document.get("references", {})
    if not isinstance(references, dict) or not all(
            is_reference_path(v) for v in references.values()):
        raise fail(path, "`references` must map model[variant] to files named "
                          "references/<name>.npz (no other directory)")
    return BaselineFile(
        path=path, environment_key=key, environment=environment,
        tests={str(k): _parse_test(str(k), v, path) for k, v in tests.items()},
        references=dict(references),
    )
