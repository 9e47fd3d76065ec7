"""pytest-xdist: `-n 2` measures on two workers and judges once, on the controller."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from plugin_project import baseline_files, results, write_project

from pytest_vidbench.scale.workers import GPU_ENV, Role, assign_gpus, check_layout, cores_for

pytest.importorskip("xdist")

MODELS = ("toy", "old")
# Deterministic verdicts: worse frames (quality), more memory, and calls far slower than
# the toy's own (latency, judged within the run: one baseline run only).
WORSE = {"TOY_NOISE": "0.3", "TOY_EXTRA_MIB": "64", "TOY_SLEEP": "0.2"}


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A run with xdist in its own process; a serial one (no -n) in this one, which has
    torch loaded already."""
    run = pytester.runpytest_subprocess if "-n" in args else pytester.runpytest
    return run("--vidbench", "-p", "no:cacheprovider", *args)


def _statuses(pytester: pytest.Pytester) -> dict[str, str]:
    return {r["test_id"] + " " + f"{r['model']}[{r['variant']}]::{r['metric']}":
            (r["verdict"] or {}).get("status") for r in results(pytester)["results"]}


def test_two_workers_give_the_serial_results_and_verdicts(pytester: pytest.Pytester,
                                                            monkeypatch) -> None:
    write_project(pytester, models=MODELS)
    assert _run(pytester, "--vidbench-update-baselines").ret == 0
    assert _run(pytester, "-n", "2", "--vidbench-update-baselines").ret == 0
    files = baseline_files(pytester)
    assert len(files) == 2 and any(f.stem.endswith("-workers2") for f in files)
    document = json.loads(next(f for f in files if "workers2" in f.stem).read_text())
    assert document["environment"]["workers"] == 2
    for name, value in WORSE.items():
        monkeypatch.setenv(name, value)
    serial = _run(pytester)
    serial_verdicts = _statuses(pytester)
    parallel = _run(pytester, "-n", "2")
    parallel_verdicts = _statuses(pytester)
    assert serial.ret == parallel.ret == 1  # the quality and memory regressions gate both
    assert parallel_verdicts == serial_verdicts
    assert len(serial_verdicts) == 2 * 4
    assert {"regression"} <= set(parallel_verdicts.values())
    parallel.stdout.fnmatch_lines(["*= vidbench =*"])  # the controller's summary
    assert results(pytester)["environment"]["workers"] == 2


def test_each_model_is_measured_on_one_worker_and_nothing_is_written_there(
        pytester: pytest.Pytester) -> None:
    write_project(pytester, models=MODELS, metrics=("latency", "psnr"))
    run = _run(pytester, "-n", "2", "-v", "--vidbench-update-baselines")
    assert run.ret == 0, run.stdout.str()
    workers: dict[str, set[str]] = {}
    for line in run.stdout.lines:  # "[gw0] [ 25%] PASSED test_bench.py::test_b[toy-fp32-…]"
        if line.startswith("[gw") and "PASSED" in line:
            worker = line.split("]")[0][1:]
            model = line.split("::test_benchmark[")[1].split("-")[0]
            workers.setdefault(model, set()).add(worker)
    assert set(workers) == set(MODELS)
    assert all(len(w) == 1 for w in workers.values()), workers
    assert workers["toy"] != workers["old"]
    # One results file, one baseline file: the controller's.
    assert len(list(Path(pytester.path).rglob("results.json"))) == 1
    assert len(baseline_files(pytester)) == 1


def test_another_distribution_mode_is_a_usage_error(pytester: pytest.Pytester) -> None:
    write_project(pytester, models=MODELS, metrics=("latency",))
    run = _run(pytester, "-n", "2", "--dist", "load")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines(["*--dist load would split a model's tests*loadgroup*"])


def test_workers_get_disjoint_cores_or_share_one_when_there_are_too_few() -> None:
    cores = [0, 1, 2, 3]
    assert [cores_for(i, 2, cores) for i in range(2)] == [[0, 2], [1, 3]]
    assert [cores_for(i, 3, [0, 1]) for i in range(3)] == [[0], [1], [0]]


def test_worker_i_gets_gpu_i_mod_g_from_its_first_instruction(monkeypatch) -> None:
    execnet = pytest.importorskip("execnet")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")
    specs = [execnet.XSpec("popen") for _ in range(3)]
    assign_gpus(specs, "cuda")
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in specs] == ["4", "6", "4"]
    assert all(s.env[GPU_ENV] == "1" for s in specs)  # so the worker pins no CPU cores
    cpu = [execnet.XSpec("popen")]
    assign_gpus(cpu, "cpu")  # --vidbench-device cpu on a GPU machine: no GPU, own cores
    assert cpu[0].env == {}
    with pytest.raises(pytest.UsageError, match="use --vidbench-device cuda"):
        check_layout(Role("controller", 0, 2), "cuda:1")
    check_layout(Role(), "cuda:1")  # a serial run may choose its GPU


def test_workers_split_what_is_selected(pytester: pytest.Pytester) -> None:
    """-k first, then the split: the selected models spread over the workers, each whole."""
    write_project(pytester, models=("toy", "old", "toy-nan"), metrics=("latency", "psnr"))
    run = _run(pytester, "-n", "2", "-v", "-k", "not toy-nan")
    assert run.ret == 0, run.stdout.str()
    workers: dict[str, set[str]] = {}
    for line in run.stdout.lines:
        if line.startswith("[gw") and "PASSED" in line:
            model = line.split("::test_benchmark[")[1].split("-fp32")[0]
            workers.setdefault(model, set()).add(line.split("]")[0][1:])
    assert set(workers) == {"toy", "old"}
    assert all(len(w) == 1 for w in workers.values()) and workers["toy"] != workers["old"]


def test_a_worker_handed_over_twice_counts_once_and_a_lost_one_blocks_the_update() -> None:
    from types import SimpleNamespace

    from pytest_vidbench.records import ResultRecord
    from pytest_vidbench.scale.handover import OUTPUT_KEY, WorkerOutput, take_over

    record = ResultRecord("t.py::test_b[toy-fp32-latency]", "toy", "fp32", "latency",
                          "latency", "s", value=1.0, samples=[1.0])
    session = SimpleNamespace(records=[], handed_over=[], lost_workers=[], messages=[],
                              collected_order=[], collected_keys=set(), deselected=0)
    output = {OUTPUT_KEY: WorkerOutput("gw0", [record.to_json()],
                                       collected=[record.key]).to_json()}
    take_over(session, output, None, "gw0")
    take_over(session, output, "KeyboardInterrupt", "gw0")  # xdist's second report
    assert [r.key for r in session.records] == [record.key]
    take_over(session, {"exitstatus": 1}, "Not properly terminated", "gw1")
    assert session.lost_workers == ["gw1"]
    assert "gw1 stopped before handing over" in session.messages[0]
