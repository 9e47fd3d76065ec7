"""Exceptions of the quality package, kept apart so every module can raise them without cycles."""

from __future__ import annotations

from pathlib import Path

REFRESH_HINT = "delete it and run `pytest benchmarks/ --vidbench --vidbench-update-baselines`"


class QualityInputError(ValueError):
    """Frames (or a reference) that no metric can judge: wrong shape, dtype, range, NaN/Inf."""


class MetricUnavailable(Exception):
    """A metric cannot run here (no local weights, missing package, frames too small).

    The plugin turns it into a pytest skip whose reason is `reason`, so the reason must say
    exactly what to install or where to put which files.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ReferenceFileError(Exception):
    """A stored reference-clip file that cannot be read back: corrupt, truncated or wrong shape."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"reference clip file {self.path} is unusable: {problem}; {REFRESH_HINT}")


class ReferenceBudgetError(ValueError):
    """The reference clips cannot fit the size budget even at the smallest allowed size."""
