"""The plugin end to end: options, collection, results, failures, baselines and the gate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from plugin_project import baseline_files, results, verdicts, write_project


def test_without_the_flag_benchmarks_are_collected_and_skipped(pytester: pytest.Pytester):
    write_project(pytester)
    run = pytester.runpytest("-rs")
    run.assert_outcomes(skipped=4)
    run.stdout.fnmatch_lines(["*run only with --vidbench*"])
    assert not (pytester.path / ".vidbench").exists()


def test_ids_read_model_variant_metric_and_k_selects(pytester: pytest.Pytester):
    write_project(pytester)
    run = pytester.runpytest("--collect-only", "-q")
    run.stdout.fnmatch_lines(["*test_benchmark[[]toy-fp32-latency[]]", "*toy-fp32-psnr*"])
    run = pytester.runpytest("--vidbench", "-k", "latency", "-q")
    run.assert_outcomes(passed=1, deselected=3)
    assert [r["metric"] for r in results(pytester)["results"]] == ["latency"]


def test_results_file_records_every_test(pytester: pytest.Pytester):
    write_project(pytester)
    pytester.runpytest("--vidbench").assert_outcomes(passed=4)
    document = results(pytester)
    assert document["schema_version"] == 1
    env = document["environment"]
    for key in ("torch", "diffusers", "cpu_model", "cpu_count", "torch_threads", "python", "os",
                "git_commit", "git_dirty", "device_kind"):
        assert key in env
    assert env["torch_threads"] == 1  # pinned on CPU
    by_metric = {r["metric"]: r for r in document["results"]}
    latency = by_metric["latency"]
    assert latency["kind"] == "latency" and latency["unit"] == "s"
    assert len(latency["samples"]) == 3 and latency["status"] == "ok"
    assert document["run"]["control_samples"]  # the control workload ran, once per run
    # At its peak the call holds at least the stacked 6×3×32×32 float32 frames it returns.
    memory = by_metric["memory"]
    assert memory["unit"] == "B" and memory["value"] >= 6 * 3 * 32 * 32 * 4
    flicker = by_metric["flicker"]
    assert flicker["kind"] == "quality" and flicker["direction"] == "higher"
    assert flicker["sample_labels"] == ["p0/s0", "p1/s0"]
    assert by_metric["psnr"]["value"] is None  # no reference clip yet
    assert {r["verdict"]["status"] for r in document["results"]} == {"new"}


def test_session_time_and_overhead_are_printed(pytester: pytest.Pytester):
    write_project(pytester)
    run = pytester.runpytest("--vidbench")
    run.stdout.fnmatch_lines(["*vidbench session:*wall*timed generation*", "*gate: passed*"])
    info = results(pytester)["run"]
    # Timed generation is part of the session, and the printed line shows the stored figures.
    assert 0 < info["timed_seconds"] <= info["wall_seconds"]
    from pytest_vidbench.report.format import timing_sentence

    expected = timing_sentence(info["wall_seconds"], info["timed_seconds"])
    assert f"vidbench session: {expected}" in run.outlines


def test_progress_is_shown_without_s_and_quiet_under_q(pytester: pytest.Pytester):
    write_project(pytester)
    loud = pytester.runpytest("--vidbench", "-k", "latency")
    loud.stdout.fnmatch_lines(["vidbench: toy*timing round*elapsed*"])
    quiet = pytester.runpytest("--vidbench", "-k", "latency", "-q")
    assert "timing round" not in quiet.stdout.str()


def test_an_unknown_config_key_is_a_usage_error_naming_it(pytester: pytest.Pytester):
    write_project(pytester, extra="roundz = 3")
    run = pytester.runpytest("--vidbench")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines(["*unknown key tool.vidbench.roundz*allowed keys:*rounds*"])


def test_a_bad_value_is_a_usage_error_naming_the_allowed_values(pytester: pytest.Pytester):
    write_project(pytester, extra='device = "tpu"')
    run = pytester.runpytest("--vidbench")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines(["*tool.vidbench.device must be 'auto', 'cpu', 'cuda'*'tpu'*"])


def test_an_unknown_model_is_a_usage_error_listing_the_known(pytester: pytest.Pytester):
    write_project(pytester, models=("wan-tiny", "no-such-model"))
    run = pytester.runpytest("--vidbench")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines(["*unknown model 'no-such-model'; known models:*wan-tiny*"])


def test_cuda_on_a_machine_without_it_is_a_usage_error(pytester: pytest.Pytester):
    write_project(pytester)
    run = pytester.runpytest("--vidbench", "--vidbench-device", "cuda")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines(["*torch sees no CUDA device*--vidbench-device cpu*"])


def test_oom_fails_that_model_with_its_workload_and_the_rest_runs(pytester: pytest.Pytester):
    write_project(pytester, metrics=("latency", "flicker"), models=("toy", "toy-oom"))
    run = pytester.runpytest("--vidbench")
    run.assert_outcomes(passed=2, failed=2)
    run.stdout.fnmatch_lines(["*toy-oom [[]fp32[]]: out of memory at 32×32×6, 1 steps, "
                              "dtype float32*"])
    assert verdicts(pytester)["toy-oom-latency"] == "error"


def test_nan_frames_fail_naming_the_model(pytester: pytest.Pytester):
    write_project(pytester, metrics=("latency",), models=("toy", "toy-nan"))
    run = pytester.runpytest("--vidbench")
    run.assert_outcomes(passed=1, failed=1)
    run.stdout.fnmatch_lines(["*toy-nan [[]fp32[]]: NaN or Inf in the generated frames*"])


def test_a_hung_model_errors_at_its_time_limit_and_the_reports_are_written(
        pytester: pytest.Pytester):
    write_project(pytester, metrics=("latency", "flicker"), models=("toy", "toy-hang"),
                  extra="model_timeout = 2")
    run = pytester.runpytest("--vidbench", "--vidbench-markdown", "comment.md")
    run.assert_outcomes(passed=2, failed=2)
    run.stdout.fnmatch_lines(["*toy-hang [[]fp32[]]: no result within the per-model time "
                              "limit of 2 s*"])
    assert verdicts(pytester)["toy-hang-latency"] == "error"
    assert verdicts(pytester)["toy-latency"] == "new"
    assert "toy-hang" in (pytester.path / "comment.md").read_text()


def test_a_model_that_cannot_load_errors_and_the_others_run(pytester: pytest.Pytester):
    write_project(pytester, metrics=("latency",), models='["toy", '
                  '{name = "gone", source = "./no-such-dir", pipeline = "WanPipeline"}]')
    run = pytester.runpytest("--vidbench")
    run.assert_outcomes(passed=1, errors=1)
    run.stdout.fnmatch_lines(["*model 'gone': local directory*no-such-dir does not exist*"])
    assert verdicts(pytester)["gone-latency"] == "error"


def test_update_writes_git_friendly_baselines_and_references(pytester: pytest.Pytester):
    write_project(pytester)
    pytester.runpytest("--vidbench", "--vidbench-update-baselines").assert_outcomes(passed=4)
    (path,) = baseline_files(pytester)
    text = path.read_text()
    assert text.endswith("}\n") and '\n  "schema_version": 1' in text
    document = json.loads(text)
    assert list(document["tests"]) == sorted(document["tests"])
    entry = document["tests"]["toy[fp32]::latency"]
    assert len(entry["history"]) == 1 and len(entry["samples"]) == 3
    references = list(path.with_suffix("").glob("references/*.npz"))
    # Content-addressed names, so the JSON and its clips switch together (store/transaction.py).
    assert [p.name.split(".")[0] for p in references] == ["toy__fp32"]
    assert document["references"]
    # The next unchanged run compares against them: psnr at its cap, nothing flagged.
    pytester.runpytest("--vidbench").assert_outcomes(passed=4)
    found = verdicts(pytester)
    assert found["toy-psnr"] == "unchanged" and found["toy-memory"] == "unchanged"
    psnr = next(r for r in results(pytester)["results"] if r["metric"] == "psnr")
    assert psnr["value"] == 100.0


def test_history_is_capped_at_the_configured_length(pytester: pytest.Pytester):
    write_project(pytester, metrics=("memory",), extra="history = 2")
    for _ in range(3):
        pytester.runpytest("--vidbench", "--vidbench-update-baselines").assert_outcomes(passed=1)
    (path,) = baseline_files(pytester)
    assert len(json.loads(path.read_text())["tests"]["toy[fp32]::memory"]["history"]) == 2


def test_a_failed_run_never_touches_baselines(pytester: pytest.Pytester):
    write_project(pytester, metrics=("latency",), models=("toy", "toy-oom"))
    run = pytester.runpytest("--vidbench", "--vidbench-update-baselines")
    assert run.ret == pytest.ExitCode.TESTS_FAILED
    run.stdout.fnmatch_lines(["*baselines NOT updated*"])
    assert baseline_files(pytester) == []


def test_an_interrupted_run_never_touches_baselines(pytester: pytest.Pytester):
    write_project(pytester, metrics=("latency",))
    pytester.runpytest("--vidbench", "--vidbench-update-baselines")
    before = baseline_files(pytester)[0].read_bytes()
    write_project(pytester, metrics=("latency",), models=("toy", "toy-crash"))
    run = pytester.runpytest_subprocess("--vidbench", "--vidbench-update-baselines")
    assert run.ret == pytest.ExitCode.INTERRUPTED
    assert baseline_files(pytester)[0].read_bytes() == before


def test_a_cancelled_run_ends_like_ctrl_c_and_never_touches_baselines(
        pytester: pytest.Pytester):
    write_project(pytester, metrics=("latency",))
    pytester.runpytest("--vidbench", "--vidbench-update-baselines")
    before = baseline_files(pytester)[0].read_bytes()
    write_project(pytester, metrics=("latency",), models=("toy", "toy-term"))
    run = pytester.runpytest_subprocess("--vidbench", "--vidbench-update-baselines")
    assert run.ret == pytest.ExitCode.INTERRUPTED  # not the -15 of a killed process
    run.stdout.fnmatch_lines(["*SIGTERM: the run was cancelled*"])
    assert baseline_files(pytester)[0].read_bytes() == before


def test_a_run_cancelled_while_measuring_still_writes_reports_that_say_so(
        pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]):
    from prometheus_client.parser import text_string_to_metric_families

    from pytest_vidbench.cli import main

    write_project(pytester, metrics=("latency",))
    pytester.runpytest("--vidbench", "--vidbench-update-baselines")
    # toy-term sends SIGTERM from its second call: inside the campaign, before any test ends.
    write_project(pytester, metrics=("latency",), models=("toy", "toy-term"))
    run = pytester.runpytest_subprocess("--vidbench", "--vidbench-markdown", "comment.md",
                                        "--vidbench-json", "results.json",
                                        "--vidbench-prometheus", "vidbench.prom")
    assert run.ret == pytest.ExitCode.INTERRUPTED
    comment = (pytester.path / "comment.md").read_text()
    assert "Interrupted before any benchmark test finished" in comment
    assert "gate **not passed**: the run was interrupted" in comment
    assert ("interrupted (SIGTERM: the run was cancelled): 0 of 2 benchmark tests finished; "
            "baselines were not updated") in comment
    run.stdout.fnmatch_lines(["*vidbench: interrupted before any benchmark test finished*",
                              "*vidbench gate: NOT passed: the run was interrupted*"])
    document = json.loads((pytester.path / "results.json").read_text())
    assert document["run"]["interrupted"] is True and document["results"] == []
    text = (pytester.path / "vidbench.prom").read_text()
    (flag,) = [s for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "vidbench_run_interrupted"]
    assert flag.value == 1
    # Comparing the cut-short file later never passes either.
    code = main(["compare", str(baseline_files(pytester)[0]), str(pytester.path / "results.json"),
                 "--markdown", str(pytester.path / "again.md")])
    assert code == 1 and "interrupted run" in capsys.readouterr().out
    assert "gate **not passed**" in (pytester.path / "again.md").read_text()


def test_a_collection_error_is_not_reported_as_a_cancelled_run(pytester: pytest.Pytester):
    write_project(pytester, metrics=("latency",))
    pytester.makepyfile(test_broken="import a_module_that_does_not_exist")
    run = pytester.runpytest("--vidbench", "--vidbench-markdown", "comment.md")
    assert run.ret == pytest.ExitCode.INTERRUPTED  # pytest's status for collection errors
    comment = pytester.path / "comment.md"
    assert not comment.exists()  # nothing was measured, and nothing was cancelled


def test_a_corrupt_baseline_is_a_usage_error_naming_the_file(pytester: pytest.Pytester):
    write_project(pytester, metrics=("memory",))
    pytester.runpytest("--vidbench", "--vidbench-update-baselines")
    (path,) = baseline_files(pytester)
    path.write_text('{"schema_version": 1, "tests": ')
    run = pytester.runpytest("--vidbench")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines([f"*baseline file {path}: is not valid JSON*--vidbench-update-"
                              "baselines*"])


def test_baselines_of_another_environment_are_refused(pytester: pytest.Pytester):
    write_project(pytester, metrics=("memory",))
    pytester.runpytest("--vidbench", "--vidbench-update-baselines")
    (path,) = baseline_files(pytester)
    other = path.with_name("cuda-nvidia-h100-torch2.13.json")
    document = json.loads(path.read_text())
    document["environment_key"] = other.stem
    other.write_text(json.dumps(document))
    path.unlink()
    run = pytester.runpytest("--vidbench")
    assert run.ret == pytest.ExitCode.OK
    assert verdicts(pytester) == {"toy-memory": "incomparable"}
    run.stdout.fnmatch_lines([f"note: baselines exist only for {other.stem}; this run is "
                              f"{path.stem}: not compared*"])


def test_a_memory_regression_fails_the_gate_and_is_named(pytester: pytest.Pytester,
                                                         monkeypatch: pytest.MonkeyPatch):
    write_project(pytester, metrics=("latency", "memory", "flicker"))
    pytester.runpytest("--vidbench", "--vidbench-update-baselines")
    monkeypatch.setenv("TOY_EXTRA_MIB", "96")
    run = pytester.runpytest("--vidbench")
    assert run.ret == pytest.ExitCode.TESTS_FAILED
    run.assert_outcomes(passed=3)  # the tests pass; the gate fails the session
    run.stdout.fnmatch_lines(["*REGRESSION toy [[]fp32[]] memory:*", "*gate: FAILED*"])
    assert verdicts(pytester)["toy-memory"] == "regression"
    assert verdicts(pytester)["toy-flicker"] == "unchanged"
    report_only = pytester.runpytest("--vidbench", "--vidbench-report-only")
    assert report_only.ret == pytest.ExitCode.OK
    report_only.stdout.fnmatch_lines(["*gate: not enforced*"])


def test_changed_frames_are_a_quality_regression(pytester: pytest.Pytester,
                                                 monkeypatch: pytest.MonkeyPatch):
    write_project(pytester, metrics=("psnr", "flicker"))
    pytester.runpytest("--vidbench", "--vidbench-update-baselines")
    monkeypatch.setenv("TOY_NOISE", "0.3")
    run = pytester.runpytest("--vidbench")
    assert run.ret == pytest.ExitCode.TESTS_FAILED
    assert verdicts(pytester) == {"toy-psnr": "regression", "toy-flicker": "regression"}


def test_unused_entries_are_listed_then_pruned(pytester: pytest.Pytester):
    write_project(pytester, metrics=("memory",), models=("toy", "old"))
    pytester.runpytest("--vidbench", "--vidbench-update-baselines")
    write_project(pytester, metrics=("memory",), models=("toy",))
    run = pytester.runpytest("--vidbench")
    run.stdout.fnmatch_lines(["*unused baseline entries (1): old[[]fp32[]]::memory*"])
    pytester.runpytest("--vidbench", "--vidbench-update-baselines", "--vidbench-prune-baselines")
    (path,) = baseline_files(pytester)
    assert list(json.loads(path.read_text())["tests"]) == ["toy[fp32]::memory"]


def test_prune_refuses_a_partial_run(pytester: pytest.Pytester):
    write_project(pytester, metrics=("memory",), models=("toy", "old"))
    pytester.runpytest("--vidbench", "--vidbench-update-baselines")
    run = pytester.runpytest("--vidbench", "--vidbench-update-baselines",
                             "--vidbench-prune-baselines", "-k", "old")
    run.stdout.fnmatch_lines(["*not pruned: tests were deselected*"])
    (path,) = baseline_files(pytester)
    assert len(json.loads(path.read_text())["tests"]) == 2


def test_markdown_html_and_benchmark_json_outputs(pytester: pytest.Pytester):
    write_project(pytester)
    run = pytester.runpytest("--vidbench", "--vidbench-markdown", "comment.md",
                             "--vidbench-html", "report.html",
                             "--vidbench-benchmark-json", "bench.json")
    run.assert_outcomes(passed=4)
    assert (pytester.path / "comment.md").read_text().startswith("<!-- pytest-vidbench -->")
    assert "<html" in (pytester.path / "report.html").read_text()
    bench = json.loads((pytester.path / "bench.json").read_text())
    (entry,) = bench["benchmarks"]
    assert entry["stats"]["rounds"] == 3 and entry["stats"]["data"]
    # pytest-benchmark's own tool reads the file.
    done = subprocess.run([sys.executable, "-m", "pytest_benchmark", "compare",
                           str(pytester.path / "bench.json")], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "test_benchmark[toy-fp32-latency]" in done.stdout


def test_the_html_report_shows_this_runs_frames_beside_the_baselines(
        pytester: pytest.Pytester):
    write_project(pytester, metrics=("flicker", "psnr"))
    pytester.runpytest("--vidbench", "--vidbench-update-baselines").assert_outcomes(passed=2)
    run = pytester.runpytest("--vidbench", "--vidbench-html", "report.html")
    run.assert_outcomes(passed=2)
    page = (pytester.path / "report.html").read_text()
    assert "Frames: baseline against this run" in page
    record = next(r for r in results(pytester)["results"] if r["metric"] == "flicker")
    frames = Path(record["verdict"]["extra"]["frames_path"])
    assert frames.is_relative_to(pytester.path / ".vidbench" / "frames") and frames.is_file()
    assert Path(record["verdict"]["extra"]["baseline_frames_path"]).is_file()


def test_the_prometheus_textfile_holds_every_result_and_verdict(pytester: pytest.Pytester):
    from prometheus_client.parser import text_string_to_metric_families

    write_project(pytester, metrics=("latency", "memory"))
    pytester.runpytest("--vidbench", "--vidbench-prometheus", "out/vidbench.prom"
                       ).assert_outcomes(passed=2)
    text = (pytester.path / "out" / "vidbench.prom").read_text()
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    values = {s.labels["metric"]: s.value for s in samples if s.name == "vidbench_result_value"}
    recorded = {r["metric"]: r["value"] for r in results(pytester)["results"]}
    assert values == pytest.approx(recorded)
    verdicts = [s for s in samples if s.name == "vidbench_verdict"]
    assert {s.labels["status"] for s in verdicts if s.value == 1} == {"new"}
    assert sum(s.value for s in verdicts) == 2  # one-hot: one verdict per result
    (gate,) = [s for s in samples if s.name == "vidbench_gate_failed"]
    assert gate.value == 0


def test_github_step_summary_gets_the_markdown(pytester: pytest.Pytester,
                                               monkeypatch: pytest.MonkeyPatch):
    summary = Path(pytester.path) / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    write_project(pytester, metrics=("memory",))
    pytester.runpytest("--vidbench", "--vidbench-markdown", "comment.md")
    assert "<!-- pytest-vidbench -->" in summary.read_text()


def test_registration_is_scoped_to_the_conftest_directory(pytester: pytest.Pytester):
    write_project(pytester, metrics=("memory",))
    sub = pytester.mkpydir("other")
    (sub / "test_other.py").write_text(
        "import pytest\n\n@pytest.mark.vidbench(models=['toy'])\n"
        "def test_benchmark(vidbench_result):\n    vidbench_result.check()\n")
    (sub / "conftest.py").write_text(
        "def pytest_vidbench_models(registry):\n"
        "    import torch\n"
        "    registry.add_generator('sub-only', lambda p, s: torch.zeros(4, 3, 16, 16))\n")
    run = pytester.runpytest("--collect-only", "-q")
    run.stdout.fnmatch_lines(["*other/test_other.py::test_benchmark[[]toy-fp32-memory[]]"])
    assert "sub-only" not in run.stdout.str()  # the marker chose; the root never sees it
