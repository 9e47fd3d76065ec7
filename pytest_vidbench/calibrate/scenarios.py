"""History scenarios through the real path: the store's updates, the judge, the re-measurement.

- **Step after a speed-up:** a test sped up by 20% five runs back, then slows by 15%.
- **Creep:** after a pinned anchor (`--vidbench-pin-anchor`), every merge slows one model by
  4%; a merge that passes is recorded as `--vidbench-update-baselines` would record it.

Runs are simulated by `synthetic.simulate_run` (the noise model fitted in docs/noise.md);
histories are built by `BaselineStore.updated` and read back by `store.histories`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pytest_vidbench.calibrate.synthetic import (
    NoiseModel,
    fresh_processes,
    run_records,
    simulate_run,
)
from pytest_vidbench.config import Thresholds
from pytest_vidbench.gate.judge import Comparison, Judge
from pytest_vidbench.records import RunContext
from pytest_vidbench.store.baselines import BaselineFile, BaselineStore
from pytest_vidbench.store.histories import histories

ENV = {"git_commit": "0" * 12}


class Scenario:
    """One simulated project: its baseline file, evolving run by run."""

    def __init__(self, rng: np.random.Generator, model: NoiseModel, checks: int,
                 thresholds: Thresholds | None = None) -> None:
        self.rng, self.model = rng, model
        self.thresholds = thresholds or Thresholds()
        self.bases = rng.uniform(0.05, 0.5, size=checks)
        self.store = BaselineStore(Path("simulated"), "sim")
        self.baseline: BaselineFile | None = None
        self.runs = 0

    def record(self, factors: np.ndarray, pin: str | None = None) -> None:
        run = simulate_run(self.rng, self.model, self.bases, factors)
        self.baseline = self.store.updated(
            self.baseline, run_records(run), ENV, 10, False, control=run.control.tolist(),
            date=f"2026-01-01T{self.runs // 3600:02}:{self.runs // 60 % 60:02}:"
                 f"{self.runs % 60:02}", pin=pin)
        self.runs += 1

    def judge(self, factors: np.ndarray) -> tuple[str, bool]:
        """(model 0's status, whether any other model was called a regression)."""
        run = simulate_run(self.rng, self.model, self.bases, factors)
        records = run_records(run)
        Judge(self.thresholds, {}).judge(records, Comparison("sim", histories(self.baseline), []),
                                      RunContext(run.control.tolist(), self.model.samples),
                                      fresh_processes(self.rng, self.model, self.bases, factors))
        statuses = [r.verdict.status if r.verdict else "" for r in records]
        return statuses[0], "regression" in statuses[1:]


def step_after_speed_up(model: NoiseModel, checks: int, sessions: int, seed: int = 0,
                        thresholds: Thresholds | None = None) -> float:
    """Share of sessions where +15% five runs after a −20% speed-up is a regression."""
    rng = np.random.default_rng(seed)
    caught = 0
    for _ in range(sessions):
        s = Scenario(rng, model, checks, thresholds)
        for r in range(10):
            factors = np.ones(checks)
            factors[0] = 0.8 if r >= 5 else 1.0
            s.record(factors)
        factors = np.ones(checks)
        factors[0] = 0.8 * 1.15
        caught += s.judge(factors)[0] == "regression"
    return caught / sessions


def creep(model: NoiseModel, checks: int, sessions: int, per_merge: float = 1.04,
          within: int = 4, seed: int = 0, thresholds: Thresholds | None = None) -> float:
    """Share of sessions where creep of `per_merge` is a regression within `within` merges."""
    rng = np.random.default_rng(seed)
    caught = 0
    for _ in range(sessions):
        s = Scenario(rng, model, checks, thresholds)
        for r in range(10):
            s.record(np.ones(checks), pin="v1" if r == 9 else None)
        for merge in range(1, within + 1):
            factors = np.ones(checks)
            factors[0] = per_merge**merge
            status, _ = s.judge(factors)
            if status == "regression":
                caught += 1
                break
            s.record(factors)
    return caught / sessions
