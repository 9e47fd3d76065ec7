"""The `vidbench` command: compare, models, env and history, run for real on hand-made files."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_vidbench.cli import main
from pytest_vidbench.cli.health import gpu_device_checks
from pytest_vidbench.cli.history import COLUMNS
from pytest_vidbench.config import Thresholds
from pytest_vidbench.gate.judge import Comparison, Judge
from pytest_vidbench.measure.environment import cpu_model, environment_key
from pytest_vidbench.models.zoo import BUILTIN_MODELS
from pytest_vidbench.records import FreshRun, ResultRecord, RunContext, Verdict
from pytest_vidbench.report import MARKER
from pytest_vidbench.store.baselines import BaselineStore
from pytest_vidbench.store.histories import histories
from pytest_vidbench.store.results import load_results, results_document, write_results

ENV = {"device_kind": "cpu", "device_name": "Test CPU 9000", "torch": "2.13.0+cpu",
       "git_commit": "0123456789abcdef0123", "git_dirty": False}
OTHER_ENV = {**ENV, "device_name": "Other CPU 7"}
KEY, OTHER_KEY = environment_key(ENV), environment_key(OTHER_ENV)
MIB = 2**20


def latency(model: str, center: float, seed: int) -> ResultRecord:
    rng = random.Random(seed)
    samples = [center * (1 + rng.gauss(0, 0.01)) for _ in range(10)]
    value = statistics.median(samples)
    return ResultRecord(
        test_id=f"benchmarks/test_vidbench.py::test_benchmark[{model}-fp32-latency]",
        model=model, variant="fp32", metric="latency", kind="latency", unit="s", value=value,
        samples=samples)


def memory(model: str, mib: float) -> ResultRecord:
    return ResultRecord(test_id=f"benchmarks/test_vidbench.py::test_benchmark[{model}-memory]",
                        model=model, variant="fp32", metric="memory", kind="memory", unit="B",
                        value=mib * MIB, samples=[mib * MIB])


def write_run(path: Path, records: list[ResultRecord], env: dict[str, Any] = ENV,
              run: dict[str, Any] | None = None) -> Path:
    write_results(path, results_document(records, env, {"warmup": 1, "rounds": 5,
                                                        "calls_per_round": 2, **(run or {})}))
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def statuses(path: Path) -> list[str | None]:
    records, _, _ = load_results(path)
    return [r.verdict.status if r.verdict else None for r in records]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No ./pyproject.toml (default thresholds), and no writes to a CI step summary.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


# ---------------------------------------------------------------------------- compare


def test_compare_unchanged_pair(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write_run(tmp_path / "base.json", [latency("a", 1.0, 1), memory("a", 100)])
    new = write_run(tmp_path / "new.json", [latency("a", 1.0, 2), memory("a", 100.5)])
    code, out, err = cli(capsys, "compare", str(base), str(new), "--json", "out.json")
    assert (code, err) == (0, "")
    assert statuses(tmp_path / "out.json") == ["unchanged", "unchanged"]
    assert "vidbench gate: passed (no regressions)" in out


def test_compare_memory_regression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = [write_run(tmp_path / f"base{i}.json", [latency("a", 1.0, i), memory("wan", 100)])
            for i in range(3)]
    new = write_run(tmp_path / "new.json", [latency("a", 1.0, 9), memory("wan", 140)])
    code, out, _ = cli(capsys, "compare", *map(str, runs), str(new))
    assert code == 1
    assert any(line.strip().startswith("REGRESSION wan [fp32] memory") for line in out.splitlines())
    assert "vidbench gate: FAILED (1 regression)" in out
    code, out, _ = cli(capsys, "compare", *map(str, runs), str(new), "--report-only")
    assert code == 0 and "not enforced" in out


def test_compare_environment_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write_run(tmp_path / "base.json", [latency("a", 1.0, 1), memory("a", 100)], OTHER_ENV)
    new = write_run(tmp_path / "new.json", [latency("a", 3.0, 2), memory("a", 300)])
    code, out, _ = cli(capsys, "compare", str(base), str(new), "--json", "out.json")
    assert code == 0
    assert statuses(tmp_path / "out.json") == ["incomparable", "incomparable"]
    warnings = [line for line in out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and KEY in warnings[0] and OTHER_KEY in warnings[0]


@pytest.mark.parametrize("content", ["{not json", '{"schema_version": 1, "results": [{}]}',
                                     "[1, 2]", '{"schema_version": 1, "environment_key": "x",'
                                     ' "environment": {}, "tests": {"k": 5}}'])
@pytest.mark.parametrize("which", ["base", "new"])
def test_compare_corrupt_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
                              which: str) -> None:
    good = write_run(tmp_path / "good.json", [memory("a", 100)])
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    args = [bad, good] if which == "base" else [good, bad]
    code, out, err = cli(capsys, "compare", *map(str, args))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and str(bad) in err and "Traceback" not in err


def test_compare_rejects_numbers_the_judge_cannot_take(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = latency("a", 1.0, 1)
    record.value = -1.0
    bad = write_run(tmp_path / "bad.json", [record])
    code, _, err = cli(capsys, "compare", str(bad), str(bad))
    assert code == 2 and "value must be > 0" in err and str(bad) in err


def test_compare_writes_markdown_and_html(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    base = write_run(tmp_path / "base.json", [memory("a", 100)])
    new = write_run(tmp_path / "new.json", [memory("a", 200)])
    code, _, _ = cli(capsys, "compare", str(base), str(new), "--markdown", "c/comment.md",
                     "--html", "report.html")
    assert code == 1
    markdown = (tmp_path / "c" / "comment.md").read_text(encoding="utf-8")
    assert markdown.startswith(MARKER) and "regression" in markdown
    assert "<html" in (tmp_path / "report.html").read_text(encoding="utf-8").lower()


def test_compare_against_baseline_file_reaches_the_runs_verdicts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = {"m0": 1.0, "m1": 2.0, "m2": 0.5, "m3": 1.5}
    store = BaselineStore(tmp_path / "baselines", KEY)
    baseline = None
    for run in range(6):
        records = [latency(m, c, 100 * run + i) for i, (m, c) in enumerate(models.items())]
        baseline = store.updated(baseline, [*records, memory("m0", 100)], ENV, 10, prune=False,
                                 date=f"2026-01-01T00:00:{run:02}", control=[0.01] * 10)
    store.write(baseline)
    baseline = store.load()
    # Unchanged, much slower (a confirmed regression), a little slower, faster; memory too.
    new = [latency("m0", 1.0, 7), latency("m1", 2.8, 8), latency("m2", 0.54, 9),
           latency("m3", 1.2, 10), memory("m0", 130)]
    asked: list[str] = []

    def fresh_process(suspects: list[str], refs: list[str]) -> FreshRun:
        asked.extend(suspects)  # what the run's fresh-process re-measurements would return
        by_key = {r.key: r for r in new}
        f = 1.01 if len(asked) % 2 else 0.99
        return FreshRun({k: by_key[k].value * f for k in [*suspects, *refs]}, 0.01 * f, 6)

    judged = copy.deepcopy(new)
    context = RunContext([0.01] * 10, 10)
    Judge(Thresholds(), {}).judge(judged, Comparison(KEY, histories(baseline), []), context,
                                  fresh_process)
    expected = [r.verdict.status for r in judged]
    assert "regression" in expected and asked, "the scenario must exercise re-measurement"
    new_path = write_run(tmp_path / "new.json", judged, run=context.to_json())
    code, out, _ = cli(capsys, "compare", str(store.path), str(new_path), "--json", "out.json")
    assert code == 1
    assert statuses(tmp_path / "out.json") == expected
    rejudged, _, _ = load_results(tmp_path / "out.json")
    assert [r.verdict.remeasured for r in rejudged] == [r.verdict.remeasured for r in judged]
    assert "differ from those stored" not in out and "already holds" not in out
    store.write(store.updated(baseline, judged, ENV, 10, prune=False))  # as if updated after
    code, out, _ = cli(capsys, "compare", str(store.path), str(new_path))
    assert "already holds this run" in out


def test_compare_through_the_console_script(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base.json", [memory("a", 100)])
    new = write_run(tmp_path / "new.json", [memory("a", 200)])
    script = Path(sys.executable).parent / "vidbench"
    done = subprocess.run([str(script), "compare", str(base), str(new)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=300, check=False)
    assert done.returncode == 1, done.stderr
    assert "REGRESSION a [fp32] memory" in done.stdout
    done = subprocess.run([str(script), "compare", str(base), str(tmp_path / "missing.json")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False)
    assert done.returncode == 2 and "missing.json" in done.stderr
    assert "Traceback" not in done.stderr


def test_compare_refuses_mixed_environments_and_a_baseline_as_new(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_run(tmp_path / "a.json", [memory("a", 100)])
    b = write_run(tmp_path / "b.json", [memory("a", 100)], OTHER_ENV)
    code, _, err = cli(capsys, "compare", str(a), str(b), str(a))
    assert code == 2 and "different environments" in err
    store = BaselineStore(tmp_path / "baselines", KEY)
    store.write(store.updated(None, [memory("a", 100)], ENV, 10, prune=False))
    code, _, err = cli(capsys, "compare", str(a), str(store.path))
    assert code == 2 and "is a baseline file" in err


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=20)
positive = st.floats(min_value=1e-6, max_value=1e10)
# Mostly plausible values with junk mixed in, so that many documents get past the schema
# check and the verdict engine meets odd numbers (repeated branches weigh the choice).
value = st.one_of(*[positive] * 8, st.none(), json_values, st.floats())
details = st.fixed_dictionaries({}, optional={
    "normalized_value": value, "control_median": value,
    "control_samples": st.one_of(st.lists(positive, max_size=4), st.lists(positive),
                                 json_values),
    "remeasured": st.one_of(
        st.fixed_dictionaries({"runs": st.lists(st.fixed_dictionaries({"value": value}),
                                                max_size=3)}),
        st.fixed_dictionaries({"failed": st.booleans()}), json_values)})
record_fields = st.tuples(
    st.sampled_from([("latency", "latency"), ("memory", "memory"), ("energy", "energy"),
                     ("psnr", "quality"), ("flicker", "quality"), ("custom", "quality"),
                     ("memory", "latency")]),
    st.fixed_dictionaries(
        {"test_id": st.just("t"), "model": st.sampled_from(["a", "b"]),
         "variant": st.just("fp32"), "unit": st.just("s"), "value": value},
        optional={"samples": st.lists(positive, max_size=4) | st.lists(st.floats(), max_size=4),
                  "sample_labels": st.lists(st.sampled_from(["p0/s0", "p1/s0"]), max_size=3),
                  "details": details, "status": st.sampled_from(["ok", "error", "skipped", "x"]),
                  "direction": st.sampled_from(["lower", "higher", "up"]),
                  "verdict": st.one_of(st.none(), st.none(), st.just({"status": "regression"}),
                                       json_values)}),
).map(lambda pair: {**pair[1], "metric": pair[0][0], "kind": pair[0][1]})
near_valid = st.fixed_dictionaries({
    "schema_version": st.just(1), "run": json_values,
    "environment": st.one_of(*[st.just(ENV)] * 4, st.just(OTHER_ENV),
                             st.dictionaries(st.sampled_from(list(ENV)), json_values)),
    "results": st.lists(record_fields, min_size=1, max_size=4)})


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(document=json_values | near_valid)
def test_compare_any_json_exits_cleanly(document: Any, tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    if not base.exists():
        write_run(base, [latency("a", 1.0, 1), memory("a", 100), memory("b", 1e-3)])
    with tempfile.TemporaryDirectory() as scratch:
        new = Path(scratch) / "new.json"
        new.write_text(json.dumps(document), encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            for argv in (["compare", str(base), str(new)], ["compare", str(new), str(base)]):
                code = main(argv)
                assert code in (0, 1, 2)
                if code == 2:
                    assert len(err.getvalue().strip().splitlines()) == 1
                    assert "Traceback" not in err.getvalue()
                err.seek(0)
                err.truncate()


# ----------------------------------------------------------------------------- models


def test_models_lists_builtins_without_building_them() -> None:
    code = ("import sys; from pytest_vidbench.cli import main; rc = main(['models']); "
            "print('diffusers imported:', 'diffusers' in sys.modules); sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    for name, model in BUILTIN_MODELS.items():
        assert name in done.stdout and model.family in done.stdout
    assert "diffusers imported: False" in done.stdout  # no pipeline was built
    assert "--collect-only" in done.stdout


def test_models_shows_configured_entries(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.vidbench]\nmodels = ["wan-tiny", {name = "my-ltx", source = "org/LTX-Video", '
        'pipeline = "LTXPipeline", dtype = "bfloat16", generation = {num_frames = 17}, '
        "variants = [{compile = true}]}]\n", encoding="utf-8")
    code, out, _ = cli(capsys, "models")
    assert code == 0
    line = next(line for line in out.splitlines() if line.strip().startswith("my-ltx"))
    for text in ("pretrained", "org/LTX-Video", "LTXPipeline", "bfloat16", "bf16-compile",
                 "17×32×32"):
        assert text in line
    (tmp_path / "pyproject.toml").write_text('[tool.vidbench]\nmodels = ["nope"]\n')
    code, _, err = cli(capsys, "models")
    assert code == 2 and "unknown model 'nope'" in err


# -------------------------------------------------------------------------------- env


def test_env_reports_the_cpu_and_degrades_without_nvml(capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_vidbench.measure.trackers.nvml import NvmlUnavailable, nvml_module

    code, out, _ = cli(capsys, "env", "--strict")
    lines = out.splitlines()
    assert code == (1 if any(line.strip().startswith("WARN") for line in lines) else 0)
    assert cpu_model() in out
    assert any("torch threads: 1" in line for line in lines)
    try:
        nvml_module()
    except NvmlUnavailable:
        assert any("NVML unavailable:" in line for line in lines)
    code, out, _ = cli(capsys, "env", "--json")
    data = json.loads(out)
    assert code == 0 and data["environment_key"] == environment_key(data["environment"])
    assert data["warnings"] == sum(c["level"] == "warn" for c in data["checks"])


def test_env_says_what_a_first_run_here_needs(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_vidbench.store.baselines import BaselineStore

    _, out, _ = cli(capsys, "env")
    assert "has no baselines" in out
    assert "--vidbench-update-baselines --vidbench-runs 5" in out
    key = json.loads(cli(capsys, "env", "--json")[1])["environment_key"]
    store = BaselineStore(tmp_path / "baselines", key)
    baseline = None
    for run in range(5):
        baseline = store.updated(baseline, [latency("a", 1.0, run)], {}, 10, False,
                                 date=f"2026-01-01T00:00:0{run}")
    store.write(baseline)
    _, out, _ = cli(capsys, "env")
    assert "deep enough for the gate on every test" in out and "has no baselines" not in out


class FakeNvml:
    """Just enough of pynvml for one throttled GPU shared with another process."""

    NVML_CLOCK_SM, NVML_CLOCK_MEM = 1, 2

    class NVMLError(Exception):
        pass

    def nvmlDeviceGetClockInfo(self, handle: Any, clock: int) -> int:
        return 1200 if clock == 1 else 2600

    def nvmlDeviceGetMaxClockInfo(self, handle: Any, clock: int) -> int:
        raise self.NVMLError("not supported")

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any) -> int:
        return 0x1 | 0x40  # idle and hardware thermal slowdown

    def nvmlDeviceGetComputeRunningProcesses(self, handle: Any) -> list[Any]:
        return [type("P", (), {"pid": 4242, "usedGpuMemory": 512 * MIB})(),
                type("P", (), {"pid": 1, "usedGpuMemory": None})()]


def test_gpu_checks_flag_throttling_and_other_processes() -> None:
    checks, info = gpu_device_checks(FakeNvml(), "cuda:0", object(), own_pid=1)
    warned = {c.name: c.message for c in checks if c.level == "warn"}
    assert "hw_thermal_slowdown" in warned["throttle"] and "gpu_idle" not in warned["throttle"]
    assert "pid 4242 (512 MiB)" in warned["processes"]
    assert info["sm_clock_mhz"] == 1200 and info["sm_clock_max_mhz"] is None


# ---------------------------------------------------------------------------- history


def _baselines(directory: Path) -> dict[str, int]:
    """Two environments' files; returns test key -> runs recorded."""
    for env, runs in ((ENV, 3), (OTHER_ENV, 2)):
        store, baseline = BaselineStore(directory, environment_key(env)), None
        for run in range(runs):
            records = [latency("a", 1.0, run), memory("a", 100 + run)]
            baseline = store.updated(baseline, records, env, 10, prune=False)
        store.write(baseline)
    return {"a[fp32]::latency": 5, "a[fp32]::memory": 5}


