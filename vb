#!/usr/bin/env python3
"""Set up .venv when needed, then run the main job or the test suite.

    ./vb bench [ARGS]   runs  pytest benchmarks/ --vidbench [ARGS]
    ./vb test  [ARGS]   runs  pytest -n auto --maxprocesses 4 [ARGS]

Set-up happens once: a venv in .venv, torch==2.13.0 (a CUDA build when `nvidia-smi` works or
VIDBENCH_TORCH_BUILD=cuda, from TORCH_INDEX_URL, the variable the GitHub workflow sets; the
CPU build otherwise or with VIDBENCH_TORCH_BUILD=cpu), then the project with [dev]. A stamp
in .venv records what was installed, keyed by pyproject.toml's hash: later calls skip
set-up, a changed pyproject.toml reinstalls the project, a different torch build recreates
the venv. The exit status is pytest's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / "vidbench-setup.json"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
TORCH = "torch==2.13.0"
# The CUDA index the workflow uses (.github/workflows/vidbench.yml).
CUDA_INDEX = "https://download.pytorch.org/whl/cu124"
# The tests run on up to 4 xdist workers (the 2-core machine: about 4.5 min, serial about 7.5);
# `./vb test -n 0` runs them in one process.
COMMANDS = {"bench": ["benchmarks/", "--vidbench"], "test": ["-n", "auto", "--maxprocesses", "4"]}


def say(text: str) -> None:
    print(f"vb: {text}", file=sys.stderr, flush=True)


def torch_build() -> str:
    wanted = os.environ.get("VIDBENCH_TORCH_BUILD", "auto").strip().lower()
    if wanted in ("cpu", "cuda"):
        return wanted
    if wanted != "auto":
        sys.exit(f"vb: VIDBENCH_TORCH_BUILD={wanted!r}: use cpu, cuda or auto (the default)")
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return "cpu"
    try:  # installed but without a working driver or GPU, it fails: a CPU machine then
        found = subprocess.run([smi], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "cpu"
    return "cuda" if found.returncode == 0 else "cpu"


def wanted_state(build: str) -> dict[str, str]:
    pyproject = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return {"python": sys.version.split()[0], "torch": f"{TORCH} ({build})",
            "pyproject": pyproject}


def pip(*args: str) -> None:
    subprocess.run([str(BIN / "python"), "-m", "pip", "install", "-q",
                    "--disable-pip-version-check", *args], cwd=ROOT, check=True)


def set_up() -> None:
    build = torch_build()
    wanted = wanted_state(build)
    try:
        done = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        done = {}
    if done == wanted and (BIN / "pytest").exists():
        return
    started = time.monotonic()
    fresh = {k: done.get(k) for k in ("python", "torch")} != {
        k: wanted[k] for k in ("python", "torch")}
    if fresh or not (BIN / "python").exists():
        say(f"creating .venv with Python {wanted['python']}")
        venv.EnvBuilder(clear=True, with_pip=True).create(VENV)
        # torch first and pinned: a bare `torch` requirement would pull a CUDA build of GBs.
        if build == "cuda":
            index = os.environ.get("TORCH_INDEX_URL", CUDA_INDEX)
            say(f"installing {TORCH} (CUDA) from {index}")
            pip(TORCH, "--index-url", index)
        else:
            say(f"installing {TORCH} (CPU)")
            pip(TORCH)
    say('installing the project: pip install -e ".[dev]"')
    pip("-e", ".[dev]")
    STAMP.write_text(json.dumps(wanted, indent=1) + "\n")
    say(f"set-up done in {time.monotonic() - started:.0f} s")


def main(argv: list[str]) -> int:
    # The point of the check: `python3` on PATH may be older than the project needs.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit(f"vb: needs Python ≥ 3.11, this is {sys.version.split()[0]}; "
                 "run it as `python3.11 vb ...`")
    if not argv or argv[0] not in COMMANDS:
        sys.exit("usage: ./vb bench [pytest args]   (pytest benchmarks/ --vidbench ...)\n"
                 "       ./vb test [pytest args]    (pytest ...)")
    set_up()
    env = dict(os.environ, VIRTUAL_ENV=str(VENV),
               PATH=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]))
    env.pop("PYTHONHOME", None)
    command = [str(BIN / "pytest"), *COMMANDS[argv[0]], *argv[1:]]
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as error:
        sys.exit(f"vb: set-up failed: {' '.join(map(str, error.cmd))} exited "
                 f"{error.returncode}")
    except KeyboardInterrupt:
        sys.exit(130)
