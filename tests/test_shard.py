"""`--vidbench-shard K/N`: disjoint shards that cover the suite, split by model, stable."""

from __future__ import annotations

import random
import re

import pytest
from plugin_project import write_project

from pytest_vidbench.scale.shard import assign, parse_shard, stable_hash

SHARD = ("-p", "pytest_vidbench.shard")
# Six built-in models, one with an extra variant, and a conftest-registered generator: only
# collected here, never built.
MODELS = ('["wan-tiny", "ltx-tiny", "cogvideox-tiny", "hunyuan-tiny", "t2vsd-tiny", "toy", '
          '{name = "animatediff-tiny", variants = [{dtype = "bfloat16"}]}]')
PLAIN_TEST = "def test_not_a_benchmark():\n    pass\n"


def collected(pytester: pytest.Pytester, *args: str) -> list[str]:
    run = pytester.runpytest("--collect-only", "-q", *SHARD, *args)
    assert run.ret == pytest.ExitCode.OK, run.stdout.str()
    return [line for line in run.stdout.lines if "::" in line]


def model(nodeid: str) -> str:
    # test_bench.py::test_benchmark[wan-tiny-fp32-latency] -> wan-tiny
    match = re.search(r"\[(.+)-(fp32|bf16)-", nodeid)
    assert match, nodeid
    return match.group(1)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    write_project(pytester, models=MODELS)
    pytester.makepyfile(test_plain=PLAIN_TEST)
    return pytester


def test_shards_partition_the_suite_by_model(project: pytest.Pytester) -> None:
    everything = collected(project)
    plain = [n for n in everything if "test_plain" in n]
    bench = set(everything) - set(plain)
    assert len(bench) == 8 * 4 and len(plain) == 1  # 8 model variants x 4 metrics
    for total in (2, 3):
        shards = [collected(project, "--vidbench-shard", f"{k}/{total}")
                  for k in range(1, total + 1)]
        benchmarks = [set(s) - set(plain) for s in shards]
        assert set().union(*benchmarks) == bench
        assert sum(map(len, benchmarks)) == len(bench)  # disjoint
        assert all(plain[0] in s for s in shards)  # other tests run on every shard
        models = [{model(n) for n in s} for s in benchmarks]
        assert all(a.isdisjoint(b) for i, a in enumerate(models) for b in models[i + 1:])
        sizes = [len(m) for m in models]
        assert max(sizes) - min(sizes) <= 1, models


def test_a_shard_is_the_same_on_every_run_and_reports_the_deselected(
        project: pytest.Pytester) -> None:
    first = collected(project, "--vidbench-shard", "2/2")
    assert collected(project, "--vidbench-shard", "2/2") == first
    run = project.runpytest("--collect-only", "-q", *SHARD, "--vidbench-shard", "2/2")
    total = len(collected(project))
    run.stdout.fnmatch_lines([f"{len(first)}/{total} tests collected "
                              f"({total - len(first)} deselected)*"])


@pytest.mark.parametrize(("text", "hint"), [
    ("3/2", "K must be between 1 and 2, e.g. --vidbench-shard 2/2"),
    ("0/2", "K must be between 1 and 2, e.g. --vidbench-shard 1/2"),
    ("1/0", "N must be at least 1"),
    ("half", "write K/N, e.g. --vidbench-shard 1/4"),
])
def test_a_bad_shard_is_a_usage_error_that_names_the_fix(
        pytester: pytest.Pytester, text: str, hint: str) -> None:
    write_project(pytester)
    run = pytester.runpytest("--collect-only", *SHARD, "--vidbench-shard", text)
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines([f"*--vidbench-shard*{hint}*"])


def test_parse_shard_accepts_k_of_n() -> None:
    assert parse_shard("1/1") == (1, 1)
    assert parse_shard(" 3 / 4 ") == (3, 4)


def test_assignment_ignores_order_and_balances_models() -> None:
    counts = {f"model-{i}": 1 + i % 3 for i in range(11)}
    names = list(counts)
    for seed in range(5):
        random.Random(seed).shuffle(names)
        shuffled = {name: counts[name] for name in names}
        assert assign(shuffled, 4) == assign(counts, 4)
    placed = assign(counts, 4)
    per_shard = [sum(1 for s in placed.values() if s == k) for k in range(1, 5)]
    assert sorted(per_shard) == [2, 3, 3, 3]
    assert assign(counts, 1) == dict.fromkeys(counts, 1)


def test_the_hash_does_not_depend_on_the_process() -> None:
    # sha256-based, unlike hash(str), which PYTHONHASHSEED salts per process: a pinned value.
    assert stable_hash("wan-tiny") == 0xF393CE8753DC2B9C


def test_each_shard_judges_at_alpha_over_n(pytester: pytest.Pytester) -> None:
    """N shards gate separately: each at α/N keeps the family-wise rate of the whole suite."""
    import json
    from pathlib import Path

    write_project(pytester, models=("toy", "old"), metrics=("latency",))
    for shard, alpha in ((None, 0.01), ("1/2", 0.005), ("2/3", 0.01 / 3)):
        args = ["--vidbench-shard", shard] if shard else []
        run = pytester.runpytest("--vidbench", *SHARD, *args)
        assert run.ret == 0, run.stdout.str()
        document = json.loads((Path(pytester.path) / ".vidbench" / "results.json").read_text())
        assert document["run"]["alpha"] == pytest.approx(alpha)
