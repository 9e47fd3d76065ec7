"""SIGTERM ends a run the way Ctrl-C does.

CI runners cancel a job with SIGTERM. Its default action kills the process before pytest
finishes, so no report would be written. Turned into KeyboardInterrupt, it takes pytest's
interruption path instead: the reports say what was measured, the exit status is 2, and the
baselines are not touched (an interrupted run never updates them). A second SIGTERM kills at
once, as usual.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytest

PREVIOUS = pytest.StashKey[Any]()


def _interrupt(_signum: int, _frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise KeyboardInterrupt("SIGTERM: the run was cancelled")


def trap_sigterm(config: pytest.Config) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return  # someone else handles it (pytest-timeout, a CI wrapper): leave it to them
    config.stash[PREVIOUS] = signal.signal(signal.SIGTERM, _interrupt)


def untrap_sigterm(config: pytest.Config) -> None:
    previous = config.stash.get(PREVIOUS, None)
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)
