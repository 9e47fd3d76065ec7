"""The first-run notice: no baselines on this machine, or too few runs of them."""

from __future__ import annotations

from pytest_vidbench.gate.timing import MIN_HISTORY
from pytest_vidbench.report.first_run import (
    CALIBRATED_RUNS,
    GATE_MIN_RUNS,
    RECOMMENDED_RUNS,
    first_run_lines,
    record_command,
)

ENV = "cpu-amd-epyc-9654-torch2.13"
TESTS = ("wan-tiny[fp32]::latency", "wan-tiny[fp32]::memory", "ltx-tiny[fp32]::latency")
FULL = "pytest benchmarks/ --vidbench --vidbench-update-baselines --vidbench-runs 5"


def history(*runs: int) -> dict[str, int]:
    return dict(zip(TESTS, runs, strict=True))


def test_the_constants_match_the_gate() -> None:
    assert GATE_MIN_RUNS == MIN_HISTORY
    assert GATE_MIN_RUNS < RECOMMENDED_RUNS == 5 < CALIBRATED_RUNS == 10
    assert record_command() == FULL


def test_a_new_machine_is_told_it_has_no_baselines_and_how_to_record_them() -> None:
    lines = first_run_lines(ENV, ["cpu-intel-xeon-torch2.13", ENV], history(0, 0, 0))
    text = "\n".join(lines)
    assert lines[0].startswith(f"vidbench: this machine ({ENV}) has no baselines")
    # The other machine is named, this one is not listed as "other".
    assert "1 other environment (cpu-intel-xeon-torch2.13)" in text
    assert f"record them with: {FULL}" in text
    assert "≥ 3 runs per test" in text and "5 are recommended" in text
    assert "calibrated at 10" in text


def test_no_other_environments_is_not_mentioned() -> None:
    text = "\n".join(first_run_lines(ENV, [], history(0, 0, 0)))
    assert "other environment" not in text and FULL in text


def test_shallow_baselines_say_how_many_runs_and_record_the_rest() -> None:
    lines = first_run_lines(ENV, [], history(2, 4, 6))
    assert lines[0] == (f"vidbench: this machine's baselines ({ENV}) hold only 2 runs for "
                        "2 of 3 tests; below 3 runs the gate only compares within this run, "
                        "blind to run-to-run noise")
    assert lines[1].endswith("--vidbench-update-baselines --vidbench-runs 3")


def test_one_run_is_singular_and_four_need_no_interval_warning() -> None:
    assert "hold only 1 run for" in first_run_lines(ENV, [], history(1, 5, 5))[0]
    head, command, _ = first_run_lines(ENV, [], history(4, 4, 9))
    assert head.endswith("hold only 4 runs for 2 of 3 tests")
    assert command.endswith("--vidbench-runs 1")


def test_new_tests_beside_recorded_ones_are_named_as_such() -> None:
    lines = first_run_lines(ENV, ["gpu-h100"], history(0, 7, 7))
    assert lines[0].startswith(f"vidbench: 1 of 3 tests has no baseline on this machine ({ENV})")
    assert "other environment" not in "\n".join(lines)  # this machine does have baselines
    assert lines[1].endswith(FULL)


def test_enough_runs_or_no_tests_print_nothing() -> None:
    assert first_run_lines(ENV, ["gpu-h100"], history(5, 5, 12)) == []
    assert first_run_lines(ENV, ["gpu-h100"], {}) == []


def test_a_run_on_workers_is_told_to_record_on_workers() -> None:
    """Baselines of `-n 4` are their own environment: recording them serially would not help."""
    text = "\n".join(first_run_lines(f"{ENV}-workers4", [ENV], history(0, 0, 0), workers=4))
    assert "pytest benchmarks/ --vidbench -n 4 --vidbench-update-baselines --vidbench-runs 5" \
        in text
    assert f"1 other environment ({ENV})" in text and "worker layouts" in text
