"""Pieces the subcommands share: the input error, the project config, number checks."""

from __future__ import annotations

import shutil
from pathlib import Path

from pytest_vidbench.config import VidbenchConfig, load_pyproject_config
from pytest_vidbench.store.schema import InputError, is_number

__all__ = ["BAD_INPUT", "CliError", "is_number", "one_line", "project_config"]

BAD_INPUT = 2  # the exit status of every bad file, flag or setting (docs/exit-codes.md)


class CliError(InputError):
    """Bad input (a file, a flag): printed as one line, exit status 2."""


def one_line(text: str) -> str:
    return " ".join(text.split())


def project_config() -> VidbenchConfig:
    """`[tool.vidbench]` of ./pyproject.toml (defaults without one). Raises ConfigError."""
    return load_pyproject_config(Path.cwd() / "pyproject.toml")


def terminal_width() -> int:
    # The run's summary is capped at 100 columns too; below 60 the table is unreadable.
    return max(60, min(shutil.get_terminal_size((100, 24)).columns, 100))
