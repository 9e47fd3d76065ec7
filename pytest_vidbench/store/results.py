"""The results file: one JSON document per run, written atomically.

`vidbench compare` reads it back, so the loader validates everything a user (or a bad
merge) could have broken, and names the file in its error.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from pytest_vidbench.records import KINDS, VERDICTS, ResultRecord, Verdict
from pytest_vidbench.store.atomic import write_json_atomic
from pytest_vidbench.store.schema import (
    InputError,
    in_range,
    is_number,
    is_positive,
    is_str_list,
    kind_floor,
    numbers,
    parse_json,
    range_text,
    read_text,
)

SCHEMA_VERSION = 1
FIX_HINT = "write it again with `pytest benchmarks/ --vidbench --vidbench-json PATH`"


class ResultsFileError(InputError):
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


def _positive_or_absent(details: dict[str, Any], name: str) -> bool:
    return details.get(name) is None or is_positive(details[name])


_VERDICT_NUMBERS = ("baseline", "change_pct", "limit", "p_value")


def _check_verdict(verdict: dict[str, Any], where: str) -> None:
    """Renderers format these numbers and print these strings: check their types here."""
    for name in _VERDICT_NUMBERS:
        if verdict.get(name) is not None and not is_number(verdict[name]):
            raise ResultsFileError(f"{where}.verdict.{name} must be a finite number or null")
    interval = verdict.get("interval")
    if interval is not None and not (numbers(interval) and len(interval) == 2):
        raise ResultsFileError(f"{where}.verdict.interval must be [low, high] or null")
    if not all(isinstance(verdict.get(n, ""), str) for n in ("status", "method", "reason")):
        raise ResultsFileError(f"{where}.verdict: status, method and reason must be strings")
    if not isinstance(verdict.get("remeasured", False), bool) or not isinstance(
            verdict.get("extra", {}), dict):
        raise ResultsFileError(f"{where}.verdict: remeasured must be true/false, extra an object")


def _check_judgeable(r: ResultRecord, where: str) -> None:
    """What the verdict engine takes for granted (logs of times, ratios), checked up front
    so a hand-edited file ends in a one-line error, not a traceback."""
    if r.status not in ("ok", "error", "skipped"):
        raise ResultsFileError(f"{where}: status {r.status!r} is not ok, error or skipped")
    if r.direction not in ("lower", "higher"):
        raise ResultsFileError(f"{where}: direction {r.direction!r} is not lower or higher")
    if r.value is not None and not in_range(r.value, r.kind):
        raise ResultsFileError(f"{where}: a {r.kind} value must be {range_text(r.kind)}, "
                               f"got {r.value!r}")
    if not numbers(r.samples, *kind_floor(r.kind)):
        raise ResultsFileError(f"{where}: {r.kind} samples must be {range_text(r.kind)}")
    if any(not numbers(v, 0.0) for v in (r.stages or {}).values()):
        raise ResultsFileError(f"{where}: stage times must be finite numbers ≥ 0")
    if r.verdict is not None and r.verdict.status not in VERDICTS:
        raise ResultsFileError(f"{where}: verdict status {r.verdict.status!r} is not one of "
                               f"{', '.join(VERDICTS)}")
    if r.status != "ok" or r.value is None:
        return
    if r.kind == "quality" and not (r.samples and r.sample_labels):
        raise ResultsFileError(f"{where}: a quality value needs its samples and sample_labels")
    d = r.details
    for name in ("normalized_value", "control_median", "peer_value"):
        if not _positive_or_absent(d, name):
            raise ResultsFileError(f"{where}: details.{name} must be a number > 0")
    control = d.get("control_samples", [])
    if not numbers(control, 0.0, strict=True):
        raise ResultsFileError(f"{where}: details.control_samples must be numbers > 0")
    fresh = d.get("remeasured")
    runs = fresh.get("runs") if isinstance(fresh, dict) else None
    if fresh is not None and not (isinstance(fresh, dict) and (fresh.get("failed") or (
            isinstance(runs, list) and runs and all(
                isinstance(run, dict) and is_positive(run.get("value"))
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
    if value is not None and not is_number(value):
        raise ResultsFileError(f"{where}.value must be a finite number or null")
    if not numbers(item.get("samples", [])):
        raise ResultsFileError(f"{where}.samples must be a list of finite numbers")
    if not is_str_list(item.get("sample_labels", [])):
        raise ResultsFileError(f"{where}.sample_labels must be a list of strings")
    stages = item.get("stages")
    if stages is not None and not (isinstance(stages, dict) and all(
            numbers(v) for v in stages.values())):
        raise ResultsFileError(f"{where}.stages must map stage names to lists of seconds")
    if not isinstance(item.get("details", {}), dict):
        raise ResultsFileError(f"{where}.details must be an object")
    if item.get("error") is not None and not isinstance(item["error"], str):
        raise ResultsFileError(f"{where}.error must be a string or null")
    if not isinstance(item.get("status", "ok"), str) or not isinstance(
            item.get("direction", "lower"), str):
        raise ResultsFileError(f"{where}: status and direction must be strings")
    verdict = item.get("verdict")
    if verdict is not None and (not isinstance(verdict, dict) or set(verdict) - _VERDICT_FIELDS
                                or "status" not in verdict):
        raise ResultsFileError(f"{where}.verdict must be null or an object with a `status` "
                               f"and only the keys {sorted(_VERDICT_FIELDS)}")
    if verdict is not None:
        _check_verdict(verdict, where)
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
        records, environment, run = _load(path)
    except ResultsFileError as error:
        raise ResultsFileError(f"{error}; {FIX_HINT}") from None
    return records, environment, run


def _load(path: Path) -> tuple[list[ResultRecord], dict[str, Any], dict[str, Any]]:
    try:
        document = parse_json(read_text(path))
    except FileNotFoundError:
        raise ResultsFileError(f"{path}: no such results file") from None
    except InputError as error:
        raise ResultsFileError(f"results file {path} {error}") from None
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
