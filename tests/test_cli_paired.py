"""`vidbench compare` and `vidbench merge` on side-by-side runs: the PR comment job's path.

The paired verdicts come from pairs of head and base processes that no baseline file holds,
so rendering a run (or its merged shards) against baselines/ must keep them, name both
trees and every shard's seed, and work on a runner that has no baselines at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_vidbench.cli import main
from pytest_vidbench.measure.environment import environment_key
from pytest_vidbench.records import ResultRecord, Verdict
from pytest_vidbench.records.pairs import ArmRun, Pair, SideBySide
from pytest_vidbench.store.baselines import BaselineStore
from pytest_vidbench.store.results import load_results, results_document, write_results

ENV = {"device_kind": "cpu", "device_name": "Test CPU 9000", "torch": "2.13.0+cpu",
       "git_commit": "0123456789abcdef0123", "git_dirty": False}
KEY = environment_key(ENV)
BASE, HEAD = "b" * 40, "0123456789abcdef0123"


def paired(model: str, status: str, change: float, pairs: int = 16) -> ResultRecord:
    """A latency record with the verdict a side-by-side run stores (gate/side_by_side.py)."""
    verdict = Verdict(status, baseline=1.0, change_pct=change, method="paired-crossover-t/control",
                      reason=f"head against base over {pairs} pairs", remeasured=True,
                      extra={"process_pairs": pairs, "look": 2, "head_median": 1 + change / 100,
                             "change_interval_pct": [change - 8, change + 8],
                             "detectable_pct": 12.0, "view": "control"})
    test_id = f"benchmarks/test_vidbench.py::test_benchmark[{model}-fp32-latency]"
    return ResultRecord(test_id=test_id, model=model, variant="fp32", metric="latency",
                        kind="latency", unit="s", value=1 + change / 100,
                        samples=[1 + change / 100] * 6, verdict=verdict)


def side_by_side(seed: int, base: str = BASE, n: int = 2) -> dict:
    pair = Pair(ArmRun("base", {"k": 1.0}, 0.5), ArmRun("head", {"k": 1.3}, 0.5), True)
    return SideBySide("main", base, HEAD, "t1", "t2", False, seed, [pair] * n).to_json()


def write(path: Path, records: list[ResultRecord], sbs: dict | None) -> Path:
    run = {"warmup": 1, "rounds": 5, "calls_per_round": 2, "side_by_side": sbs}
    write_results(path, results_document(records, ENV, run))
    return path


def history_file(tmp_path: Path, model: str) -> Path:
    """baselines/ with a 3-run history of `model` at 1.0 s, recorded by the store's own
    update path."""
    store, current = BaselineStore(tmp_path / "baselines", KEY), None
    for i in range(3):
        record = paired(model, "unchanged", 0.0)
        record.value, record.samples, record.verdict = 1.0 + i / 1000, [1.0 + i / 1000] * 6, None
        current = store.updated(current, [record], ENV, 10, prune=False)
    assert current is not None
    store.write(current)
    return store.path


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def statuses(path: Path) -> dict[str, str | None]:
    return {r.model: r.verdict.status if r.verdict else None for r in load_results(path)[0]}


def test_a_runner_without_baselines_renders_the_paired_verdicts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = write(tmp_path / "new.json", [paired("a", "regression", 30.0),
                                        paired("b", "unchanged", 1.0)], side_by_side(7))
    (tmp_path / "baselines").mkdir()
    code = main(["compare", "baselines/", str(new), "--markdown", "c.md", "--json", "o.json"])
    assert code == 1  # the paired regression still fails the gate
    assert statuses(tmp_path / "o.json") == {"a": "regression", "b": "unchanged"}
    comment = (tmp_path / "c.md").read_text()
    assert f"head {HEAD[:12]} vs base {BASE[:12]} (main)" in comment
    assert "order seed 7" in comment and "16 pairs" in comment
    assert "the control workload ran" not in comment
    assert "side by side: latency, energy, memory and fidelity verdicts are the run's own" in \
        capsys.readouterr().out


def test_a_control_that_moved_between_the_arms_is_warned_about(tmp_path: Path) -> None:
    sbs = side_by_side(7) | {"control_change_pct": -18.0, "control_p": 1e-6}
    new = write(tmp_path / "new.json", [paired("a", "regression", 30.0)], sbs)
    (tmp_path / "baselines").mkdir()
    main(["compare", "baselines/", str(new), "--markdown", "c.md"])
    assert "the control workload ran -18.0% in head against base" in \
        (tmp_path / "c.md").read_text()


def test_a_paired_memory_verdict_is_kept_too(tmp_path: Path) -> None:
    verdict = Verdict("regression", baseline=50 * 2**20, change_pct=128.0,
                      method="paired/tolerance", reason="head against base's process",
                      extra={"paired": True})
    memory = ResultRecord(test_id="benchmarks/test_vidbench.py::test_benchmark[a-fp32-memory]",
                          model="a", variant="fp32", metric="memory", kind="memory", unit="B",
                          value=114 * 2**20, samples=[114 * 2**20], verdict=verdict)
    new = write(tmp_path / "new.json", [paired("a", "unchanged", 0.0), memory],
                side_by_side(2))
    (tmp_path / "baselines").mkdir()
    assert main(["compare", "baselines/", str(new), "--json", "o.json"]) == 1
    kinds = {r.kind: r.verdict.status for r in load_results(tmp_path / "o.json")[0]}
    assert kinds == {"latency": "unchanged", "memory": "regression"}


def test_a_run_not_side_by_side_still_needs_its_baselines(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = write(tmp_path / "new.json", [paired("a", "unchanged", 0.0)], None)
    (tmp_path / "baselines").mkdir()
    assert main(["compare", "baselines/", str(new)]) == 2
    assert f"no baselines for {KEY}" in capsys.readouterr().err


def test_the_history_cannot_overrule_the_pairs(tmp_path: Path) -> None:
    """1.3 s against a history at 1.0 s: history mode would call it a regression; the pairs
    said unchanged, and the comment says what the pairs said."""
    baselines = history_file(tmp_path, "a")
    plain = write(tmp_path / "plain.json", [paired("a", "unchanged", 30.0)], None)
    assert main(["compare", str(baselines), str(plain), "--json", "p.json"]) == 1
    assert statuses(tmp_path / "p.json") == {"a": "regression"}
    new = write(tmp_path / "new.json", [paired("a", "unchanged", 30.0)], side_by_side(1))
    assert main(["compare", str(baselines), str(new), "--json", "o.json"]) == 0
    assert statuses(tmp_path / "o.json") == {"a": "unchanged"}


def test_merged_shards_keep_every_pair_and_every_seed(tmp_path: Path) -> None:
    one = write(tmp_path / "s1.json", [paired("a", "regression", 30.0)], side_by_side(3, n=2))
    two = write(tmp_path / "s2.json", [paired("b", "unchanged", 0.0)], side_by_side(9, n=3))
    assert main(["merge", str(one), str(two), "-o", "all.json"]) == 0
    run = json.loads((tmp_path / "all.json").read_text())["run"]["side_by_side"]
    assert len(run["pairs"]) == 5 and run["shard_seeds"] == [3, 9]
    (tmp_path / "baselines").mkdir()
    assert main(["compare", "baselines/", "all.json", "--markdown", "c.md"]) == 1
    assert "5 pairs side by side in 2 shards, order seeds 3, 9" in (tmp_path / "c.md").read_text()


def test_a_cancelled_shard_merges_without_pairs(tmp_path: Path) -> None:
    one = write(tmp_path / "s1.json", [paired("a", "unchanged", 0.0)], side_by_side(3))
    two = tmp_path / "s2.json"
    write_results(two, results_document([paired("b", "unchanged", 0.0)], ENV, {
        "warmup": 1, "rounds": 5, "calls_per_round": 2, "interrupted": True}))
    assert main(["merge", str(one), str(two), "-o", "all.json"]) == 0
    run = json.loads((tmp_path / "all.json").read_text())["run"]
    assert run["interrupted"] is True and run["side_by_side"]["shard_seeds"] == [3]


@pytest.mark.parametrize("other", [None, "other-base"])
def test_merge_refuses_shards_of_other_comparisons(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], other: str | None) -> None:
    one = write(tmp_path / "s1.json", [paired("a", "unchanged", 0.0)], side_by_side(3))
    two = write(tmp_path / "s2.json", [paired("b", "unchanged", 0.0)],
                side_by_side(3, base="c" * 40) if other else None)
    assert main(["merge", str(one), str(two), "-o", "all.json"]) == 2
    err = capsys.readouterr().err
    assert ("compared different trees" if other else "did not run side by side") in err
    assert not (tmp_path / "all.json").exists()
