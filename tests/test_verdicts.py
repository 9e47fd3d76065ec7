"""Verdict policies: properties of the timing rule, and the deterministic memory/quality rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_vidbench.calibrate.synthetic import NoiseModel, false_alarm_rate
from pytest_vidbench.config import Thresholds
from pytest_vidbench.gate.judge import Comparison, Judge
from pytest_vidbench.gate.timing import judge_memory, judge_quality
from pytest_vidbench.quality.metrics import FLICKER, PSNR
from pytest_vidbench.records import ResultRecord
from pytest_vidbench.store.baselines import BaselineEntry, BaselineFile, RunSummary

SEVERITY = {"improvement": 0, "unchanged": 1, "suspicious": 2, "regression": 3}


def latency_record(i: int, value: float, control: float = 0.02) -> ResultRecord:
    samples = [value * f for f in (0.98, 0.99, 1.0, 1.01, 1.02)]
    controls = [control * f for f in (0.99, 1.0, 1.01)]
    return ResultRecord(
        test_id=f"t::b{i}", model=f"b{i}", variant="fp32", metric="latency", kind="latency",
        unit="s", value=value, samples=samples,
        details={"control_samples": controls, "control_median": control,
                 "normalized_value": value / control},
    )


def baseline(histories: list[list[float]], control: float = 0.02) -> BaselineFile:
    tests = {}
    for i, history in enumerate(histories):
        tests[f"b{i}[fp32]::latency"] = BaselineEntry(
            model=f"b{i}", variant="fp32", metric="latency", kind="latency", unit="s",
            direction="lower",
            history=[RunSummary(value=v, date="d", normalized=v / control) for v in history],
            samples=[history[-1]] * 5, control=[control] * 3)
    return BaselineFile(path=None, environment_key="k", environment={}, tests=tests)  # type: ignore[arg-type]


def judge(currents: list[float], histories: list[list[float]], scale: float = 1.0,
          fresh: dict[str, list[tuple[float, float | None, float | None]]] | None = None
          ) -> list[str]:
    records = [latency_record(i, v * scale, 0.02 * scale) for i, v in enumerate(currents)]
    base = baseline([[h * scale for h in hist] for hist in histories], 0.02 * scale)
    remeasure = None if fresh is None else (lambda keys: {k: fresh[k] for k in keys if k in fresh})
    Judge(Thresholds(), {}).judge(records, Comparison("k", base, []), remeasure)
    return [r.verdict.status for r in records]


def noisy_history(rng: np.random.Generator, n: int, sd: float = 0.03) -> list[float]:
    return list(np.exp(rng.normal(math.log(0.2), sd, size=n)))


families = st.integers(0, 10_000).map(np.random.default_rng)


@settings(max_examples=60, deadline=None)
@given(families, st.floats(0.5, 2.0), st.floats(0.01, 100))
def test_multiplying_every_latency_by_a_constant_changes_no_verdict(rng, slowdown, c):
    histories = [noisy_history(rng, 10) for _ in range(6)]
    currents = [0.2 * slowdown] + [0.2] * 5
    assert judge(currents, histories) == judge(currents, histories, scale=c)


@settings(max_examples=60, deadline=None)
@given(families, st.floats(1.0, 1.5), st.floats(0.0, 0.5))
def test_a_larger_slowdown_is_never_judged_less_severe(rng, slowdown, extra):
    histories = [noisy_history(rng, 10) for _ in range(6)]
    rest = [0.2] * 5
    small = judge([0.2 * slowdown, *rest], histories)[0]
    large = judge([0.2 * slowdown * (1 + extra), *rest], histories)[0]
    assert SEVERITY[large] >= SEVERITY[small]


@settings(max_examples=60, deadline=None)
@given(families, st.lists(st.floats(-0.5, 0.5), min_size=6, max_size=6))
def test_regression_and_improvement_mirror_each_other(rng, log_changes):
    histories = [noisy_history(rng, 10) for _ in range(6)]
    centers = [math.exp(float(np.mean(np.log(h)))) for h in histories]
    slower = judge([c * math.exp(d) for c, d in zip(centers, log_changes, strict=True)],
                   histories)
    faster = judge([c * math.exp(-d) for c, d in zip(centers, log_changes, strict=True)],
                   histories)
    for a, b in zip(slower, faster, strict=True):
        assert (a == "regression") == (b == "improvement")
        assert (a == "improvement") == (b == "regression")


def test_a_big_slowdown_with_a_confirming_remeasurement_is_a_regression():
    rng = np.random.default_rng(0)
    histories = [noisy_history(rng, 10) for _ in range(6)]
    key = "b0[fp32]::latency"
    fresh = {key: [(0.3, 15.0, None), (0.3, 15.0, None)]}
    statuses = judge([0.3] + [0.2] * 5, histories, fresh=fresh)
    assert statuses == ["regression"] + ["unchanged"] * 5


def test_a_slowdown_that_does_not_reproduce_in_a_fresh_process_is_not_a_regression():
    rng = np.random.default_rng(0)
    histories = [noisy_history(rng, 10) for _ in range(6)]
    fresh = {"b0[fp32]::latency": [(0.2, 10.0, None), (0.2, 10.0, None)]}
    statuses = judge([0.3] + [0.2] * 5, histories, fresh=fresh)
    assert statuses[0] in ("suspicious", "unchanged")


def test_a_failed_remeasurement_never_fails_the_gate():
    rng = np.random.default_rng(0)
    histories = [noisy_history(rng, 10) for _ in range(6)]
    assert judge([0.3] + [0.2] * 5, histories, fresh={})[0] == "suspicious"


def test_a_whole_process_running_slow_is_not_a_regression():
    # Every benchmark and the control 46% slower: the slowdown of one process seen in noise.md.
    rng = np.random.default_rng(1)
    histories = [noisy_history(rng, 10) for _ in range(6)]
    records = [latency_record(i, 0.2 * 1.46, 0.02 * 1.46) for i in range(6)]
    comparison = Comparison("k", baseline(histories), [])
    Judge(Thresholds(), {}).judge(records, comparison, None)
    assert {r.verdict.status for r in records} <= {"unchanged", "suspicious"}
    assert any("control workload ran +46%" in note for note in comparison.notes)


def test_a_short_history_can_be_suspicious_but_never_a_regression():
    statuses = judge([0.5] + [0.2] * 5, [[0.2]] * 6)
    assert statuses[0] == "suspicious"
    assert "regression" not in judge([5.0] + [0.2] * 5, [[0.2, 0.2]] * 6)


def test_no_history_is_new():
    records = [latency_record(0, 0.2)]
    Judge(Thresholds(), {}).judge(records, Comparison("k", None, []), None)
    assert records[0].verdict.status == "new"


def test_another_environment_is_incomparable_with_a_warning_naming_both():
    records = [latency_record(0, 0.2)]
    comparison = Comparison("cpu-a-torch2.13", None, ["cuda-h100-torch2.13"])
    Judge(Thresholds(), {}).judge(records, comparison, None)
    assert records[0].verdict.status == "incomparable"
    (line,) = comparison.warnings()
    assert "cpu-a-torch2.13" in line and "cuda-h100-torch2.13" in line


def test_family_wise_false_alarms_stay_within_the_bound_on_null_data():
    # 60 checks, history 10, this machine's noise shape: FWER ≤ 1% (+ simulation slack).
    rate = false_alarm_rate(NoiseModel(cv=0.05), checks=60, history=10, sessions=150)
    assert rate <= 0.01 + 3 * math.sqrt(0.01 * 0.99 / 150)


@given(st.floats(1e6, 1e10))
def test_memory_with_a_zero_variance_history_still_alerts(base):
    assert judge_memory(base * 1.10 + 32 * 2**20, base, 0.02, 16 * 2**20).status == "regression"
    assert judge_memory(base, base, 0.02, 16 * 2**20).status == "unchanged"


def test_memory_needs_both_tolerances():
    mib = 2**20
    assert judge_memory(110 * mib, 100 * mib, 0.02, 16 * mib).status == "unchanged"  # +10 MiB
    assert judge_memory(4020 * mib, 4000 * mib, 0.02, 16 * mib).status == "unchanged"  # +0.5%
    assert judge_memory(4200 * mib, 4000 * mib, 0.02, 16 * mib).status == "regression"
    assert judge_memory(3800 * mib, 4000 * mib, 0.02, 16 * mib).status == "improvement"


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


def test_one_model_slowing_more_than_its_peers_is_caught_while_the_machine_drifts():
    # Per-process noise of 8% shared by all models, 3% of their own; then the whole machine
    # runs 20% slower and one model 50% slower: only that one is a regression.
    rng = np.random.default_rng(5)
    machine = np.exp(rng.normal(0, 0.08, size=10))
    histories = [list(0.2 * machine * np.exp(rng.normal(0, 0.03, size=10))) for _ in range(6)]
    # The control workload slows with the machine (without it, "every model 20% slower" is a
    # change they all share, and the control normaliser would rightly catch it).
    records = [latency_record(i, 0.2 * 1.2 * (1.5 if i == 0 else 1.0), 0.02 * 1.2)
               for i in range(6)]
    base = baseline(histories)
    for i, entry in enumerate(base.tests.values()):
        for run, summary in enumerate(entry.history):
            others = [math.log(h[run]) for j, h in enumerate(histories) if j != i]
            summary.peers = math.exp(sum(others) / len(others))
    fresh = {"b0[fp32]::latency": [(0.36, 15.0, 0.36 / 0.24), (0.36, 15.0, 0.36 / 0.24)]}
    Judge(Thresholds(), {}).judge(records, Comparison("k", base, []),
                                  lambda keys: {k: fresh[k] for k in keys if k in fresh})
    statuses = [r.verdict.status for r in records]
    assert statuses[0] == "regression"
    assert "regression" not in statuses[1:]
    assert records[0].verdict.extra["decided_on"] == "peers"  # the control ran 20% slow too


def peer_history(histories: list[list[float]], base: BaselineFile) -> None:
    for i, entry in enumerate(base.tests.values()):
        for run, summary in enumerate(entry.history):
            others = [math.log(h[run]) for j, h in enumerate(histories) if j != i]
            summary.peers = math.exp(sum(others) / len(others))


def test_a_slowdown_every_model_shares_is_caught_by_the_control_workload():
    # A shared attention kernel 30% slower in every model; the control workload is not.
    rng = np.random.default_rng(7)
    histories = [noisy_history(rng, 10) for _ in range(6)]
    base = baseline(histories)
    peer_history(histories, base)
    records = [latency_record(i, 0.2 * 1.3) for i in range(6)]
    fresh = {f"b{i}[fp32]::latency": [(0.26, 13.0, 1.0)] * 2 for i in range(6)}
    Judge(Thresholds(), {}).judge(records, Comparison("k", base, []),
                                  lambda keys: {k: fresh[k] for k in keys if k in fresh})
    assert [r.verdict.status for r in records] == ["regression"] * 6
    assert {r.verdict.extra["decided_on"] for r in records} == {"raw+control"}


def test_every_model_and_the_control_slower_together_is_not_a_regression():
    rng = np.random.default_rng(8)
    histories = [noisy_history(rng, 10) for _ in range(6)]
    base = baseline(histories)
    peer_history(histories, base)
    records = [latency_record(i, 0.2 * 1.3, 0.02 * 1.3) for i in range(6)]
    Judge(Thresholds(), {}).judge(records, Comparison("k", base, []), None)
    assert "regression" not in {r.verdict.status for r in records}
