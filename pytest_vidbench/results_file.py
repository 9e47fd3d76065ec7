"""The results file: one JSON document per run, written atomically.

`vidbench compare` reads it back, so the loader validates everything a user (or a bad
merge) could have broken, and names the file in its error.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from pytest_vidbench.atomic_io import write_json_atomic
from pytest_vidbench.records import KINDS, ResultRecord, Verdict

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
        return ResultRecord.from_json(item)
    except (TypeError, ValueError) as error:
        raise ResultsFileError(f"{where}: {error}") from None


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
    records = [_record_from_json(item, f"{path}: results[{i}]") for i, item in enumerate(results)]
    run = document.get("run", {})
    return records, environment, run if isinstance(run, dict) else {}
