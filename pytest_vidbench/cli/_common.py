"""Pieces the subcommands share: the input error, the project config, number checks."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

from pytest_vidbench.config import VidbenchConfig, load_pyproject_config


class CliError(Exception):
    """Bad input (a file, a flag): printed as one line, exit status 2."""


def one_line(text: str) -> str:
    return " ".join(text.split())


def project_config() -> VidbenchConfig:
    """`[tool.vidbench]` of ./pyproject.toml (defaults without one). Raises ConfigError."""
    return load_pyproject_config(Path.cwd() / "pyproject.toml")


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_positive(value: Any) -> bool:
    return is_number(value) and value > 0


def terminal_width() -> int:
    # The run's summary is capped at 100 columns too; below 60 the table is unreadable.
    return max(60, min(shutil.get_terminal_size((100, 24)).columns, 100))
