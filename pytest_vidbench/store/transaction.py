"""Updating a baseline: read-modify-write under a directory lock; JSON and clips as one set.

The order makes a crash at any point leave a usable set, the old one or the new one:
 1. each new clip file is written under a content-versioned name no JSON names yet
    (temp file, fsync, rename, fsync of the directory);
 2. the JSON, which names the new clip files, replaces the old one the same way;
 3. only then are the clip files it no longer names removed.
Before 2 the old JSON still names the old clips; from 2 on the new JSON names clips that
are already on disk. Orphans of a crash before 2 go at the next update.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_vidbench.config import file_stem
from pytest_vidbench.records import ResultRecord
from pytest_vidbench.store.atomic import fsync_directory, write_bytes_atomic
from pytest_vidbench.store.baselines import BaselineFile, BaselineStore
from pytest_vidbench.store.schema import DuplicateKeyError, InputError, duplicates

if TYPE_CHECKING:
    from pytest_vidbench.quality.reference import ReferenceConfig

LOCK_TIMEOUT_S = 900.0  # longer than any update; a dead holder's flock is released anyway
_VERSIONED = re.compile(r".+\.[0-9a-f]{12}\.npz")
UNCHANGED_HINT = "baselines/ was not changed"


@dataclass
class UpdateOutcome:
    baseline: BaselineFile
    written: list[str] = field(default_factory=list)  # model[variant]: clips (re)written
    pinned: list[str] = field(default_factory=list)  # kept: they exist and rebless was off
    skipped: dict[str, str] = field(default_factory=dict)  # model[variant] -> why not stored
    replaced: list[str] = field(default_factory=list)  # clip files the new set no longer uses


def lock_path(directory: Path) -> Path:
    # Beside the directory, not in it: the workflow commits everything under baselines/.
    directory = Path(directory).absolute()
    return directory.parent / f".{directory.name}.lock"


@contextmanager
def locked(directory: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the baselines directory's lock (filelock; imported only when updating)."""
    from filelock import FileLock, Timeout

    path = lock_path(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise InputError(f"{directory} is locked by another --vidbench-update-baselines run "
                         f"({path}) for over {timeout:.0f} s; wait for it to finish, or delete "
                         f"the lock file if no such run is alive; {UNCHANGED_HINT}") from None
    try:
        yield
    finally:
        lock.release()


def check_unique(records: list[ResultRecord]) -> None:
    """Two tests producing one model[variant]::metric would write two history entries."""
    twice = duplicates(r.key for r in records)
    if twice:
        tests = sorted({r.test_id for r in records if r.key == twice[0]})
        raise DuplicateKeyError(
            f"{len(twice)} result key(s) produced by more than one test, e.g. {twice[0]} by "
            f"{', '.join(tests)}; give the tests distinct models=/metrics= in "
            f"@pytest.mark.vidbench (or deselect one); {UNCHANGED_HINT}")


def _check_file_names(keys: list[tuple[str, str]]) -> None:
    seen: dict[str, tuple[str, str]] = {}
    for key in keys:
        stem = file_stem(*key)
        if stem in seen and seen[stem] != key:
            (m1, v1), (m2, v2) = seen[stem], key
            raise InputError(f"{m1}[{v1}] and {m2}[{v2}] would share the reference file "
                             f"{stem}.npz; rename a model or a variant; {UNCHANGED_HINT}")
        seen[stem] = key


def _store_clips(frames_dir: Path, index: dict[str, str], references: Mapping[Any, Any],
                 config: ReferenceConfig | None, rebless: bool, outcome: UpdateOutcome) -> None:
    from pytest_vidbench.quality.errors import ReferenceBudgetError
    from pytest_vidbench.store.references import (
        ReferenceStore,
        encode_references,
        reference_key,
    )

    existing = ReferenceStore(frames_dir, index=index)
    for (model, variant), clips in sorted(references.items()):
        key = reference_key(model, variant)
        current = existing.path(model, variant)
        if current.is_file() and not rebless:  # pinned: a reference changes only on purpose
            index[key] = current.relative_to(frames_dir).as_posix()
            outcome.pinned.append(key)
            continue
        try:
            data, _ = encode_references(clips, config)
        except ReferenceBudgetError as error:
            outcome.skipped[key] = str(error)
            continue
        name = f"references/{file_stem(model, variant)}.{hashlib.sha256(data).hexdigest()[:12]}.npz"
        write_bytes_atomic(frames_dir / name, data)  # step 1: nothing names it yet
        if current.is_file():
            outcome.replaced.append(current.relative_to(frames_dir).as_posix())
        index[key] = name
        outcome.written.append(key)


def _remove_unnamed(frames_dir: Path, index: dict[str, str], replaced: list[str]) -> None:
    """Step 3: versioned clip files no JSON names, the replaced files, crash leftovers."""
    folder = frames_dir / "references"
    if not folder.is_dir():
        return
    named = set(index.values())
    for path in folder.iterdir():
        relative = f"references/{path.name}"
        stray = _VERSIONED.fullmatch(path.name) or path.name.endswith(".tmp")
        if relative not in named and (stray or relative in replaced):
            path.unlink(missing_ok=True)
    fsync_directory(folder)


def update_baselines(
    store: BaselineStore,
    records: list[ResultRecord],
    environment: dict[str, Any],
    history_limit: int,
    prune: bool,
    references: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
    reference_config: ReferenceConfig | None = None,
    rebless: bool = False,
    date: str | None = None,
    control: Sequence[float] = (),
    pin: str | None = None,
    flag_regressions: bool = False,
) -> UpdateOutcome:
    """Append this run's ok records (and store its reference clips) under the lock.

    `references` maps (model, variant) to {label: full clip}; existing clips are kept
    (pinned) unless `rebless`; `control` holds the run's control workload samples; `pin`
    labels the updated histories as the anchor creep is judged against; `flag_regressions`
    marks the entries of regressed records (--vidbench-accept-regressions).
    Raises InputError, with nothing written, on duplicate
    record keys or reference file names shared by two (model, variant) pairs.
    """
    check_unique(records)
    references = references or {}
    _check_file_names(sorted({(r.model, r.variant) for r in records} | set(references)))
    with locked(store.directory):
        current = store.load()  # again, under the lock: another run may have appended
        baseline = store.updated(current, records, environment, history_limit, prune, date,
                                 control, pin, flag_regressions)
        index = dict(current.references) if current else {}
        outcome = UpdateOutcome(baseline)
        _store_clips(store.frames_dir, index, references, reference_config, rebless, outcome)
        if prune:
            kept = {f"{t.model}[{t.variant}]" for t in baseline.tests.values()}
            index = {key: name for key, name in index.items() if key in kept}
        baseline.references = index
        store.write(baseline)  # step 2: the switch to the new set
        _remove_unnamed(store.frames_dir, index, outcome.replaced)
    return outcome