def test_history_csv_and_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    expected = _baselines(tmp_path / "baselines")
    code, out, _ = cli(capsys, "history", "--csv", "h.csv")
    frame = pd.read_csv(tmp_path / "h.csv")
    assert code == 0 and "10 run(s)" in out
    assert tuple(frame.columns) == COLUMNS
    assert frame.groupby("key").size().to_dict() == expected
    ours = frame[frame.environment_key == KEY].sort_values(["key", "run"])
    assert ours[ours.metric == "memory"]["value"].tolist() == [100 * MIB, 101 * MIB, 102 * MIB]
    assert ours["run"].tolist() == [0, 1, 2, 0, 1, 2]
    code, out, _ = cli(capsys, "history")
    assert code == 0 and OTHER_KEY in out and "a[fp32]::latency" in out
    pytest.importorskip("pyarrow")
    code, _, _ = cli(capsys, "history", "--baselines", "baselines", "--parquet", "h.parquet")
    assert code == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "h.parquet"), frame,
                                  check_dtype=False)


def test_history_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                        monkeypatch: pytest.MonkeyPatch) -> None:
    _baselines(tmp_path / "baselines")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if the dev extra were missing
    code, _, err = cli(capsys, "history", "--parquet", "h.parquet")
    assert code == 2 and "pyarrow" in err and "pytest-vidbench[dev]" in err
    bad = tmp_path / "baselines" / f"{KEY}.json"
    bad.write_text('{"schema_version": 1, "tests": []}', encoding="utf-8")
    code, _, err = cli(capsys, "history")
    assert code == 2 and f"baselines/{KEY}.json" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli(capsys, "history", "--baselines", "nowhere")
    assert code == 2 and "nowhere" in err


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "--help")
    assert code == 0
    assert "exit status:" in out and "2  bad input" in out and "1  compare: a regression" in out
    doc = (Path(__file__).resolve().parents[1] / "docs" / "exit-codes.md").read_text()
    assert "| 2 |" in doc and "| 4 |" in doc


