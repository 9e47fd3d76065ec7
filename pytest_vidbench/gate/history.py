"""The newest stable part of a test's baseline history (`TestHistory`, in records/).

The store turns its files into histories (store/histories.py); the gate never reads files.
Runs of one session share their `date`, which is how the views join the models of one past
process (gate/views.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pytest_vidbench.records import PastRun, TestHistory

__all__ = ["PastRun", "TestHistory", "change_points", "stable_start"]

MIN_SEGMENT = 3  # runs a stable segment needs before it replaces the whole history
PENALTY = 3.0  # × log(n)·scale² per change point


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
