"""Live progress through pytest's terminal reporter: visible without -s, quiet under -q."""

from __future__ import annotations

import time
from typing import Any


class Progress:
    """Prints 'vidbench: <model> <phase> i/n, elapsed, ETA' lines, at most every few seconds."""

    def __init__(self, reporter: Any | None, verbosity: int, min_interval: float = 2.0) -> None:
        self.reporter = reporter if verbosity >= 0 else None
        self.min_interval = min_interval
        self.started = time.monotonic()
        self._last_line = 0.0
        self._last_phase = ""

    def update(self, model: str, phase: str, done: int, total: int, eta: float | None) -> None:
        if self.reporter is None:
            return
        now = time.monotonic()
        key = f"{model}/{phase}"
        # Always print a phase change and the last item; throttle the rest.
        if key == self._last_phase and done < total and now - self._last_line < self.min_interval:
            return
        self._last_phase, self._last_line = key, now
        elapsed = now - self.started
        eta_text = f", ETA {eta:.0f}s" if eta is not None else ""
        self.reporter.ensure_newline()
        self.reporter.write_line(
            f"vidbench: {model} {phase} {done}/{total}, elapsed {elapsed:.0f}s{eta_text}"
        )

    def note(self, text: str) -> None:
        if self.reporter is not None:
            self.reporter.ensure_newline()
            self.reporter.write_line(f"vidbench: {text}")
