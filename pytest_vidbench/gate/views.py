"""Three views of a latency: raw, ÷ the control workload, and ÷ the run's other models.

Each process gives every model its own offset of about 4% (docs/noise.md), on top of a
factor it shares with every workload (a whole process can run 40–70% slow). The views
remove the shared factor in two independent ways:

- `peers`: log time minus the median, over the other models of the same process, of
  their log time minus their own centre (a leave-one-out median polish, Tukey 1977,
  Exploratory Data Analysis, ch. 11). The median, not the mean: a change shared by up to
  half of the models does not leak into the normaliser, so each of them keeps its effect.
- `control`: log time minus the log median of the interleaved control workload, which
  runs none of the pipelines' code: it keeps a change that slows every model alike.
- `raw`: the log time itself, for the report and for "everything slowed" notes.

All values are logs, so effects are multiplicative.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from pytest_vidbench.gate.history import TestHistory

PEERS, CONTROL, RAW = "peers", "control", "raw"
MIN_PEERS = 2  # other models needed for a median that is not one model's own noise


@dataclass(frozen=True)
class Series:
    """One test in one view: this run's value and the history's, oldest first."""

    current: float
    history: tuple[float, ...]


def _log_table(histories: Mapping[str, TestHistory]) -> dict[str, dict[str, float]]:
    """date -> key -> log value, for the runs each history holds."""
    table: dict[str, dict[str, float]] = {}
    for key, test in histories.items():
        for run in test.runs:
            if run.value > 0:
                table.setdefault(run.date, {})[key] = math.log(run.value)
    return table


def centres(histories: Mapping[str, TestHistory]) -> dict[str, float]:
    """Each test's own centre: the median of its log history."""
    return {key: statistics.median(math.log(r.value) for r in t.runs if r.value > 0)
            for key, t in histories.items() if any(r.value > 0 for r in t.runs)}


def _process_effect(logs: Mapping[str, float], centre: Mapping[str, float],
                    refs: Collection[str]) -> float | None:
    offsets = [logs[k] - centre[k] for k in refs if k in logs and k in centre]
    return statistics.median(offsets) if len(offsets) >= MIN_PEERS else None


def peers_series(key: str, current: Mapping[str, float], histories: Mapping[str, TestHistory],
                 refs: Collection[str] | None = None) -> Series | None:
    """`key` ÷ its peers, with `refs` (default: every other test) as the peers.

    `current` maps keys to this process's log values. The history is rebuilt with the
    same peers, so a fresh process that re-measures only a few reference models is
    compared like with like.
    """
    if key not in current or key not in histories:
        return None
    centre = centres(histories)
    peers = [k for k in (refs if refs is not None else current) if k != key]
    now = _process_effect(current, centre, peers)
    if now is None:
        return None
    past: list[float] = []
    table = _log_table(histories)
    for date in sorted(table):  # ISO dates: oldest first
        logs = table[date]
        effect = _process_effect(logs, centre, peers)
        if key in logs and effect is not None:
            past.append(logs[key] - effect)
    return Series(current[key] - now, tuple(past)) if past else None


def control_series(value: float, control: float | None, test: TestHistory) -> Series | None:
    if control is None or control <= 0 or value <= 0:
        return None
    past = tuple(math.log(r.value / r.control) for r in test.runs if r.control and r.value > 0)
    return Series(math.log(value / control), past) if past else None


def raw_series(value: float, test: TestHistory) -> Series | None:
    past = tuple(math.log(r.value) for r in test.runs if r.value > 0)
    return Series(math.log(value), past) if past and value > 0 else None