@pytest.mark.parametrize("content", [
    "[" * 100_000 + "]" * 100_000, '{"schema_version": ' + "9" * 5000 + "}",
    '{"schema_version": 1, "schema_version": 1}', '{"schema_version": NaN}',
])
def test_compare_hostile_json_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           content: str) -> None:
    good = write_run(tmp_path / "good.json", [memory("a", 100)])
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    for args in ([bad, good], [good, bad]):
        code, out, err = cli(capsys, "compare", *map(str, args))
        assert code == 2 and out == "" and str(bad) in err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert bad.read_text() == content


def test_merge_then_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write_run(tmp_path / "base.json", [latency("a", 1.0, 1), latency("b", 1.0, 2),
                                              memory("a", 100)])
    shard1 = write_run(tmp_path / "s1.json", [latency("a", 1.0, 3)])
    shard2 = write_run(tmp_path / "s2.json", [latency("b", 1.0, 4), memory("a", 300)])
    code, out, _ = cli(capsys, "merge", str(shard1), str(shard2), "-o", "all.json")
    assert code == 0 and "3 results from 2 shards" in out
    records, env, run = load_results(tmp_path / "all.json")
    assert [r.key for r in records] == ["a[fp32]::latency", "b[fp32]::latency",
                                        "a[fp32]::memory"]
    assert env == ENV and run["merged_from"] == [str(shard1), str(shard2)]
    code, out, _ = cli(capsys, "compare", str(base), "all.json", "--json", "out.json")
    assert code == 1 and "REGRESSION a [fp32] memory" in out
    assert statuses(tmp_path / "out.json")[2] == "regression"


