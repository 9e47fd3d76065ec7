"""Measuring again in a fresh pytest process.

A slow process stays slow in every round, and each process gives each model its own
offset (docs/noise.md), so only another process is new evidence. A child pytest runs the
given tests with `--vidbench-report-only`, no baselines and no re-measurement of its own,
and writes a results file; this module starts it, in its own process group so a timeout
kills its compile workers too, and checks its exit status and records.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_vidbench.records import ResultRecord

CHILD_ENV = "PYTEST_VIDBENCH_CHILD"


class FreshProcessError(RuntimeError):
    """The child did not measure what it was asked to; the message says why."""


def in_child_process() -> bool:
    return os.environ.get(CHILD_ENV) == "1"


def carried_options(plugins: Sequence[str], overrides: Sequence[str]) -> list[str]:
    """`-p NAME` and `-o KEY=VALUE` of the parent (pytest's `config.option.plugins` and
    `config.option.override_ini`): a child without them would measure other code."""
    out: list[str] = []
    for name in plugins:
        out += ["-p", name]
    for item in overrides:
        out += ["-o", item]
    return out


@dataclass(frozen=True)
class ChildRun:
    records: list[ResultRecord]
    run: dict  # the results file's `run` section
    returncode: int


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def run_child(nodeids: Sequence[str], rootdir: Path, inifile: Path | None,
              passthrough: Sequence[str], timeout: float,
              extra_env: dict[str, str] | None = None) -> ChildRun:
    """Run `nodeids` in a child pytest; raises FreshProcessError with the cause."""
    with tempfile.TemporaryDirectory(prefix="vidbench-fresh-") as tmp:
        results = Path(tmp) / "results.json"
        command = [
            sys.executable, "-m", "pytest", *nodeids, "--vidbench",
            f"--vidbench-json={results}", f"--vidbench-baselines={Path(tmp) / 'baselines'}",
            "--vidbench-report-only", "-p", "no:cacheprovider", "-q", "--no-header",
            f"--rootdir={rootdir}", *passthrough,
        ]
        if inifile is not None:
            command += ["-c", str(inifile)]
        env = dict(os.environ, **{CHILD_ENV: "1"}, **(extra_env or {}))
        try:
            process = subprocess.Popen(command, cwd=rootdir, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True,
                                       start_new_session=True)
        except OSError as error:
            raise FreshProcessError(f"could not start a child pytest: {error}") from None
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(process)
            process.communicate()
            raise FreshProcessError(f"the fresh process took over {timeout:.0f} s") from None
        tail = " | ".join(output.strip().splitlines()[-4:])
        if process.returncode not in (0,):
            raise FreshProcessError(f"the fresh process exited {process.returncode}: {tail}")
        try:
            document = json.loads(results.read_text(encoding="utf-8"))
            records = [ResultRecord.from_json(r) for r in document["results"]]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise FreshProcessError(f"the fresh process wrote no usable results ({error}): "
                                    f"{tail}") from None
    return ChildRun(records, document.get("run") or {}, process.returncode)
