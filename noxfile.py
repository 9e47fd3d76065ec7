"""Sessions: `nox -s tests lint bench calibrate fidelity quality_cost calibrate_real`.

torch is installed first and pinned: a bare `torch` requirement would pull a multi-GB CUDA
build. On a GPU machine, set VIDBENCH_TORCH to the build you want (e.g. "torch==2.13.0").
"""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["lint", "tests"]
TORCH = os.environ.get("VIDBENCH_TORCH", "torch==2.13.0")


def install(session: nox.Session) -> None:
    session.install(TORCH)
    session.install("-e", ".[dev]")


@nox.session
def tests(session: nox.Session) -> None:
    """The plugin's own tests (the README's test command)."""
    install(session)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def bench(session: nox.Session) -> None:
    """The main job on the built-in models; prints session wall time vs timed generation."""
    install(session)
    session.run("pytest", "benchmarks/", "--vidbench", *session.posargs)


@nox.session
def calibrate(session: nox.Session) -> None:
    """Synthetic false-alarm and power table (docs/calibration.md)."""
    install(session)
    session.run("python", "-m", "pytest_vidbench.calibrate", *session.posargs)


@nox.session
def calibrate_real(session: nox.Session) -> None:
    """Repeated real runs on this machine, unchanged and with an injected slowdown (~65 min)."""
    install(session)
    session.run("python", "-m", "pytest_vidbench.calibrate.real", *session.posargs)


@nox.session
def fidelity(session: nox.Session) -> None:
    """Where bf16, a scheduler swap, attention noise and a new seed land on the quality metrics."""
    install(session)
    session.run("python", "-m", "pytest_vidbench.calibrate.fidelity", *session.posargs)


@nox.session
def quality_cost(session: nox.Session) -> None:
    """Time per video of the default quality metrics at 16×64×64 and 16×256×256."""
    install(session)
    session.run("python", "-m", "pytest_vidbench.quality.cost", *session.posargs)
