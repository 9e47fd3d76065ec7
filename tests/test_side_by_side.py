"""The paired judge (gate/side_by_side.py) on pairs whose truth is known.

Pairs are drawn from a seeded generator: every test is deterministic, and the effects are
many standard errors from the thresholds, so no outcome depends on the draw.
"""

from __future__ import annotations

import json
import math
import random

import pytest

from pytest_vidbench.gate.pair_views import BOTH, CONTROL, PEERS, RAW, differences
from pytest_vidbench.gate.paired import look_levels, pairs_needed
from pytest_vidbench.gate.side_by_side import (
    PairedFamily,
    PairedTest,
    PairingFailed,
    PairPolicy,
    judge_pairs,
)
from pytest_vidbench.records.pairs import ArmRun, Pair, SideBySide
from pytest_vidbench.report.format import format_change
from pytest_vidbench.report.paired import control_warning

KEYS = ["a[fp32]::latency", "b[fp32]::latency", "c[fp32]::latency"]


class Pairs:
    """A MeasurePairs: head = base × (1 + effect), with a per-process log noise `sd`."""

    def __init__(self, effects: dict[str, float], sd: float = 0.02, seed: int = 0,
                 head: dict | None = None, base: dict | None = None, control: float = 0.0,
                 speed_sd: float = 0.2) -> None:
        self.effects, self.sd, self.rng = effects, sd, random.Random(seed)
        self.control, self.speed_sd = control, speed_sd  # head's control × (1 + control)
        self.head_run, self.base_run = head or {}, base or {}
        self.calls: list[int] = []
        self.blocks = 0

    def _arm(self, arm: str, effect: bool) -> ArmRun:
        speed = self.rng.gauss(0, self.speed_sd)  # the whole process: its models and control
        values = {k: math.exp(speed + self.rng.gauss(0, self.sd)
                              + (math.log1p(self.effects.get(k, 0.0)) if effect else 0.0))
                  for k in self.effects}
        overrides = self.head_run if arm == "head" else self.base_run
        control = math.exp(speed + (math.log1p(self.control) if effect else 0.0))
        return ArmRun(arm, values, control, **overrides)  # type: ignore[arg-type]

    def __call__(self, keys: list[str], count: int) -> list[Pair]:
        self.calls.append(count)
        out = []
        for _ in range(count // 2):
            for base_first in (True, False):
                out.append(Pair(self._arm("base", False), self._arm("head", True), base_first,
                                self.blocks))
            self.blocks += 1
        return out


def _family(min_effect: float = 0.10, keys: list[str] = KEYS) -> PairedFamily:
    return PairedFamily([PairedTest(k, min_effect) for k in keys])


def _status(family: PairedFamily) -> dict[str, str]:
    return {t.key: t.verdict.status for t in family.tests if t.verdict}


def test_a_large_slowdown_is_a_regression_at_the_second_look_not_the_first() -> None:
    family = _family()
    measure = Pairs({KEYS[0]: 0.5, KEYS[1]: 0.0, KEYS[2]: 0.0})
    judge_pairs(family, measure, PairPolicy())
    status = _status(family)
    assert status == {KEYS[0]: "regression", KEYS[1]: "unchanged", KEYS[2]: "unchanged"}
    slow = family.tests[0]
    assert slow.look == 2 and slow.verdict.extra["process_pairs"] == 16
    assert slow.verdict.change_pct == pytest.approx(50, abs=3)
    low, high = slow.verdict.extra["change_interval_pct"]
    assert low < 50 < high
    # The unchanged ones stopped for futility at the first look: 8 pairs, "at most" < 10%.
    for t in family.tests[1:]:
        assert t.look == 1 and t.verdict.extra["at_most_pct"] < 10
        assert "at most" in t.verdict.reason
    assert measure.calls == [8, 8]


def test_a_significant_change_below_the_minimum_effect_does_not_fail() -> None:
    family = _family(min_effect=0.10, keys=KEYS[:1])
    judge_pairs(family, Pairs({KEYS[0]: 0.06}, sd=0.005), PairPolicy())
    (t,) = family.tests
    assert t.verdict.status == "unchanged"
    assert "below the minimum effect" in t.verdict.reason


def test_what_the_budget_cannot_decide_is_suspicious() -> None:
    # +10% with a 20% pair noise: neither significant nor ruled out after 24 pairs.
    family = _family(keys=KEYS[:1])
    judge_pairs(family, Pairs({KEYS[0]: 0.10}, sd=0.2, seed=5), PairPolicy())
    (t,) = family.tests
    assert t.verdict.status == "suspicious" and t.verdict.extra["process_pairs"] == 24
    assert "undecided after 24 pairs" in t.verdict.reason
    extra = t.verdict.extra
    assert extra["detectable_pct"] > 10 and "blind_spot" in extra
    # One pair's SD is the two processes' own noise: 0.2 · √2 ≈ 28% drawn here.
    assert 15 < extra["pair_sd_pct"] < 45
    final = look_levels(0.01, (8, 16, 24))[-1]  # the design's last look, one test
    need = pairs_needed(extra["pair_sd_pct"] / 100, math.log1p(0.10), final)
    assert extra["pairs_for_min_effect"] == need > 24
    assert extra["blind_spot"].endswith(f"needs about {need} pairs on this machine")


def test_a_head_crash_beside_a_base_that_ran_is_an_error_not_a_dropped_pair() -> None:
    family = _family(keys=KEYS[:1])
    judge_pairs(family, Pairs({KEYS[0]: 0.0}, head={"error": "exited -11"}), PairPolicy())
    assert family.tests[0].verdict.status == "error"
    assert "exited -11" in family.tests[0].verdict.reason


def test_a_head_timeout_is_a_regression() -> None:
    family = _family(keys=KEYS[:1])
    judge_pairs(family, Pairs({KEYS[0]: 0.0}, head={"error": "ran past 120 s",
                                                    "timed_out": True}), PairPolicy())
    assert family.tests[0].verdict.status == "regression"
    assert "time limit" in family.tests[0].verdict.reason


def test_a_base_failure_never_fails_the_gate() -> None:
    family = _family(keys=KEYS[:1])
    judge_pairs(family, Pairs({KEYS[0]: 0.5}, base={"error": "exited 1"}), PairPolicy())
    verdict = family.tests[0].verdict
    assert verdict.status == "incomparable" and "base could not be measured" in verdict.reason


def test_pairs_that_stop_coming_leave_the_open_tests_undecided() -> None:
    def failing(keys: list[str], count: int) -> list[Pair]:
        raise PairingFailed("base keeps failing")

    family = _family(keys=KEYS[:1])
    judge_pairs(family, failing, PairPolicy())
    verdict = family.tests[0].verdict
    assert verdict.status == "incomparable" and "base keeps failing" in verdict.reason


def test_the_control_view_removes_what_the_whole_process_shares() -> None:
    measure = Pairs({KEYS[0]: 0.0}, sd=0.0)
    pairs = measure([KEYS[0]], 8)
    raw, _ = differences(pairs, KEYS[0], RAW)
    control, orders = differences(pairs, KEYS[0], CONTROL)
    assert max(abs(d) for d in raw) > 0.05  # the processes' own speeds
    assert max(abs(d) for d in control) < 1e-9
    assert orders == [True, False] * 4


def test_the_peers_view_is_a_double_difference_against_the_references() -> None:
    measure = Pairs({KEYS[0]: 0.2, KEYS[1]: 0.0, KEYS[2]: 0.0}, sd=0.0)
    pairs = measure(KEYS, 4)
    peers, _ = differences(pairs, KEYS[0], PEERS, KEYS)
    assert all(d == pytest.approx(math.log(1.2)) for d in peers)
    none, _ = differences(pairs, KEYS[0], PEERS, KEYS[:2])  # one reference is too few
    assert none == []


def test_with_every_test_paired_peers_are_the_other_paired_tests() -> None:
    # No fixed references: each test's d less the median of the other tests' own d. The
    # process speed (shared by every model, 20% here) cancels; the slowed test stands out.
    family = _family()
    judge_pairs(family, Pairs({KEYS[0]: 0.3, KEYS[1]: 0.0, KEYS[2]: 0.0}),
                PairPolicy(view=PEERS))
    assert _status(family) == {KEYS[0]: "regression", KEYS[1]: "unchanged",
                               KEYS[2]: "unchanged"}
    assert family.tests[0].verdict.extra["view"] == PEERS


def test_holm_over_the_family_recycles_alpha_once_a_test_is_rejected() -> None:
    # Two clear regressions: both are rejected at the same look, the second at α/(m − 1).
    family = _family()
    judge_pairs(family, Pairs({KEYS[0]: 0.5, KEYS[1]: 0.4, KEYS[2]: 0.0}), PairPolicy())
    a, b, _ = family.tests
    assert a.verdict.status == b.verdict.status == "regression"
    levels = sorted([a.verdict.extra["decision_alpha"], b.verdict.extra["decision_alpha"]])
    looks = PairPolicy().looks
    assert levels == pytest.approx([look_levels(0.01 / 3, looks)[1],
                                    look_levels(0.01 / 2, looks)[1]])


def test_the_controls_own_change_is_estimated_from_the_pairs() -> None:
    # Head runs the control 20% faster (a global setting such as TF32) and no model changes:
    # ÷ control every model reads +25%, which the pairs alone cannot tell from a regression,
    # but the control's own head/base can (report/paired.py `control_warning` says so).
    family = _family()
    judge_pairs(family, Pairs(dict.fromkeys(KEYS, 0.0), control=-0.2, speed_sd=0.01),
                PairPolicy())
    assert set(_status(family).values()) == {"regression"}
    assert family.control is not None
    assert math.expm1(family.control.delta) == pytest.approx(-0.2, abs=0.02)
    assert family.control.p_better < 1e-6
    same = _family()
    judge_pairs(same, Pairs(dict.fromkeys(KEYS, 0.0), speed_sd=0.01), PairPolicy())
    assert same.control is not None and abs(math.expm1(same.control.delta)) < 0.02
    assert set(_status(same).values()) == {"unchanged"}


def _trees(change: float | None, p: float | None) -> SideBySide:
    s = SideBySide("main", "b" * 40, "h" * 40, control_change_pct=change, control_p=p)
    return SideBySide.from_json(json.loads(json.dumps(s.to_json())))  # as a results file


def test_a_moved_control_is_warned_about_in_the_report_and_a_steady_one_is_not() -> None:
    [warning] = control_warning(_trees(-20.0, 1e-7))
    assert format_change(-20.0) in warning and "--vidbench-pair-view raw" in warning
    assert control_warning(_trees(1.0, 0.4)) == []  # an A/A run
    assert control_warning(_trees(-2.0, 1e-9)) == []  # significant, too small to matter
    assert control_warning(_trees(-20.0, 0.05)) == []  # large, not significant
    assert control_warning(_trees(None, None)) == []  # too few pairs, or an older file
    assert control_warning(None) == []


def test_peers_and_control_together_catch_one_model_and_a_change_of_every_model() -> None:
    policy = PairPolicy(view=BOTH)
    one = _family()
    judge_pairs(one, Pairs({KEYS[0]: 0.3, KEYS[1]: 0.0, KEYS[2]: 0.0}), policy)
    assert _status(one) == {KEYS[0]: "regression", KEYS[1]: "unchanged", KEYS[2]: "unchanged"}
    # Two hypotheses per test, one Holm family of 2m = 6: the first rejection spends α / 6.
    slowed = one.tests[0]
    assert slowed.verdict.extra["decision_alpha"] == pytest.approx(
        look_levels(policy.alpha / 6, policy.looks, policy.spending)[slowed.look - 1])
    every = _family()
    judge_pairs(every, Pairs(dict.fromkeys(KEYS, 0.3)), policy)
    assert set(_status(every).values()) == {"regression"}
    assert {t.verdict.extra["view"] for t in every.tests} == {CONTROL}  # peers are blind here
    same = _family()
    judge_pairs(same, Pairs(dict.fromkeys(KEYS, 0.0)), policy)
    assert set(_status(same).values()) == {"unchanged"}
