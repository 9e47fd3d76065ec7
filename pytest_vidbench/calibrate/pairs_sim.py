"""Side-by-side sessions simulated through the real paired judge (gate/side_by_side.py).

The table of docs/side-by-side.md: `python -m pytest_vidbench.calibrate.pairs_table`.

Each simulated process draws its times from the noise fitted to real A/A pairs
(calibrate/pairs_fit.py): the process's own speed U, each model's own offset E, a period
effect for the second process of a pair, Student-t tails, a random-walk drift of every model
and of the machine over the session's minutes, and failed halves rerun in their slot (the
schedule's RETRIES). The pairs come in seeded ABBA / BAAB blocks after a warm-up pair, as in
measure/schedule.py, and `judge_pairs` decides them exactly as in a run. With a history and
`--vidbench-pair-screen`, the whole `Judge` runs as in such a run: a history and the run's
own process are drawn from the history-mode noise model (calibrate/synthetic.py, fitted as
`python -m pytest_vidbench.calibrate` fits it, per-model drift since the history included),
the history screen clears what it clears, and the suspects are paired.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from pytest_vidbench.calibrate.pairs_fit import PairNoise
from pytest_vidbench.calibrate.synthetic import (
    NoiseModel,
    histories_from_runs,
    run_records,
    simulate_run,
)
from pytest_vidbench.config import Thresholds
from pytest_vidbench.gate.judge import Comparison, Judge
from pytest_vidbench.gate.side_by_side import PairedFamily, PairedTest, PairPolicy, judge_pairs
from pytest_vidbench.measure.schedule import RETRIES
from pytest_vidbench.records import RunContext
from pytest_vidbench.records.pairs import ArmRun, Pair

MIN_EFFECT = 0.10


@dataclass(frozen=True)
class Scenario:
    name: str
    effects: dict[str, float] = field(default_factory=dict)  # key -> head's true change (0.25)
    history: NoiseModel | None = None  # None: no history, every test is paired
    history_runs: int = 10


@dataclass
class Session:
    verdicts: dict[str, str]  # key -> status ("unchanged" for what the screen cleared)
    pairs: int  # analysed pairs measured
    processes: int  # every arm process started, warm-up and retries included
    detectable: dict[str, float] = field(default_factory=dict)  # key -> "can see ≥ X%"

    def minutes(self, noise: PairNoise, parent_seconds: float) -> float:
        return (parent_seconds + self.processes * noise.process_seconds) / 60


class _Machine:
    """Draws the processes of one session, time advancing process by process."""

    def __init__(self, noise: PairNoise, effects: dict[str, float], seed: int) -> None:
        self.noise, self.effects = noise, effects
        self.rng = np.random.default_rng(seed)
        self.walks = dict.fromkeys([*noise.models, "<control>", "<machine>"], 0.0)
        self.processes = 0

    def _draw(self, sd: float) -> float:
        df = self.noise.df
        if sd <= 0:
            return 0.0
        if math.isinf(df):
            return float(self.rng.normal(0.0, sd))
        return float(self.rng.standard_t(df) * sd * math.sqrt((df - 2) / df))

    def _tick(self) -> None:
        step = self.noise.drift * math.sqrt(self.noise.process_seconds / 60)
        for k in self.walks:
            self.walks[k] += float(self.rng.normal(0.0, step))
        self.processes += 1

    def process(self, arm: str, keys: Sequence[str], second: bool) -> ArmRun:
        n = self.noise
        attempt = 1
        for attempt in range(1, RETRIES + 2):  # noqa: B007 (the attempts are recorded)
            self._tick()
            if self.rng.random() >= n.failure:
                break
        else:
            return ArmRun(arm, error="simulated failure", attempts=RETRIES + 1)  # type: ignore[arg-type]
        shared = self.walks["<machine>"] + self._draw(n.machine) + (n.period if second else 0.0)
        kernels = shared + self._draw(n.shared)  # the models' common code, not the control's
        values = {k: math.exp(kernels + self.walks[k] + self._draw(n.models[k])
                              + (math.log1p(self.effects.get(k, 0.0)) if arm == "head" else 0))
                  for k in keys}
        control = math.exp(shared + self.walks["<control>"] + self._draw(n.control))
        return ArmRun(arm, values, control, wall_seconds=n.process_seconds,  # type: ignore[arg-type]
                      attempts=attempt)

    def pair(self, keys: Sequence[str], base_first: bool, block: int) -> Pair:
        first = self.process("base" if base_first else "head", keys, False)
        second = self.process("head" if base_first else "base", keys, True)
        base, head = (first, second) if base_first else (second, first)
        return Pair(base, head, base_first, block)

    def measure(self, keys: list[str], count: int) -> list[Pair]:
        pairs: list[Pair] = []
        while len(pairs) < count:
            block = len(pairs) // 2
            abba = self.rng.random() < 0.5
            pairs += [self.pair(keys, first, block) for first in ((True, False) if abba
                                                                   else (False, True))]
        return pairs


@dataclass
class _Pairing:
    """The judge's `Pairing` (gate/against.py), on simulated processes."""

    policy: PairPolicy
    machine: _Machine
    family: PairedFamily | None = None
    warmed: Pair | None = None

    def base_lacks(self, keys: list[str]) -> set[str]:
        if self.warmed is None:  # the warm-up pair: time spent, not analysed
            self.warmed = self.machine.pair(keys, True, -1)
        return set()

    def measure(self, keys: list[str], count: int) -> list[Pair]:
        return self.machine.measure(keys, count)

    def finished(self, family: PairedFamily) -> None:
        self.family = family


