"""The results file: one JSON document per run, written atomically.

`vidbench compare` reads it back, so the loader validates everything a user (or a bad
merge) could have broken, and names the file in its error.
"""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path
from typing import Any

from pytest_vidbench.records import KINDS, VERDICTS, ResultRecord, Verdict
from pytest_vidbench.store.atomic import write_json_atomic

SCHEMA_VERSION = 1


class ResultsFileError(ValueError):
    """A results file that cannot be read; the message names the file and the problem."""


def results_document(
    records: list[ResultRecord], environment: dict[str, Any], run: dict[str, Any]
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "environment": environment,
        "run": run,  # settings and timings of this session (repeats, wall time, ...)
        "results": [record.to_json() for record in records],
    }


def write_results(path: Path, document: dict[str, Any]) -> None:
    write_json_atomic(path, document)


_RECORD_FIELDS = {f.name for f in fields(ResultRecord)}
_VERDICT_FIELDS = {f.name for f in fields(Verdict)}


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive(value: Any) -> bool:
    return _finite(value) and value > 0


def _positive_or_absent(details: dict[str, Any], name: str) -> bool:
    return details.get(name) is None or _positive(details[name])


def _check_judgeable(r: ResultRecord, where: str) -> None:
    """What the verdict engine takes for granted (logs of times, ratios), checked up front
    so a hand-edited file ends in a one-line error, not a traceback."""
    if r.status not in ("ok", "error", "skipped"):
        raise ResultsFileError(f"{where}: status {r.status!r} is not ok, error or skipped")
    if r.direction not in ("lower", "higher"):
        raise ResultsFileError(f"{where}: direction {r.direction!r} is not lower or higher")
    if r.value is not None and not _finite(r.value):
        raise ResultsFileError(f"{where}: value {r.value!r} is not a finite number")
    if not all(_finite(s) for s in r.samples) or any(
            not all(_finite(s) for s in v) for v in (r.stages or {}).values()):
        raise ResultsFileError(f"{where}: samples and stage times must be finite numbers")
    if r.verdict is not None and r.verdict.status not in VERDICTS:
        raise ResultsFileError(f"{where}: verdict status {r.verdict.status!r} is not one of "
                               f"{', '.join(VERDICTS)}")
    if r.status != "ok" or r.value is None:
        return
    if r.kind in ("latency", "energy") and r.value <= 0:
        raise ResultsFileError(f"{where}: a {r.kind} value must be > 0, got {r.value!r}")
    if r.kind == "quality" and not (r.samples and r.sample_labels):
        raise ResultsFileError(f"{where}: a quality value needs its samples and sample_labels")
    d = r.details
    for name in ("normalized_value", "control_median", "peer_value"):
        if not _positive_or_absent(d, name):
            raise ResultsFileError(f"{where}: details.{name} must be a number > 0")
    control = d.get("control_samples", [])
    if not (isinstance(control, list) and all(_positive(v) for v in control)):
        raise ResultsFileError(f"{where}: details.control_samples must be numbers > 0")
    fresh = d.get("remeasured")
    runs = fresh.get("runs") if isinstance(fresh, dict) else None
    if fresh is not None and not (isinstance(fresh, dict) and (fresh.get("failed") or (
            isinstance(runs, list) and runs and all(
                isinstance(run, dict) and _positive(run.get("value"))
                and _positive_or_absent(run, "normalized_value")
                and _positive_or_absent(run, "peer_normalized") for run in runs)))):
        raise ResultsFileError(f"{where}: details.remeasured needs `runs` (each a `value` > 0 "
                               "and an optional `normalized_value` > 0), or `failed`")


def _record_from_json(item: Any, where: str) -> ResultRecord:
    if not isinstance(item, dict):
        raise ResultsFileError(f"{where} is not an object")
    missing = {"test_id", "model", "variant", "metric", "kind", "unit"} - set(item)
    if missing:
        raise ResultsFileError(f"{where} lacks {sorted(missing)}")
    unknown = set(item) - _RECORD_FIELDS
    if unknown:
        raise ResultsFileError(f"{where} has unknown keys {sorted(unknown)}")
    if item["kind"] not in KINDS:
        raise ResultsFileError(f"{where}.kind {item['kind']!r} is not one of {KINDS}")
    for name in ("test_id", "model", "variant", "metric", "unit"):
        if not isinstance(item[name], str):
            raise ResultsFileError(f"{where}.{name} must be a string")
    value = item.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ResultsFileError(f"{where}.value must be a number or null")
    samples = item.get("samples", [])
    if not isinstance(samples, list) or not all(
        isinstance(s, (int, float)) and not isinstance(s, bool) for s in samples
    ):
        raise ResultsFileError(f"{where}.samples must be a list of numbers")
    labels = item.get("sample_labels", [])
    if not isinstance(labels, list) or not all(isinstance(s, str) for s in labels):
        raise ResultsFileError(f"{where}.sample_labels must be a list of strings")
    stages = item.get("stages")
    if stages is not None and not (isinstance(stages, dict) and all(
        isinstance(v, list) and all(isinstance(x, (int, float)) for x in v)
        for v in stages.values()
    )):
        raise ResultsFileError(f"{where}.stages must map stage names to lists of seconds")
    if not isinstance(item.get("details", {}), dict):
        raise ResultsFileError(f"{where}.details must be an object")
    verdict = item.get("verdict")
    if verdict is not None and (not isinstance(verdict, dict) or set(verdict) - _VERDICT_FIELDS
                                or "status" not in verdict):
        raise ResultsFileError(f"{where}.verdict is malformed")
    try:
        record = ResultRecord.from_json(item)
    except (TypeError, ValueError) as error:
        raise ResultsFileError(f"{where}: {error}") from None
    _check_judgeable(record, f"{where} ({record.key})")
    return record


def load_results(path: Path) -> tuple[list[ResultRecord], dict[str, Any], dict[str, Any]]:
    """Records, environment and run info of a results file. Raises ResultsFileError."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsFileError(f"{path}: no such results file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResultsFileError(f"{path} is not a readable JSON results file: {error}") from None
    if not isinstance(document, dict) or document.get("schema_version") != SCHEMA_VERSION:
        raise ResultsFileError(
            f"{path} is not a pytest-vidbench results file of schema_version {SCHEMA_VERSION}"
        )
    results = document.get("results")
    environment = document.get("environment", {})
    if not isinstance(results, list) or not isinstance(environment, dict):
        raise ResultsFileError(f"{path}: `results` must be a list and `environment` an object")
    commit = environment.get("git_commit")
    if commit is not None and not isinstance(commit, str):  # baseline history slices it
        raise ResultsFileError(f"{path}: environment.git_commit must be a string or null")
    records = [_record_from_json(item, f"{path}: results[{i}]") for i, item in enumerate(results)]
    run = document.get("run", {})
    return records, environment, run if isinstance(run, dict) else {}
