"""Re-measuring suspects in a fresh pytest process.

On this machine a slow process stays slow in every round (the noise study: round-to-round
correlation 0.66–0.74 within a process, about 0 between processes), so measuring again in
the same process cannot tell a real slowdown from a slow process. A child pytest runs the
suspects' latency/energy tests again, with the same configuration and no baselines (so it
judges nothing and never recurses), and reports its run summaries.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_vidbench.store.results import ResultsFileError, load_results

CHILD_ENV = "PYTEST_VIDBENCH_CHILD"


def in_child_process() -> bool:
    return os.environ.get(CHILD_ENV) == "1"


# Options of the parent's command line that change what the code under test does: plugins
# (`-p`) and ini overrides (`-o`). A child without them would measure other code.
_CARRIED = {"-p": "-p", "-o": "-o", "--override-ini": "-o"}


def carried_options(args: Sequence[str]) -> list[str]:
    """The `-p NAME` and `-o KEY=VALUE` options among pytest's invocation `args`."""
    carried: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name, _, inline = arg.partition("=") if arg.startswith("--") else (arg[:2], "", arg[2:])
        if name in _CARRIED:
            value = inline or (args[i + 1] if i + 1 < len(args) else "")
            i += 0 if inline else 1
            if value:
                carried += [_CARRIED[name], value]
        i += 1
    return carried


@dataclass
class RemeasureOutcome:
    # record key -> (raw, ÷ control, ÷ the run's other models)
    summaries: dict[str, tuple[float, float | None, float | None]]
    timed_seconds: float = 0.0
    error: str | None = None


def remeasure_in_fresh_process(
    nodeids: list[str],
    rootdir: Path,
    inifile: Path | None,
    passthrough: list[str],
    timeout: float,
) -> RemeasureOutcome:
    """Run `nodeids` in a child pytest and return their fresh run summaries."""
    with tempfile.TemporaryDirectory(prefix="vidbench-remeasure-") as tmp:
        results = Path(tmp) / "results.json"
        command = [
            sys.executable, "-m", "pytest", *nodeids, "--vidbench",
            f"--vidbench-json={results}", f"--vidbench-baselines={Path(tmp) / 'baselines'}",
            "--vidbench-report-only", "-p", "no:cacheprovider", "-q", "--no-header",
            f"--rootdir={rootdir}", *passthrough,
        ]
        if inifile is not None:
            command += ["-c", str(inifile)]
        env = dict(os.environ, **{CHILD_ENV: "1"})
        try:
            done = subprocess.run(command, cwd=rootdir, env=env, capture_output=True,
                                  text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return RemeasureOutcome({}, error=f"the re-measurement took over {timeout:.0f} s")
        except OSError as error:
            return RemeasureOutcome({}, error=f"could not start a child pytest: {error}")
        try:
            records, _, run = load_results(results)
        except ResultsFileError:
            tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
            return RemeasureOutcome({}, error=f"the child pytest exited {done.returncode}: "
                                              + " | ".join(tail))
    summaries = {
        r.key: (float(r.value), r.details.get("normalized_value"),
                r.value / r.details["peer_value"] if r.details.get("peer_value") else None)
        for r in records
        if r.kind in ("latency", "energy") and r.status == "ok" and r.value
    }
    return RemeasureOutcome(summaries, timed_seconds=float(run.get("timed_seconds") or 0.0))
