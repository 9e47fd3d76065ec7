"""The gate's verdicts, as specifications (gate/confirm.py describes the procedure)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_vidbench.calibrate.synthetic import NoiseModel, false_alarm_rate
from pytest_vidbench.config import Thresholds
from pytest_vidbench.gate.confirm import ConfirmationFailed
from pytest_vidbench.gate.history import PastRun, stable_start
from pytest_vidbench.gate.history import TestHistory as History
from pytest_vidbench.gate.judge import Comparison, Judge
from pytest_vidbench.gate.memory import judge_memory
from pytest_vidbench.gate.quality import judge_fidelity_paired, judge_quality
from pytest_vidbench.quality.metrics import FLICKER, PSNR
from pytest_vidbench.records import FreshRun, ResultRecord, RunContext
from pytest_vidbench.records.pairs import PairedFidelity

SEVERITY = {"improvement": 0, "unchanged": 1, "suspicious": 2, "regression": 3}
CONTROL = 0.02


def key(i: int) -> str:
    return f"b{i}[fp32]::latency"


def record(i: int, value: float) -> ResultRecord:
    return ResultRecord(test_id=f"t::b{i}", model=f"b{i}", variant="fp32", metric="latency",
                        kind="latency", unit="s", value=value,
                        samples=[value * f for f in (0.98, 0.99, 1.0, 1.01, 1.02)])


def histories(values: list[list[float]], controls: list[float] | None = None
              ) -> dict[str, History]:
    """values[i][r]: model i in past run r; runs of one index share a date (one process)."""
    n = len(values[0])
    controls = controls or [CONTROL] * n
    return {key(i): History("latency", tuple(
        PastRun(v, f"2026-01-01T00:00:{r:02}", control=controls[r]) for r, v in enumerate(row)),
        samples=(row[-1],) * 5) for i, row in enumerate(values)}


def noisy(rng: np.random.Generator, models: int = 6, runs: int = 10, sd: float = 0.03
          ) -> list[list[float]]:
    return [list(0.2 * np.exp(rng.normal(0, sd, size=runs))) for _ in range(models)]


def fresh_source(factors: dict[int, float], base: float = 0.2, control: float = CONTROL,
                 fail: str | None = None):
    calls: list[list[str]] = []

    def remeasure(suspects: list[str], refs: list[str]) -> FreshRun:
        if fail:
            raise ConfirmationFailed(fail)
        calls.append(suspects)
        wanted = [*suspects, *refs]
        jitter = 1 + 0.002 * (len(calls) % 3 - 1)
        return FreshRun({k: base * factors.get(int(k[1:k.index("[")]), 1.0) * jitter
                         for k in wanted}, control, 6)

    remeasure.calls = calls  # type: ignore[attr-defined]
    return remeasure


def judge(currents: list[float], past: dict[str, History], control: float = CONTROL,
          remeasure=None) -> list[str]:
    records = [record(i, v) for i, v in enumerate(currents)]
    context = RunContext(control_samples=[control] * 3, calls=30)
    Judge(Thresholds(), {}).judge(records, Comparison("k", past, []), context, remeasure)
    return [r.verdict.status for r in records]


families = st.integers(0, 10_000).map(np.random.default_rng)


@settings(max_examples=40, deadline=None)
@given(families, st.floats(0.5, 2.0), st.floats(0.01, 100))
def test_multiplying_every_latency_by_a_constant_changes_no_verdict(rng, slowdown, c):
    past = noisy(rng)
    now = [0.2 * slowdown] + [0.2] * 5
    scaled = {k: History("latency", tuple(PastRun(r.value * c, r.date, control=r.control * c)
                                              for r in t.runs)) for k, t in histories(past).items()}
    assert judge(now, histories(past)) == judge([v * c for v in now], scaled, CONTROL * c)


@settings(max_examples=40, deadline=None)
@given(families, st.floats(1.0, 2.0), st.floats(0.0, 0.5))
def test_a_larger_slowdown_is_never_judged_less_severe(rng, slowdown, extra):
    past = histories(noisy(rng))
    small = judge([0.2 * slowdown] + [0.2] * 5, past)[0]
    large = judge([0.2 * (slowdown + extra)] + [0.2] * 5, past)[0]
    assert SEVERITY[large] >= SEVERITY[small]


def test_a_slowdown_confirmed_by_fresh_processes_on_their_own_is_a_regression():
    past = histories(noisy(np.random.default_rng(0)))
    remeasure = fresh_source({0: 1.4})
    assert judge([0.28] + [0.2] * 5, past, remeasure=remeasure) == ["regression"] + \
        ["unchanged"] * 5
    assert remeasure.calls and all(calls == [key(0)] for calls in remeasure.calls)


def test_a_slowdown_the_fresh_processes_do_not_show_is_not_a_regression():
    past = histories(noisy(np.random.default_rng(0)))
    records = [record(i, v) for i, v in enumerate([0.3] + [0.2] * 5)]
    remeasure = fresh_source({})
    Judge(Thresholds(), {}).judge(records, Comparison("k", past, []),
                                  RunContext([CONTROL] * 3, 30), remeasure)
    assert records[0].verdict.status == "unchanged"
    assert "did not show the slowdown again" in records[0].verdict.reason
    assert len(remeasure.calls) == 1  # futility: one fresh process was enough to tell


def test_a_confirmation_that_cannot_run_fails_closed():
    past = histories(noisy(np.random.default_rng(0)))
    records = [record(i, v) for i, v in enumerate([0.4] + [0.2] * 5)]
    Judge(Thresholds(), {}).judge(records, Comparison("k", past, []),
                                  RunContext([CONTROL] * 3, 30),
                                  fresh_source({}, fail="the child ran out of memory"))
    assert records[0].verdict.status == "regression"
    assert "could not be confirmed" in records[0].verdict.reason
    assert "out of memory" in records[0].verdict.reason


def test_a_whole_process_running_slow_is_not_a_regression():
    past = histories(noisy(np.random.default_rng(1)))
    # Raw +46% everywhere, control too: said (suspicious, "a loaded machine"), never failed.
    assert judge([0.2 * 1.46] * 6, past, CONTROL * 1.46, fresh_source({})) == \
        ["suspicious"] * 6


def test_a_fast_process_does_not_hide_one_model_slowing():
    # Hole 2: every model and the control 19% fast, one model +30% on top.
    past = histories(noisy(np.random.default_rng(2)))
    now = [0.2 * 0.81 * 1.3] + [0.2 * 0.81] * 5
    statuses = judge(now, past, CONTROL * 0.81, fresh_source({0: 1.3}, 0.2 * 0.81, CONTROL * 0.81))
    assert statuses == ["regression"] + ["unchanged"] * 5


def test_a_slowdown_shared_by_a_third_of_the_models_names_each_of_them():
    past = histories(noisy(np.random.default_rng(3)))
    factors = {0: 1.3, 1: 1.3}
    now = [0.2 * factors.get(i, 1.0) for i in range(6)]
    assert judge(now, past, remeasure=fresh_source(factors)) == ["regression"] * 2 + \
        ["unchanged"] * 4


def test_a_slowdown_shared_by_half_the_models_names_each_of_them():
    # The run's heterogeneity comes from the unsuspected half only (gate/decide.py).
    past = histories(noisy(np.random.default_rng(3)))
    factors = {0: 1.3, 1: 1.3, 2: 1.3}
    now = [0.2 * factors.get(i, 1.0) for i in range(6)]
    assert judge(now, past, remeasure=fresh_source(factors)) == ["regression"] * 3 + \
        ["unchanged"] * 3


def test_a_slowdown_every_model_shares_is_caught_by_the_control_workload():
    past = histories(noisy(np.random.default_rng(7)))
    factors = dict.fromkeys(range(6), 1.3)
    assert judge([0.26] * 6, past, remeasure=fresh_source(factors)) == ["regression"] * 6


def test_a_step_after_a_speed_up_is_judged_against_the_newest_level():
    rng = np.random.default_rng(4)
    runs = [list(0.2 * np.exp(rng.normal(0, 0.02, size=10))) for _ in range(6)]
    runs[0] = [v * (0.8 if r >= 5 else 1.0) for r, v in enumerate(runs[0])]  # −20% at run 5
    assert stable_start([math.log(v) for v in runs[0]], 0.03) == 5
    now = [0.2 * 0.8 * 1.15] + [0.2] * 5
    assert judge(now, histories(runs), remeasure=fresh_source({0: 0.8 * 1.15}))[0] == \
        "regression"


def test_a_short_history_can_be_suspicious_but_never_a_regression():
    past = histories([[0.2]] * 6)
    assert judge([0.5] + [0.2] * 5, past)[0] == "suspicious"


def test_no_history_is_new_and_another_environment_is_incomparable():
    records = [record(0, 0.2)]
    Judge(Thresholds(), {}).judge(records, Comparison("k", {}, []), RunContext(), None)
    assert records[0].verdict.status == "new"
    comparison = Comparison("cpu-a-torch2.13", None, ["cuda-h100-torch2.13"])
    Judge(Thresholds(), {}).judge(records, comparison, RunContext(), None)
    assert records[0].verdict.status == "incomparable"
    assert "cuda-h100-torch2.13" in records[0].verdict.reason


def test_family_wise_false_alarms_stay_within_the_bound_on_null_data():
    rate = false_alarm_rate(NoiseModel(), checks=7, history=10, sessions=60)
    assert rate <= 0.01 + 3 * math.sqrt(0.01 * 0.99 / 60)


@given(st.floats(1e6, 1e10))
def test_memory_with_a_zero_variance_history_still_alerts(base):
    assert judge_memory(base * 1.10 + 32 * 2**20, base, 0.01, 16 * 2**20).status == "regression"
    assert judge_memory(base, base, 0.01, 16 * 2**20).status == "unchanged"


def test_memory_is_flagged_beyond_the_larger_tolerance():
    mib = 2**20
    assert judge_memory(110 * mib, 100 * mib, 0.01, 16 * mib).status == "unchanged"  # +10 MiB
    assert judge_memory(4020 * mib, 4000 * mib, 0.01, 16 * mib).status == "unchanged"  # +0.5%
    assert judge_memory(40_700 * mib, 40_000 * mib, 0.01, 16 * mib).status == "regression"
    assert judge_memory(4200 * mib, 4000 * mib, 0.01, 16 * mib).status == "regression"
    assert judge_memory(3800 * mib, 4000 * mib, 0.01, 16 * mib).status == "improvement"


def test_quality_is_paired_by_prompt_and_seed_and_direction_aware():
    base = {"p0/s0": 0.95, "p1/s0": 0.90}
    assert judge_quality(FLICKER, {"p0/s0": 0.95, "p1/s0": 0.90}, base).status == "unchanged"
    assert judge_quality(FLICKER, {"p0/s0": 0.90, "p1/s0": 0.85}, base).status == "regression"
    assert judge_quality(FLICKER, {"p0/s0": 0.99, "p1/s0": 0.95}, base).status == "improvement"
    # Only pairs present in both runs count.
    assert judge_quality(FLICKER, {"p9/s9": 0.1}, base).status == "new"


def test_fidelity_is_judged_against_its_floor():
    assert judge_quality(PSNR, {"p0/s0": 100.0}, {}).status == "unchanged"
    verdict = judge_quality(PSNR, {"p0/s0": 100.0, "p1/s0": PSNR.floor - 1}, {})
    assert verdict.status == "regression"
    assert verdict.limit == pytest.approx(PSNR.floor)



@pytest.mark.parametrize("accept", [False, True])
def test_side_by_side_fidelity_judges_heads_frames_against_bases(accept):
    floor = PSNR.floor
    same = judge_fidelity_paired(PSNR, PairedFidelity({"p0/s0": 100.0}, {"p0/s0": 100.0}),
                                 accept)
    assert same.status == "unchanged" and same.extra["aa_worst"] == 100.0
    changed = judge_fidelity_paired(
        PSNR, PairedFidelity({"p0/s0": 100.0, "p1/s0": floor - 1}, {"p0/s0": 100.0}), accept)
    assert changed.status == ("new" if accept else "regression")
    assert changed.extra.get("accepted_change", False) is accept
    assert "--vidbench-accept-output-change" in changed.reason
    # Head's own two processes already differ beyond the floor: no verdict either way.
    noisy = judge_fidelity_paired(
        PSNR, PairedFidelity({"p0/s0": floor - 5}, {"p0/s0": floor - 2}), accept)
    assert noisy.status == "incomparable" and "own two processes" in noisy.reason
    missing = judge_fidelity_paired(PSNR, PairedFidelity(problem="base's process failed: x"),
                                    accept)
    assert missing.status == "incomparable" and "base's process failed" in missing.reason

def test_the_drift_threshold_lets_a_step_it_explains_pass_and_never_names_untouched_models():
    from dataclasses import replace

    past = histories(noisy(np.random.default_rng(0)))

    def statuses(drift: float) -> list[str]:
        records = [record(i, v) for i, v in enumerate([0.25] + [0.2] * 5)]
        context = RunContext(control_samples=[CONTROL] * 3, calls=30)
        Judge(replace(Thresholds(), drift=drift), {}).judge(
            records, Comparison("k", past, []), context, fresh_source({0: 1.25}))
        return [r.verdict.status for r in records]

    assert statuses(0.0)[0] == "regression"
    # a +25% step is what a model drifting with an SD of 15% reaches by chance
    assert statuses(0.15)[0] != "regression"
    for drift in (0.0, 0.02, 0.05, 0.15):
        assert all(s != "regression" for s in statuses(drift)[1:])
