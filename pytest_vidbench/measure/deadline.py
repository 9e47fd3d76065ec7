"""The per-model time limit: a hung model errors, and the run goes on without it.

A timer signal (SIGALRM) interrupts the model's Python code in the main thread once its
budget is spent; the model's tests then error with the cause, the other models are measured
and the reports are written. A hang inside one C call that never returns to Python (a
deadlocked GPU kernel) cannot be interrupted this way: there the CI job's own timeout is the
limit. Without SIGALRM (Windows) or off the main thread, no limit applies.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from pytest_vidbench.measure.generation import GenerationError
from pytest_vidbench.measure.measurements import Measurements


class ModelTimeout(GenerationError):
    """The model used up its time limit."""


def _message(m: Measurements, limit: float) -> str:
    return (f"{m.entry.name} [{m.variant_name}]: no result within the per-model time limit of "
            f"{limit:g} s (build, warm-up and timed calls together); raise `model_timeout` "
            "in [tool.vidbench] if it is just slow, 0 turns the limit off")


def _can_interrupt() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(m: Measurements, limit: float) -> Iterator[None]:
    """Run the block on `m`'s budget of `limit` seconds (0: none); time spent is charged."""
    left = limit - m.seconds
    if limit > 0 and left <= 0:
        raise ModelTimeout(_message(m, limit))
    armed = limit > 0 and _can_interrupt()
    if armed:
        def expire(_signum: int, _frame: object) -> None:
            raise ModelTimeout(_message(m, limit))

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, left)
    started = time.monotonic()
    try:
        yield
    finally:
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        m.seconds += time.monotonic() - started
