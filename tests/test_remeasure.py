"""Suspects are re-measured in a fresh pytest process before they may fail the gate.

The injected slowdown is a 0.2–0.3 s sleep on a ~4 ms call: far beyond the noise even on a
loaded machine (3-run histories are wide there), so these
tests check the mechanism, not the statistics (those are calibrated in test_verdicts.py).
"""

from __future__ import annotations

import pytest
from plugin_project import results, write_project

from pytest_vidbench.measure.fresh import carried_options


@pytest.fixture
def project_with_history(pytester: pytest.Pytester,
                         monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # A 30 ms floor in every call: a bare toy call is ~3 ms, and on a loaded 2-core runner its
    # three-run history once spread 1.9–10.6 ms, too wide for a ×75 slowdown to be proven.
    monkeypatch.setenv("TOY_FLOOR", "0.03")
    write_project(pytester, metrics=("latency",), models=("toy", "old"), remeasure=True)
    for _ in range(3):
        pytester.runpytest("--vidbench", "--vidbench-update-baselines").assert_outcomes(passed=2)
    return pytester


@pytest.fixture
def project_with_process_history(pytester: pytest.Pytester) -> pytest.Pytester:
    """Each history run in its own process, as on CI. runpytest runs in this test process:
    three runs there share one process's own speed for each model (docs/noise.md), so the
    history's spread leaves out the offset between processes, and fresh processes, each with
    its own offset, then agree on a change that is not there (this test's old flake: +21%
    "confirmed by 6 fresh processes")."""
    write_project(pytester, metrics=("latency",), models=("toy", "old"), remeasure=True)
    for _ in range(3):
        pytester.runpytest_subprocess("--vidbench", "--vidbench-update-baselines"
                                      ).assert_outcomes(passed=2)
    return pytester


def latency_of(pytester: pytest.Pytester, model: str) -> dict:
    return next(r for r in results(pytester)["results"] if r["model"] == model)


def test_a_slowdown_confirmed_in_a_fresh_process_fails_the_gate(
        project_with_history: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TOY_SLEEP", "0.3")
    run = project_with_history.runpytest("--vidbench", "-k", "toy")
    assert run.ret == pytest.ExitCode.TESTS_FAILED
    run.stdout.fnmatch_lines(["*re-measuring in a fresh process: toy*",
                              "*REGRESSION toy [[]fp32[]] latency*", "*gate: FAILED*"])
    record = latency_of(project_with_history, "toy")
    assert record["verdict"]["status"] == "regression" and record["verdict"]["remeasured"]
    fresh = results(project_with_history)["run"]["fresh_runs"]
    assert fresh and all(f["values"]["toy[fp32]::latency"] > 0.3 for f in fresh)


def test_the_fresh_process_loads_the_plugins_of_the_command_line(
        project_with_history: pytest.Pytester):
    # A slowdown that lives in a `-p` plugin must be in the re-measured code too.
    project_with_history.makepyfile(toy_slowdown="SECONDS = 0.3\n")
    project_with_history.syspathinsert()
    run = project_with_history.runpytest("--vidbench", "-k", "toy", "-p", "toy_slowdown")
    assert run.ret == pytest.ExitCode.TESTS_FAILED
    record = latency_of(project_with_history, "toy")
    assert record["verdict"]["status"] == "regression" and record["verdict"]["remeasured"]
    fresh = results(project_with_history)["run"]["fresh_runs"]
    assert fresh and all(f["values"]["toy[fp32]::latency"] > 0.3 for f in fresh)


def test_carried_options_are_the_plugins_and_ini_overrides() -> None:
    assert carried_options(["a", "b"], ["x=1"]) == ["-p", "a", "-p", "b", "-o", "x=1"]


def test_a_slowdown_that_a_fresh_process_does_not_show_is_not_a_regression(
        project_with_process_history: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    # 50× the call: the mean of the three runs stays far out even when the machine is loaded.
    monkeypatch.setenv("TOY_SLEEP", "0.2")
    monkeypatch.setenv("TOY_SLEEP_PARENT_ONLY", "1")
    project = project_with_process_history
    run = project.runpytest("--vidbench", "-k", "toy")
    assert run.ret == pytest.ExitCode.OK
    verdict = latency_of(project, "toy")["verdict"]
    assert verdict["remeasured"]
    # Unchanged when the fresh processes show nothing; suspicious when, over the whole
    # budget, they show some slowdown but not enough: either way the gate passes.
    reason = {"unchanged": "did not show the slowdown again",
              "suspicious": "not enough to fail the gate"}[verdict["status"]]
    assert reason in verdict["reason"]
