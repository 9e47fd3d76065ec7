"""Which timing tests a side-by-side run pairs (gate/against.py), judged by the real `Judge`.

By default every timing test is paired, history or not. With `PairPolicy.screen`, a test
that the history clears is never paired, and a loose-screen suspect that the run alone
cannot prove is paired rather than cleared. Histories and runs come from the seeded
synthetic model (calibrate/synthetic.py) with little noise; the one borderline case checks
that it is borderline before it checks what happens to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from pytest_vidbench.calibrate.synthetic import (
    NoiseModel,
    histories_from_runs,
    run_records,
    simulate_run,
)
from pytest_vidbench.config import Thresholds
from pytest_vidbench.gate.decide import TimingInput, decide, stage1
from pytest_vidbench.gate.judge import Comparison, Judge, policy_of
from pytest_vidbench.gate.side_by_side import PairedFamily, PairPolicy
from pytest_vidbench.records import ResultRecord, RunContext
from pytest_vidbench.records.pairs import ArmRun, Pair

CALM = NoiseModel(cv=0.01, outliers=0.0, drift=0.0, slow_probability=0.0, process_sd=0.01)


@dataclass
class Recorder:
    """A `Pairing` whose pairs show head = base × (1 + effects[key]), nearly noiseless."""

    policy: PairPolicy
    effects: dict[str, float]
    asked: list[str] = field(default_factory=list)
    warmed: Pair | None = None
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(5))

    def base_lacks(self, keys: list[str]) -> set[str]:
        self.asked = list(keys)  # the last call: the keys judge_against pairs
        return set()

    def _arm(self, arm: str, keys: list[str]) -> ArmRun:
        return ArmRun(arm, {k: math.exp(self.rng.normal(0, 0.005)) * (
            1 + self.effects.get(k, 0.0) if arm == "head" else 1.0) for k in keys}, 1.0)  # type: ignore[arg-type]

    def measure(self, keys: list[str], count: int) -> list[Pair]:
        return [Pair(self._arm("base", keys), self._arm("head", keys), i % 2 == 0, i // 2)
                for i in range(count)]

    def finished(self, family: PairedFamily) -> None:
        pass


def judged(factors: list[float], screen: bool, model: NoiseModel = CALM, seed: int = 3,
           ) -> tuple[list[ResultRecord], Recorder, dict]:
    rng = np.random.default_rng(seed)
    bases = np.linspace(0.1, 0.4, len(factors))
    history = [simulate_run(rng, model, bases) for _ in range(10)]
    current = simulate_run(rng, model, bases, np.array(factors))
    records = run_records(current)
    effects = {r.key: f - 1 for r, f in zip(records, factors, strict=True)}
    pairing = Recorder(PairPolicy(screen=screen), effects)
    histories = histories_from_runs(history)
    Judge(Thresholds(), {}, pairing=pairing).judge(
        records, Comparison("sim", histories, []), RunContext(current.control.tolist(), 30),
        None)
    return records, pairing, histories


def test_by_default_every_timing_test_is_paired_even_with_a_history() -> None:
    records, pairing, _ = judged([1.0, 1.0, 1.3, 1.0], screen=False)
    assert sorted(pairing.asked) == sorted(r.key for r in records)
    assert [r.verdict.status for r in records] == ["unchanged", "unchanged", "regression",
                                                   "unchanged"]
    assert all(r.verdict.extra.get("process_pairs") for r in records)


def test_with_the_screen_what_the_history_clears_is_never_paired() -> None:
    records, pairing, _ = judged([1.0, 1.0, 1.3, 1.0], screen=True)
    slowed = records[2].key
    assert pairing.asked == [slowed]
    assert records[2].verdict.status == "regression"
    assert records[2].verdict.extra["screened"] is True
    for r in (records[0], records[1], records[3]):
        assert r.verdict.status == "unchanged" and r.verdict.extra["paired"] is False
        assert r.verdict.reason.startswith("history screen, never paired")


def test_a_suspect_the_run_alone_cannot_prove_is_paired_not_cleared() -> None:
    noisy = replace(CALM, process_sd=0.05)
    records, pairing, histories = judged([1.0] * 6 + [1.15], screen=True, model=noisy, seed=2)
    slowed = records[-1]
    # It is borderline: a loose-screen suspect that the history-mode rules, on this run
    # alone, would call unchanged.
    policy = policy_of(Thresholds())
    inputs = [TimingInput(r.key, r.kind, float(r.value), tuple(r.samples), 0.10)
              for r in records]
    s1 = stage1(inputs, histories, None, policy)
    candidate = next(c for c in s1.candidates if c.key == slowed.key)
    assert candidate.suspect(policy.screen_p)
    alone = decide(s1, replace(policy, fail_closed=False), confirmed=False, failed=None)
    assert alone[slowed.key].status == "unchanged"
    assert pairing.asked == [slowed.key]
    assert slowed.verdict.status == "regression"  # the pairs see the +15%