@pytest.mark.parametrize(("env", "phrase"), [
    ({**ENV, "device_name": "Other CPU 7"}, "device_name 'Test CPU 9000' vs 'Other CPU 7'"),
    ({**ENV, "git_commit": "f" * 20}, "git_commit"),
])
def test_merge_refuses_other_environments_and_commits(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], env: dict[str, Any],
        phrase: str) -> None:
    one = write_run(tmp_path / "one.json", [latency("a", 1.0, 1)])
    two = write_run(tmp_path / "two.json", [latency("b", 1.0, 1)], env)
    code, _, err = cli(capsys, "merge", str(one), str(two), "-o", "all.json")
    assert code == 2 and str(one) in err and str(two) in err and phrase in err
    assert "different environments or commits" in err and not (tmp_path / "all.json").exists()


def test_merge_refuses_duplicate_results(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    one = write_run(tmp_path / "one.json", [latency("a", 1.0, 1)])
    two = write_run(tmp_path / "two.json", [latency("a", 1.1, 2)])
    code, _, err = cli(capsys, "merge", str(one), str(two), "-o", "all.json")
    assert code == 2 and f"a[fp32]::latency appears in both {one} and {two}" in err
    twice = write_run(tmp_path / "twice.json", [memory("a", 1), memory("a", 2)])
    code, _, err = cli(capsys, "merge", str(twice), str(one), "-o", "all.json")
    assert code == 2 and f"appears twice in {twice}" in err
    code, _, err = cli(capsys, "merge", str(one), "-o", "all.json")
    assert code == 2 and "at least two" in err


def test_a_merged_file_keeps_each_shards_timing_verdicts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A merged file cannot replay another machine's fresh processes: the timing verdicts
    stay those its shard reached; `baselines/` as BASE finds this environment's file."""
    store = BaselineStore(tmp_path / "baselines", KEY)
    baseline = None
    for run in range(6):
        records = [latency(m, 1.0, 100 * run + i) for i, m in enumerate(("a", "b", "c", "d"))]
        baseline = store.updated(baseline, records, ENV, 10, prune=False,
                                 date=f"2026-01-01T00:00:{run:02}", control=[0.01] * 10)
    store.write(baseline)
    one = [latency("a", 1.6, 7), latency("b", 1.0, 8)]
    two = [latency("c", 1.0, 9), latency("d", 1.0, 10)]
    # What shard 1 concluded with its own fresh processes: "a" did not come back.
    one[0].verdict = Verdict("unchanged", reason="the 2 fresh process(es) did not show it")
    for record in [one[1], *two]:
        record.verdict = Verdict("unchanged", reason="within the noise")
    write_run(tmp_path / "s1.json", one)
    write_run(tmp_path / "s2.json", two)
    assert cli(capsys, "merge", "s1.json", "s2.json", "-o", "all.json")[0] == 0
    code, out, _ = cli(capsys, "compare", "baselines", "all.json", "--json", "out.json")
    assert code == 0, out
    assert statuses(tmp_path / "out.json") == ["unchanged"] * 4
    assert "each shard's own" in out
    # The same file, not merged, is judged afresh: +60% alone, without fresh processes.
    write_run(tmp_path / "whole.json", [*one, *two])
    code, out, _ = cli(capsys, "compare", "baselines", "whole.json", "--json", "out.json")
    assert statuses(tmp_path / "out.json")[0] in ("regression", "suspicious")


def test_baselines_dir_without_this_environment_says_how_to_record(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "baselines").mkdir()
    write_run(tmp_path / "new.json", [latency("a", 1.0, 1)])
    code, _, err = cli(capsys, "compare", "baselines", "new.json")
    assert code == 2 and f"no baselines for {KEY}" in err
    assert "--vidbench-update-baselines" in err
