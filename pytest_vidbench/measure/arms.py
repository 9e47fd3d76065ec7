"""One process of one arm of a side-by-side run: base's tree or head's, in a fresh pytest.

Like pyperf's manager (`_manager.py`), the parent starts the same entry point as a worker,
reads one answer (a results file) with a time limit, kills a stuck worker's whole process
group, and checks what came back: the keys it was asked for, a clean exit, and that it
imported no module from the other arm's tree (which would make every run A/A).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_vidbench.measure.fresh import CHILD_ENV, kill_group
from pytest_vidbench.measure.worktree import AgainstError
from pytest_vidbench.records.pairs import ArmName, ArmRun

OTHER_TREE_ENV = "PYTEST_VIDBENCH_OTHER_TREE"
KEYS_OPTION = "--vidbench-only-keys"
CLIPS_OPTION = "--vidbench-save-clips"  # the warm-up pair's processes save their frames here
NO_COLLECTION = (2, 3, 4, 5)  # pytest's interrupted/internal/usage/no-tests exit codes


@dataclass(frozen=True)
class Arm:
    name: ArmName
    root: Path  # the tree's top level
    rootdir: Path  # pytest's rootdir in this tree
    cwd: Path  # where its pytest starts: the invocation directory, inside `root`
    other_root: Path  # the other arm's tree, none of whose modules may load here
    python: str = sys.executable
    pythonpath: tuple[str, ...] = ()  # put first, so this tree's packages win


def foreign_modules(other: Path) -> list[str]:
    """Module files of this process under `other`, outside any environment (a venv inside
    a checkout holds installed packages, not the tree's code)."""
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    other = other.resolve()
    found = []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path:
            continue
        p = Path(path).resolve()
        if p.is_relative_to(other) and not any(p.is_relative_to(x) for x in prefixes):
            found.append(str(p))
    return sorted(found)


def run_arm(arm: Arm, args: Sequence[str], keys: Sequence[str], options: Sequence[str],
            timeout: float) -> ArmRun:
    """One process of `arm` measuring `keys`; a failure is returned, a misconfiguration
    (nothing collected, the other tree's code imported) raises AgainstError."""
    with tempfile.TemporaryDirectory(prefix=f"vidbench-{arm.name}-") as tmp:
        results = Path(tmp) / "results.json"
        wanted = Path(tmp) / "keys.txt"
        wanted.write_text("\n".join(keys) + "\n", encoding="utf-8")
        command = [arm.python, "-m", "pytest", *args, "--vidbench", f"--vidbench-json={results}",
                   f"--vidbench-baselines={Path(tmp) / 'baselines'}", "--vidbench-report-only",
                   f"{KEYS_OPTION}={wanted}", "-p", "no:cacheprovider", "-q", "--no-header",
                   f"--rootdir={arm.rootdir}", *options]
        path = os.pathsep.join([*arm.pythonpath, os.environ.get("PYTHONPATH", "")]).strip(
            os.pathsep)
        env = dict(os.environ, **{CHILD_ENV: "1", OTHER_TREE_ENV: str(arm.other_root)},
                   PYTHONPATH=path)
        started = time.monotonic()
        try:
            process = subprocess.Popen(command, cwd=arm.cwd, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True,
                                       start_new_session=True)
        except OSError as error:
            return ArmRun(arm.name, error=f"could not start {arm.python}: {error}")
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(process)
            process.communicate()
            return ArmRun(arm.name, error=f"ran past {timeout:.0f} s and was killed",
                          timed_out=True, wall_seconds=time.monotonic() - started)
        wall = time.monotonic() - started
        tail = " | ".join(output.strip().splitlines()[-6:])
        if process.returncode in NO_COLLECTION:
            raise AgainstError(f"the {arm.name} arm ({arm.root}) could not collect its "
                               f"benchmarks (pytest exited {process.returncode}): {tail}")
        try:
            document = json.loads(results.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            return ArmRun(arm.name, error=f"exited {process.returncode} and wrote no results "
                          f"({error}): {tail}", wall_seconds=wall)
    return _answer(arm, document, keys, wall, tail)


def _answer(arm: Arm, document: dict, keys: Sequence[str], wall: float, tail: str) -> ArmRun:
    run = document.get("run") or {}
    foreign = run.get("foreign_modules") or []
    if foreign:
        raise AgainstError(
            f"the {arm.name} arm imported the other tree's code ({foreign[0]}"
            f"{f' and {len(foreign) - 1} more' if len(foreign) > 1 else ''}), so the run "
            "would compare a tree with itself. An editable install puts one tree on every "
            "path: give the other arm its own environment with --vidbench-base-python, or "
            "install the package non-editable")
    values: dict[str, float] = {}
    errors: dict[str, str] = {}
    for r in document.get("results") or []:
        key = f"{r.get('model')}[{r.get('variant')}]::{r.get('metric')}"
        if r.get("status") == "error":
            errors[key] = str(r.get("error") or "the test failed")
        elif r.get("status") == "ok" and isinstance(r.get("value"), (int, float)) \
                and r["value"] > 0:
            values[key] = float(r["value"])
    missing = [k for k in keys if k not in values and k not in errors]
    for key in missing:
        errors[key] = f"the {arm.name} process measured no value for it: {tail}"
    samples = [float(x) for x in run.get("control_samples") or []]
    return ArmRun(arm.name, values, statistics.median(samples) if samples else None, errors,
                  missing, wall_seconds=wall)


def missing_keys(run: ArmRun, keys: Sequence[str]) -> set[str]:
    """Keys this process's tree has no test for (as opposed to a test that failed)."""
    return set(keys) & set(run.missing)
