"""The calibration's own tools: the injected slowdowns and the scenario and table commands."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pytest_vidbench.calibrate import __main__ as table
from pytest_vidbench.calibrate.changepoints import rates
from pytest_vidbench.calibrate.scenarios import Scenario
from pytest_vidbench.calibrate.synthetic import NoiseModel


def test_the_shared_kernel_slowdown_keeps_results_and_is_undone(pytester, monkeypatch):
    monkeypatch.setenv("VIDBENCH_SLOWDOWN", "sdpa:3")
    original = F.scaled_dot_product_attention
    pytester.makepyfile("""
        import torch
        import torch.nn.functional as F

        def test_patched():
            assert F.scaled_dot_product_attention.__name__ == "slower"
            q = torch.randn(1, 2, 4, 8, generator=torch.Generator().manual_seed(0))
            out = F.scaled_dot_product_attention(q, q, q)
            assert out.shape == q.shape
    """)
    result = pytester.runpytest_inprocess("-p", "pytest_vidbench.calibrate.slowdown")
    result.assert_outcomes(passed=1)
    assert F.scaled_dot_product_attention is original
    q = torch.randn(1, 2, 4, 8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(original(q, q, q), F.scaled_dot_product_attention(q, q, q))


def test_a_scenario_builds_its_history_through_the_store():
    s = Scenario(np.random.default_rng(0), NoiseModel(), checks=3)
    for r in range(4):
        s.record(np.ones(3), pin="v1" if r == 1 else None)
    assert s.baseline is not None
    entry = s.baseline.tests["b0[fp32]::latency"]
    assert len(entry.history) == 4 and len(entry.anchor) == 2 and entry.anchor_label == "v1"
    status, others = s.judge(np.array([3.0, 1.0, 1.0]))
    assert status in {"regression", "suspicious"} and not others


def test_change_point_rates_are_rates():
    spurious, found = rates(0.044, 0.0, trials=50)
    assert 0 <= spurious <= 0.2 and found >= 0.8


def test_the_upper_bound_is_a_bound():
    assert table.upper_bound(0.0, 300) == 0.01
    assert 0.02 < table.upper_bound(0.02, 300) < 0.05
    assert table.upper_bound(1.0, 3) <= 1.0


def test_a_real_series_log_summarizes_per_series(tmp_path):
    import json

    from pytest_vidbench.calibrate.real import summarize_log

    log = tmp_path / "series.jsonl"
    runs = [("unchanged", 0, {"a": "unchanged", "b": "suspicious"}, 100.0),
            ("injected a", 1, {"a": "regression", "b": "unchanged"}, 300.0),
            ("injected a", 0, {"a": "suspicious", "b": "unchanged"}, 200.0)]
    log.write_text("".join(json.dumps({"series": s, "exit_code": c, "statuses": st,
                                       "seconds": t}) + "\n" for s, c, st, t in runs))
    table = summarize_log(log).splitlines()
    assert table[2] == "| unchanged | 1 | 0 | a 0/0, b 0/1 | 100 s |"
    assert table[3] == "| injected a | 2 | 1 | a 1/1, b 0/0 | 250 s |"


def test_a_fractional_repeat_spreads_the_extra_forwards_evenly():
    from pytest_vidbench.calibrate.slowdown import _Extra

    half, quarter, double = _Extra(1.5), _Extra(1.25), _Extra(2)
    assert [half() for _ in range(6)] == [0, 1, 0, 1, 0, 1]
    assert [quarter() for _ in range(8)] == [0, 0, 0, 1, 0, 0, 0, 1]
    assert [double() for _ in range(3)] == [1, 1, 1]


def test_a_repeat_below_one_is_a_usage_error(pytester, monkeypatch):
    monkeypatch.setenv("VIDBENCH_SLOWDOWN", "ltx-tiny:0.5")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest_inprocess("-p", "pytest_vidbench.calibrate.slowdown")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*REPEATS must be a number*1.5*"])


def test_the_instance_summary_separates_block_noise_from_the_process_share(tmp_path):
    import json

    from pytest_vidbench.calibrate.instances import summarize

    # Two processes; model "a" is 10% slower in the second one, in every block alike; the
    # blocks themselves never differ, whatever happened between them.
    rows = [{"process": p, "block": b, "kind": kind,
             "times": {"a": [1.0 * (1.1 if p else 1.0)] * 3, "b": [2.0] * 3}}
            for p in (0, 1) for b, kind in enumerate(["start", "same", "rebuild", "clone"])]
    log = tmp_path / "instances.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    table = summarize(log).splitlines()
    assert table[0].startswith("2 processes")
    a = next(line for line in table if line.startswith("| a |")).split("|")
    assert [c.strip() for c in a[2:5]] == ["0.0%", "0.0%", "0.0%"]
    # Its offset from the block mean differs by log(1.1)/2 between the two processes: SD d/√2.
    assert float(a[5].strip().rstrip("%")) == pytest.approx(
        100 * (np.log(1.1) / 2) / np.sqrt(2), abs=0.05)


def test_a_real_series_summary_shows_what_the_fresh_processes_measured(tmp_path):
    import json

    from pytest_vidbench.calibrate.real import summarize_log

    def run(change, fresh):
        extra = {"normalized_change_pct": change, "fresh_processes": fresh}
        return {"series": "injected", "exit_code": 1, "statuses": {"a": "regression"},
                "values": {"a": 1.0}, "seconds": 10.0, "verdicts": {"a": {"extra": extra}}}

    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in (run(30.0, 6), run(50.0, 2),
                                                              run(99.0, 0))))
    # The run that re-measured nothing does not count: its change is the first run's.
    assert "| injected | 3 | 3 | a 3/0 (+40% in 2) | 10 s |" in summarize_log(log)


def test_the_allocator_summary_gives_each_setting_its_offsets_and_wall(tmp_path):
    import json

    from pytest_vidbench.calibrate.allocator import main, summarize

    def write(setting, process, slow_a, wall):
        def record(model, value):
            return {"model": model, "kind": "latency", "status": "ok", "value": value,
                    "samples": [value * 0.9, value, value * 1.1]}
        document = {"results": [record("a", 1.0 * slow_a), record("b", 2.0),
                                record("c", 3.0)],
                    "run": {"control_samples": [0.5, 0.5], "wall_seconds": wall}}
        path = tmp_path / setting / f"run{process}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(document))

    for p in range(3):  # "a" runs 10% slow in one process of the default setting only
        write("default", p, 1.1 if p == 1 else 1.0, 60.0)
        write("mmap-every", p, 1.0, 100.0 + p)
    for p in range(2):
        write("heap-only", p, 1.0, 50.0)
    (tmp_path / "heap-only" / "run9.json").write_text(  # a cancelled run: no results
        json.dumps({"results": [], "run": {"interrupted": True}}))
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in summarize(tmp_path).splitlines()[2:]}
    assert set(rows) == {"default", "mmap-every"}  # heap-only: 2 whole runs are too few
    step = np.log(1.1)  # a's ratio to the others moves by it, b's and c's by half of it
    median, rms = step / 2 / np.sqrt(3), step * np.sqrt(0.5 / 3)
    assert rows["default"][:2] == ["3", f"{median:.1%} / {rms:.1%}"]
    assert rows["default"][-1] == "60 s"
    assert rows["mmap-every"][1] == "0.0% / 0.0%" and rows["mmap-every"][-1] == "101 s"
    with pytest.raises(SystemExit) as exit_info:
        main(["--settings", "default,jemalloc", "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2 and not (tmp_path / "x").exists()


def test_the_calibration_table_counts_the_sessions_it_was_asked_for(tmp_path, capsys):
    import glob

    root = Path(__file__).resolve().parents[1]
    traces = sorted(glob.glob(str(root / "docs/traces/amd-epyc-2026-12-03/history-0[1-4].json")))
    assert len(traces) == 4
    assert table.main(["--sessions", "4", "--large", "6", "--workers", "1",
                       "--traces", *traces]) == 0
    out = capsys.readouterr().out
    assert "4 unchanged sessions of 7 latency tests (6 of 60)" in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "| 10 |" in line]
    assert len(rows) == 2
    for row in rows:  # the 60-test column's bound is over the 6 sessions asked for, not 4 // 3
        rate, bound = re.fullmatch(r" (\d+\.\d)% \(≤ (\d+\.\d)%\) ", row.split("|")[4]).groups()
        alarms = round(float(rate) / 100 * 6)  # the printed rate is rounded: k of 6
        assert f"{table.upper_bound(alarms / 6, 6):.1%}" == f"{bound}%"
    assert "--sessions 4 --large 6" in out


def _series_file(path: Path, ratios: dict[str, float]) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"results": [
        {"model": m, "kind": "latency", "status": "ok", "value": v, "samples": [v, v, v]}
        for m, v in ratios.items()], "run": {"control_samples": [0.5]}}))


@pytest.mark.parametrize("shift", [0.0, 0.2])
def test_the_drift_fit_finds_a_models_shift_after_its_history(tmp_path, shift):
    from pytest_vidbench.calibrate.noise import fit_drift, series_pairs

    for i in range(6):  # ±0.1% process noise: the fit's chance term is negligible
        wobble = 1 + (0.001 if i % 2 else -0.001)
        _series_file(tmp_path / f"history-{i:02d}.json", {"a": wobble, "b": 2.0, "c": 3.0})
        _series_file(tmp_path / "series" / f"unchanged-{i:02d}.json",
                     {"a": wobble * (1 + shift), "b": 2.0, "c": 3.0})
    drift = fit_drift(series_pairs([tmp_path]))
    # a's ratio to the others moves by log(1 + shift), b's and c's by half of it: mean
    # square s²/2, less the others' share (× 2/3): one model of three drifted by s
    assert drift == pytest.approx(np.log1p(shift) / np.sqrt(3), abs=0.002)
    assert fit_drift(series_pairs([tmp_path / "nothing-here"])) == 0.0


def test_a_drift_after_the_history_raises_the_simulated_false_alarms():
    from pytest_vidbench.calibrate.synthetic import false_alarm_rate

    calm = false_alarm_rate(NoiseModel(), checks=7, history=10, sessions=30)
    drifting = false_alarm_rate(NoiseModel(session_drift=0.2), checks=7, history=10,
                                sessions=30)
    assert drifting > calm + 0.2


def test_a_labelled_calibration_block_is_replaced_and_says_its_design(tmp_path, capsys):
    readme = tmp_path / "README.md"
    begin, end = table.markers("fresh-pages")
    readme.write_text(f"before\n{table.BEGIN}\nkept\n{table.END}\n{begin}\nold\n{end}\nafter\n")
    root = Path(__file__).resolve().parents[1]
    traces = sorted((root / "docs/traces/amd-epyc-2026-12-03").glob("history-0[1-4].json"))
    assert table.main(["--sessions", "2", "--large", "2", "--workers", "1", "--drift",
                       "--fresh-calls", "12", "--label", "fresh-pages", "--readme", str(readme),
                       "--traces", *map(str, traces)]) == 0
    text = readme.read_text()
    assert "\nold\n" not in text and f"{table.BEGIN}\nkept\n{table.END}" in text
    block = text.split(begin)[1].split(end)[0]
    assert "per-model drift between a history and the runs after it 0.0%, 12 calls per " \
           "fresh process" in block
    assert block.endswith("--fresh-calls 12 --gate-drift 0)\n") and text.endswith(f"{end}\nafter\n")
