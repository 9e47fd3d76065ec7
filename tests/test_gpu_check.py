"""The GPU-truth check's pure parts on real data, and its --cpu dry run end to end.

tests/data/gpu_check_trace.jsonl is the noise trace a `tools/gpu_check.sh OUT --cpu` run
wrote on this machine (3 processes × 2 models × 2 rounds).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from gpu_check_stats import (  # noqa: E402
    components_json,
    render_markdown,
    trace_line,
    variance_components,
)

TRACE = [json.loads(line) for line in
         (ROOT / "tests" / "data" / "gpu_check_trace.jsonl").read_text().splitlines()]


def _scaled(lines, factor, process=None):
    return [{**line, "samples": [{**s, "seconds": s["seconds"] * (
        factor if process in (None, line["process"]) else 1)} for s in line["samples"]]}
        for line in lines]


def test_trace_has_one_line_per_process_with_per_sample_records():
    assert [line["process"] for line in TRACE] == [0, 1, 2]
    for line in TRACE:
        assert {tuple(sorted(s)) for s in line["samples"]} == {("i", "model", "round",
                                                               "seconds")}


def test_components_of_the_real_trace_are_finite_and_unit_free():
    got = variance_components(TRACE)
    assert (got.models, got.processes, got.calls_per_cell) == (2, 3, 2.0)
    for value in (got.within_run, got.between_process, got.model_by_process):
        assert value is not None and value >= 0 and math.isfinite(value)
    # Log-scale components: the same trace in milliseconds gives the same split.
    again = variance_components(_scaled(TRACE, 1000.0))
    assert again.within_run == pytest.approx(got.within_run)
    assert again.between_process == pytest.approx(got.between_process, abs=1e-12)


def test_a_slow_process_shows_as_between_process_variance():
    base = variance_components(TRACE)
    slowed = variance_components(_scaled(TRACE, math.e ** 2, process=1))  # ×7.4 for all models
    assert slowed.within_run == pytest.approx(base.within_run)
    assert slowed.model_by_process == pytest.approx(base.model_by_process)
    assert slowed.between_process > base.between_process + 1.0


def test_components_by_hand_on_a_balanced_table():
    # log seconds: model a = 0, b = 1; process 1 adds 0.2 to a only; calls differ by ±0.1.
    def line(p, shift_a):
        return {"process": p, "samples": [
            {"model": m, "round": r, "i": r, "seconds": math.exp(base + d)}
            for m, base in (("a", shift_a), ("b", 1.0)) for r, d in ((0, -0.1), (1, 0.1))]}

    got = variance_components([line(0, 0.0), line(1, 0.2)])
    assert got.within_run == pytest.approx(0.02)  # (0.1² × 2) per cell, 1 dof each
    # Cell means a: 0, 0.2; b: 1, 1 → interaction MS 0.01, process MS 0.01.
    assert got.model_by_process == pytest.approx(0.01 - 0.02 / 2)
    assert got.between_process == pytest.approx(0.0)


def test_too_little_data_is_an_error_not_a_number():
    with pytest.raises(ValueError, match="need ≥ 2 processes"):
        variance_components(TRACE[:1])


def test_trace_line_reads_a_results_document():
    document = {"results": [
        {"kind": "latency", "status": "ok", "model": "m", "variant": "fp32",
         "samples": [0.5, 0.25], "details": {"rounds": [0, 1]}},
        {"kind": "memory", "status": "ok", "model": "m", "variant": "fp32", "samples": [9]},
        {"kind": "latency", "status": "error", "model": "x", "variant": "fp32"}]}
    assert trace_line(document, 4) == {"process": 4, "samples": [
        {"model": "m [fp32]", "round": 0, "i": 0, "seconds": 0.5},
        {"model": "m [fp32]", "round": 1, "i": 1, "seconds": 0.25}]}


def test_summary_renders_every_step_with_its_tables():
    summary = {"meta": {"mode": "cpu", "device": "cpu", "torch": "2.13.0", "cuda": None,
                        "seconds": 99.0},
               "steps": {
                   "noise": {"status": "ok", "seconds": 30.0, "budget_s": 50, "result": {
                       "processes": 3, "components": components_json(
                           variance_components(TRACE))}},
                   "faults": {"status": "ok", "seconds": 10.0, "budget_s": 25, "result": {
                       "resident": {"models": [{"model": "a|b", "agree": True}]},
                       "oom": "skipped: needs CUDA"}},
                   "energy": {"status": "skipped", "seconds": 0, "budget_s": 0,
                              "error": "needs CUDA (--cpu mode)"}}}
    text = render_markdown(summary)
    assert text.startswith("# vidbench GPU check (cpu mode)")
    for heading in ("## noise: ok", "## faults: ok", "## energy: skipped", "### resident"):
        assert heading in text
    assert "| a\\|b | True |" in text  # a pipe in a cell does not break the table
    assert "needs CUDA (--cpu mode)" in text and "relative_sd" in text


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("VIDBENCH_SLOW"), reason="set VIDBENCH_SLOW=1 (~1 min)")
def test_cpu_dry_run_writes_both_summaries(tmp_path):
    done = subprocess.run(
        [str(ROOT / "tools" / "gpu_check.sh"), str(tmp_path), "--cpu", "--only",
         "memory,noise,energy"], env={**os.environ, "PYTHON": sys.executable},
        capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    steps = summary["steps"]
    assert steps["memory"]["status"] == "ok" and steps["memory"]["result"]["all_agree"]
    assert steps["noise"]["result"]["processes"] == 3
    assert steps["energy"]["status"] == "skipped"
    assert (tmp_path / "summary.md").read_text().startswith("# vidbench GPU check")
