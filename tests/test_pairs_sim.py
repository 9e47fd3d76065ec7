"""The side-by-side calibration: the pair-noise fit (calibrate/pairs_fit.py), sessions through
the real judge (calibrate/pairs_sim.py), and the real series' files (calibrate/pairs_real.py).

Every simulation is seeded, so each outcome is fixed; the fit's margins are several of its
standard errors at the pair counts used.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pytest_vidbench.calibrate.pairs_fit import PairNoise, fit_pairs, read_pairs
from pytest_vidbench.calibrate.pairs_real import make_head, outcomes, summarize_log
from pytest_vidbench.calibrate.pairs_sim import Scenario, _Machine, session, tally
from pytest_vidbench.calibrate.synthetic import NoiseModel
from pytest_vidbench.gate.side_by_side import PairPolicy

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT / "docs" / "traces" / "side-by-side-2026-12-07"
KNOWN = PairNoise(machine=0.05, models={"a[fp32]::latency": 0.03, "b[fp32]::latency": 0.08},
                  control=0.04, shared=0.04, period=0.02, drift=0.0, process_seconds=10.0)


def test_the_fit_recovers_the_noise_it_was_drawn_from() -> None:
    machine = _Machine(KNOWN, {}, seed=4)
    pairs = machine.measure(sorted(KNOWN.models), 800)
    fitted = fit_pairs([pairs])
    assert fitted.pairs == 800
    assert fitted.machine == pytest.approx(0.05, rel=0.2)
    assert fitted.control == pytest.approx(0.04, rel=0.2)
    assert fitted.shared == pytest.approx(0.04, rel=0.3)
    for key, sd in KNOWN.models.items():
        assert fitted.models[key] == pytest.approx(sd, abs=0.01)  # what is left: less exact
    assert fitted.period == pytest.approx(0.02, abs=0.006)
    assert fitted.process_seconds == 10.0 and fitted.failure == 0.0


def test_the_committed_a_a_run_fits() -> None:
    fitted = fit_pairs(read_pairs([TRACES / "aa-1.json"]))
    assert fitted.pairs == 24 and len(fitted.models) == 7
    assert all(0 < sd < 0.3 for sd in fitted.models.values())
    assert 0 < fitted.machine < 0.3 and 15 < fitted.process_seconds < 60


def test_a_a_sessions_name_nothing_and_a_large_slowdown_is_caught() -> None:
    policy = PairPolicy()
    aa = tally(KNOWN, Scenario("A/A"), policy, 40, seed=1)
    assert aa.false_alarms == 0 and aa.wrongly_named == 0
    slow = session(KNOWN, Scenario("+60%", {"b[fp32]::latency": 0.6}), policy, seed=2)
    assert slow.verdicts == {"a[fp32]::latency": "unchanged", "b[fp32]::latency": "regression"}
    # Futility for a, success for b at look 2: 16 analysed pairs, 2 + 32 processes.
    assert slow.pairs == 16 and slow.processes == 34
    assert set(slow.detectable) == set(KNOWN.models)


def test_halves_that_keep_failing_are_retried_then_judged_incomparable() -> None:
    broken = PairNoise(**{**KNOWN.__dict__, "failure": 1.0})
    out = session(broken, Scenario("A/A"), PairPolicy(), seed=3)
    assert set(out.verdicts.values()) == {"incomparable"}
    assert out.processes % 3 == 0  # every half tried 1 + RETRIES times


def test_with_a_history_the_whole_judge_screens_first() -> None:
    calm = NoiseModel(cv=0.01, outliers=0.0, drift=0.0, slow_probability=0.0, process_sd=0.01)
    policy = PairPolicy()
    aa = session(KNOWN, Scenario("A/A", {}, calm), policy, seed=5)
    assert aa.pairs == 0 and set(aa.verdicts.values()) == {"unchanged"}
    slow = session(KNOWN, Scenario("+40%", {"b[fp32]::latency": 0.4}, calm), policy, seed=5)
    assert slow.verdicts["b[fp32]::latency"] == "regression" and slow.pairs > 0


def test_the_real_series_files_are_read() -> None:
    found = outcomes(TRACES / "series" / "unchanged-s10.json")
    assert len(found) == 7 and {o.status for o in found.values()} <= {"unchanged", "regression",
                                                                      "suspicious"}
    assert all(o.pairs >= 8 and o.look >= 1 for o in found.values())
    table = summarize_log(TRACES / "series.jsonl")
    assert "| unchanged |" in table and "ltx-tiny" in table


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()


def test_the_slowed_head_is_a_commit_on_top_of_base(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "benchmarks").mkdir(parents=True)
    (repo / "benchmarks" / "test_x.py").write_text("def test_x():\n    pass\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    base = _git(repo, "rev-parse", "HEAD")
    head = make_head(repo, base, tmp_path / "head", "ltx-tiny:2:0.33")
    assert head != base and _git(tmp_path / "head", "rev-parse", "HEAD^") == base
    conftest = (tmp_path / "head" / "benchmarks" / "conftest.py").read_text()
    assert "slowdown.apply(config, 'ltx-tiny:2:0.33')" in conftest
    assert not _git(tmp_path / "head", "status", "--porcelain")  # a clean tree: not dirty
    assert make_head(repo, base, tmp_path / "aa", None) == base


def test_the_fit_skips_failed_halves_and_counts_them() -> None:
    flaky = PairNoise(**{**KNOWN.__dict__, "failure": 0.3})
    pairs = _Machine(flaky, {}, seed=6).measure(sorted(KNOWN.models), 400)
    fitted = fit_pairs([pairs])
    assert fitted.pairs == sum(p.base.ok and p.head.ok for p in pairs) < 400
    assert fitted.failure == pytest.approx(0.3, abs=0.05)
    assert fitted.machine == pytest.approx(0.05, rel=0.25)


@pytest.mark.parametrize(("df", "low", "high"), [(6.0, 5.0, 15.0), (float("inf"), 15.0, None)])
def test_the_fit_finds_the_tails_of_the_components(df: float, low: float,
                                                   high: float | None) -> None:
    tailed = PairNoise(**{**KNOWN.__dict__, "df": df})
    fitted = fit_pairs([_Machine(tailed, {}, seed=8).measure(sorted(KNOWN.models), 4000)])
    assert fitted.df >= low and (high is None or fitted.df <= high)
