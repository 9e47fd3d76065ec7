"""Reading `vidbench compare`'s inputs: NEW, and BASE as a baseline file or as history.

The loaders in store/results.py / store/baselines.py check the files; this module adds what
matching environments needs, so a hand-edited file ends in a one-line error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_vidbench.cli._common import CliError
from pytest_vidbench.measure.environment import environment_key
from pytest_vidbench.records import ResultRecord
from pytest_vidbench.store.baselines import BaselineFile, BaselineStore, parse_baseline
from pytest_vidbench.store.results import load_results
from pytest_vidbench.store.schema import InputError, parse_json, read_text

KEY_FIELDS = ("device_kind", "device_name", "torch")  # what environment_key() needs


@dataclass
class NewRun:
    """The results file under judgement."""

    path: Path
    records: list[ResultRecord]
    environment: dict[str, Any]
    run: dict[str, Any]
    key: str


@dataclass
class History:
    """What NEW is judged against, whichever form BASE took."""

    baseline: BaselineFile
    key: str
    from_baseline_file: bool  # True: exactly the run's comparison (stored re-measurements apply)
    description: str
    notes: list[str] = field(default_factory=list)


def _document(path: Path) -> Any:
    try:
        return parse_json(read_text(path))
    except (OSError, InputError):
        return None  # the results loader reports it, naming the file


def is_baseline_file(path: Path) -> bool:
    document = _document(path)
    return isinstance(document, dict) and "environment_key" in document and "tests" in document


def key_of(environment: dict[str, Any], path: Path) -> str:
    missing = [name for name in KEY_FIELDS if not environment.get(name)]
    if missing:
        raise CliError(f"{path}: environment lacks {', '.join(missing)}, so it cannot be "
                       "matched with a baseline environment")
    return environment_key(environment)


def load_new(path: Path) -> NewRun:
    if is_baseline_file(path):
        raise CliError(f"{path} is a baseline file; NEW (the last FILE) must be a results "
                       "file written by --vidbench-json")
    records, environment, run = load_results(path)
    return NewRun(path, records, environment, run, key_of(environment, path))


def load_baseline_file(path: Path) -> History:
    try:
        text = read_text(path)
    except (OSError, InputError) as error:
        raise CliError(f"baseline file {path} cannot be read ({error})") from None
    baseline = parse_baseline(text, path)
    return History(baseline, baseline.environment_key, True,
                   f"baseline file {path} ({baseline.environment_key}, "
                   f"{len(baseline.tests)} tests)")


def _file_date(path: Path) -> str:
    # A results file carries no date of its own; its modification time is the best we have.
    stamp = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    return stamp.replace(microsecond=0).isoformat()


def history_from_results(paths: list[Path], history_limit: int) -> History:
    """Each results file, oldest first, becomes one run of history, as
    `--vidbench-update-baselines` would have recorded it (nothing is written)."""
    loaded = []
    for path in paths:
        records, environment, run = load_results(path)
        loaded.append((path, records, environment, run, key_of(environment, path)))
    keys = {key for *_, key in loaded}
    if len(keys) > 1:
        listed = ", ".join(f"{path} ({key})" for path, *_, key in loaded)
        raise CliError(f"the BASE results files come from different environments: {listed}; "
                       "give files of one environment")
    key = keys.pop()
    store = BaselineStore(Path("baselines"), key)  # only for `updated`; never written
    baseline: BaselineFile | None = None
    for path, records, environment, run, _key in loaded:
        baseline = store.updated(baseline, records, environment, history_limit, prune=False,
                                 date=_file_date(path),
                                 control=[float(x) for x in run.get("control_samples") or []])
    assert baseline is not None
    history = History(baseline, key, False, f"{len(paths)} results file(s) as history ({key})")
    if len(paths) > history_limit:
        history.notes.append(f"only the newest {history_limit} of the {len(paths)} BASE runs "
                             "are kept ([tool.vidbench] history)")
    return history


def load_history(paths: list[Path], history_limit: int) -> History:
    baseline_files = [p for p in paths if is_baseline_file(p)]
    if baseline_files and len(paths) > 1:
        raise CliError(f"{baseline_files[0]} is a baseline file: give it as the only BASE, "
                       "or give only results files")
    if baseline_files:
        return load_baseline_file(paths[0])
    return history_from_results(paths, history_limit)


def no_history(path: Path, key: str) -> History:
    """A side-by-side run on a runner without baselines: its timing verdicts are its own
    (from its pairs); everything judged against history is `new`."""
    return History(BaselineFile(path, key, {}), key, True,
                   f"no baseline file ({path} does not exist); the side-by-side verdicts")