def _screened(noise: PairNoise, scenario: Scenario, policy: PairPolicy, seed: int) -> Session:
    """The whole `Judge` of a side-by-side run that has a history (see the module doc)."""
    assert scenario.history is not None
    keys = sorted(noise.models)
    rng = np.random.default_rng(seed + 1)
    bases = rng.uniform(0.05, 0.5, size=len(keys))
    model = scenario.history
    runs = [simulate_run(rng, model, bases) for _ in range(scenario.history_runs)]
    factors = np.exp(rng.normal(0, model.session_drift, size=len(keys))) * np.array(
        [1 + scenario.effects.get(k, 0.0) for k in keys])
    current = simulate_run(rng, model, bases, factors)
    records = run_records(current)  # keyed b0, b1, … in the order of `keys`
    names = {r.key: k for r, k in zip(records, keys, strict=True)}
    sim = replace(noise, models={r.key: noise.models[k] for r, k in zip(records, keys,
                                                                        strict=True)})
    machine = _Machine(sim, {r.key: scenario.effects.get(k, 0.0) for r, k in
                             zip(records, keys, strict=True)}, seed)
    pairing = _Pairing(replace(policy, screen=True), machine)
    context = RunContext(current.control.tolist(), model.samples)
    Judge(Thresholds(alpha=policy.alpha), {}, pairing=pairing).judge(
        records, Comparison("sim", histories_from_runs(runs), []), context, None)
    verdicts = {names[r.key]: r.verdict.status for r in records if r.verdict}
    family = pairing.family
    detectable = {names[t.key]: d for t in (family.tests if family else [])
                  if t.verdict and isinstance(d := t.verdict.extra.get("detectable_pct"), float)}
    return Session(verdicts, len(family.pairs) if family else 0, machine.processes, detectable)


def session(noise: PairNoise, scenario: Scenario, policy: PairPolicy, seed: int) -> Session:
    if scenario.history is not None:
        return _screened(noise, scenario, policy, seed)
    keys = sorted(noise.models)
    machine = _Machine(noise, scenario.effects, seed)
    machine.pair(keys, True, -1)  # the warm-up pair: time spent, not analysed
    family = PairedFamily([PairedTest(k, MIN_EFFECT) for k in keys])
    judge_pairs(family, machine.measure, policy)
    verdicts, detectable = {}, {}
    for t in family.tests:
        assert t.verdict is not None
        verdicts[t.key] = t.verdict.status
        if isinstance(d := t.verdict.extra.get("detectable_pct"), float):
            detectable[t.key] = d
    return Session(verdicts, len(family.pairs), machine.processes, detectable)


@dataclass
class Tally:
    scenario: str
    sessions: int
    false_alarms: int  # sessions with any regression among tests left unchanged
    caught: int  # slowed tests (≥ the minimum effect) called a regression
    slowed: int
    wrongly_named: int  # tests changed by less than the minimum effect, called a regression
    minutes: list[float]
    pairs: list[int]


def tally(noise: PairNoise, scenario: Scenario, policy: PairPolicy, sessions: int,
          seed: int = 0, parent_seconds: float = 60.0) -> Tally:
    out = Tally(scenario.name, sessions, 0, 0, 0, 0, [], [])
    for i in range(sessions):
        s = session(noise, scenario, policy, seed * 1_000_003 + i)
        small = [k for k in s.verdicts if scenario.effects.get(k, 0.0) < MIN_EFFECT]
        big = [k for k in s.verdicts if scenario.effects.get(k, 0.0) >= MIN_EFFECT]
        out.false_alarms += any(s.verdicts[k] == "regression" and not scenario.effects.get(k)
                                for k in small)
        out.wrongly_named += sum(s.verdicts[k] == "regression" for k in small)
        out.caught += sum(s.verdicts[k] == "regression" for k in big)
        out.slowed += len(big)
        out.minutes.append(s.minutes(noise, parent_seconds))
        out.pairs.append(s.pairs)
    return out


def detectable_power(noise: PairNoise, policy: PairPolicy, sessions: int,
                     seed: int = 7) -> tuple[float, float]:
    """At the detectable effect an A/A session printed for one of its tests, the share of
    new sessions (fresh noise) that catch that effect; and the median printed effect (%)."""
    keys = sorted(noise.models)
    caught, printed = 0, []
    for i in range(sessions):
        key = keys[i % len(keys)]
        aa = session(noise, Scenario("A/A"), policy, seed * 1_000_003 + i)
        d = aa.detectable.get(key)
        if d is None:
            continue
        printed.append(d)
        slowed = session(noise, Scenario("at d", {key: d / 100}), policy,
                         seed * 1_000_003 + sessions + i)
        caught += slowed.verdicts[key] == "regression"
    return caught / max(len(printed), 1), float(np.median(printed)) if printed else math.nan
