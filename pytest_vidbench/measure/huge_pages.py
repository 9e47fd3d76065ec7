"""Transparent huge pages for PyTorch's CPU tensors: `cpu_huge_pages` (docs/noise.md point 9).

With THP_MEM_ALLOC_ENABLE=1, c10 (c10/core/impl/alloc_cpu.cpp) aligns CPU blocks of ≥ 2 MiB
to 2 MiB and madvises them for transparent huge pages. On this project's 2-core CPU that takes the
per-model offset between processes from 9.7% to 2.2% at no cost in time (docs/noise.md
point 9).
c10 reads the variable once, at the first CPU allocation, so setting it after `import torch`
does nothing. The plugin therefore sets it while pytest loads the first conftest files,
before a benchmark run imports torch (`request`), leaves a value the user exported alone,
and records what the process really runs with (`settle`). That state is part of the
environment key, and fresh processes inherit it through the environment.
"""

from __future__ import annotations

import os
import sys

VARIABLE = "THP_MEM_ALLOC_ENABLE"


def request(enabled: bool) -> None:
    """Ask for huge pages in this process, if torch has not read the variable yet and the
    user did not set it; child processes inherit what is decided here."""
    if "torch" in sys.modules or VARIABLE in os.environ:
        return
    os.environ[VARIABLE] = "1" if enabled else "0"


def active() -> bool:
    """Whether this process's torch runs with huge pages: the variable as torch read it,
    which `request` and `settle` never change once torch is loaded."""
    return os.environ.get(VARIABLE, "").strip() == "1"


def settle() -> bool:
    """Once torch is loaded: write this process's state into the environment, so that a
    fresh process (which sets the variable before its own torch starts) runs like this one.
    Returns the state."""
    state = active()
    os.environ[VARIABLE] = "1" if state else "0"
    return state


def key_suffix(enabled: bool) -> str:
    return "-thp" if enabled else ""
