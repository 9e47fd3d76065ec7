"""A test's baseline history as the gate sees it, and the newest stable part of it.

The store turns its files into these (store/baselines.py `histories`); the gate never reads
files. Runs of one session share their `date`, which is how the views join the models of
one past process (gate/views.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

MIN_SEGMENT = 3  # runs a stable segment needs before it replaces the whole history
PENALTY = 3.0  # × log(n)·scale² per change point


@dataclass(frozen=True)
class PastRun:
    """One earlier run of one test."""

    value: float
    date: str  # shared by every test of that run
    commit: str | None = None
    control: float | None = None  # that run's control workload median, seconds
    # Recorded on purpose although it regressed: judged like any run (the change points
    # re-base on it once it is a level), shown flagged in the reports.
    regressed: bool = False


@dataclass(frozen=True)
class TestHistory:
    kind: str
    runs: tuple[PastRun, ...]  # oldest first
    samples: tuple[float, ...] = ()  # the newest run's samples
    sample_labels: tuple[str, ...] = ()
    stages: dict[str, list[float]] = field(default_factory=dict)
    anchor: tuple[PastRun, ...] = ()  # the history when a release was pinned (creep)
    anchor_label: str | None = None

    @property
    def pinned(self) -> TestHistory | None:
        """The anchor as a history of its own, for judging creep; None when none is pinned."""
        if not self.anchor:
            return None
        return TestHistory(self.kind, self.anchor, anchor_label=self.anchor_label)

    @property
    def newest(self) -> PastRun | None:
        return self.runs[-1] if self.runs else None

    @property
    def best(self) -> float | None:
        """The lowest value: memory is judged against it, so creep cannot walk upwards."""
        return min((r.value for r in self.runs), default=None)


def change_points(values: Sequence[float], scale: float) -> list[int]:
    """Indices where a new level starts, by PELT (Killick, Fearnhead & Eckley 2012).

    Cost: squared error about each segment's mean (a normal model with known variance);
    penalty PENALTY·log(n)·scale² per change: the BIC for one mean parameter (Schwarz 1978)
    has 2; 3 calls a spurious change in 4% of flat 10-run histories instead of 14%, and
    still finds a −20% step five runs back in 99% (`python -m pytest_vidbench.calibrate
    changepoints`). `scale` is the run-to-run SD in the same (log) units.
    """
    n = len(values)
    if n < 2 * MIN_SEGMENT - 1 or scale <= 0:
        return []
    import numpy as np
    import ruptures

    signal = np.asarray(values, dtype=float).reshape(-1, 1)
    algo = ruptures.Pelt(model="l2", min_size=2, jump=1).fit(signal)
    ends = algo.predict(pen=PENALTY * math.log(n) * scale**2)
    return [int(e) for e in ends[:-1]]  # the last "end" is n itself


def stable_start(values: Sequence[float], scale: float, min_step: float = 0.0) -> int:
    """Where the newest stable segment begins: the last change point that leaves at least
    MIN_SEGMENT runs after it (a fresher change with fewer runs is not yet a level) and
    moves the level by at least `min_step` (log units). A smaller step does not matter to
    the gate, and re-basing on it would judge against a segment picked for being low."""
    n = len(values)
    points = change_points(values, scale)
    bounds = [0, *points, n]
    for i in range(len(points) - 1, -1, -1):
        c = points[i]
        if n - c < MIN_SEGMENT:
            continue
        before = values[bounds[i]:c]
        after = values[c:bounds[i + 2]]
        if abs(sum(after) / len(after) - sum(before) / len(before)) >= min_step:
            return c
    return 0
