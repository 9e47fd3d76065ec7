"""`--vidbench-against REF` end to end: a git project whose head commit changes its code.

The slowdown is a 50 ms sleep on a call of about 1 ms, committed in head's conftest.py (the
code under test): base's worktree does not have it, so only head's processes sleep.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from plugin_project import results, write_project

from pytest_vidbench.measure.arms import foreign_modules

SLOW = '''
import time as _time

_make = make_generator


def make_generator(kind):
    generate = _make(kind)

    def slower(prompt, seed):
        if kind == "toy":
            _time.sleep(0.05)
        return generate(prompt, seed)
    return slower
'''


BIGGER = '''
_make = make_generator


def make_generator(kind):
    generate = _make(kind)

    def bigger(prompt, seed):
        frames = generate(prompt, seed)
        if kind == "toy":
            buffer = torch.ones(64 * 2**18)  # 64 MiB more, pages touched
            frames = frames + 0 * buffer[0]
        return frames
    return bigger
'''


CHANGED = '''
_make_unchanged = make_generator


def make_generator(kind):
    generate = _make_unchanged(kind)

    def changed(prompt, seed):
        frames = generate(prompt, seed)
        return 1 - frames if kind == "toy" else frames
    return changed
'''


def git(path: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          cwd=path, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def commit(pytester: pytest.Pytester, message: str) -> str:
    git(pytester.path, "add", "-A")
    git(pytester.path, "commit", "-q", "-m", message)
    return git(pytester.path, "rev-parse", "HEAD")


@pytest.fixture
def repo(pytester: pytest.Pytester) -> pytest.Pytester:
    write_project(pytester, metrics=("latency",), models=("toy",))
    git(pytester.path, "init", "-q")
    commit(pytester, "base")
    return pytester


def test_a_slowdown_in_heads_code_fails_the_gate_and_a_test_base_lacks_is_new(
        repo: pytest.Pytester) -> None:
    base = git(repo.path, "rev-parse", "HEAD")
    conftest = repo.path / "conftest.py"
    # Head slows toy in its own code, and adds a model that base does not have.
    text = conftest.read_text().replace("def pytest_vidbench_models", SLOW +
                                        "\n\ndef pytest_vidbench_models")
    conftest.write_text(text)
    pyproject = repo.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('models = ["toy"]',
                                                       'models = ["toy", "old"]'))
    head = commit(repo, "head: slower toy, new model old")
    run = repo.runpytest("--vidbench", "--vidbench-against", "HEAD~1",
                         "--vidbench-pair-looks", "4", "--vidbench-pair-seed", "7",
                         "--vidbench-markdown=comment.md")
    assert run.ret == pytest.ExitCode.TESTS_FAILED, run.stdout.str()
    found = {r["model"]: r["verdict"] for r in results(repo)["results"]}
    assert found["toy"]["status"] == "regression"
    assert found["toy"]["extra"]["process_pairs"] == 4 and found["toy"]["change_pct"] > 1000
    assert found["old"]["status"] == "new" and "base has no such test" in found["old"]["reason"]
    side = results(repo)["run"]["side_by_side"]
    assert (side["base_commit"], side["head_commit"], side["seed"]) == (base, head, 7)
    assert len(side["pairs"]) == 4 and len(side["warmup"]) == 1
    assert sorted(p["base_first"] for p in side["pairs"]) == [False, False, True, True]
    for pair in side["pairs"]:  # only head's processes ran head's code
        assert pair["head"]["values"]["toy[fp32]::latency"] > 0.05
        assert pair["base"]["values"]["toy[fp32]::latency"] < 0.05
    comment = (repo.path / "comment.md").read_text()
    assert f"head {head[:12]} vs base {base[:12]} (HEAD\\~1)" in comment
    assert "4 pairs side by side, order seed 7" in comment and "4 pairs: interval" in comment
    assert git(repo.path, "worktree", "list").count("\n") == 0  # the base worktree is gone


def test_memory_and_fidelity_are_judged_against_bases_own_process(
        pytester: pytest.Pytester) -> None:
    write_project(pytester, metrics=("memory", "psnr"), models=("toy",))
    git(pytester.path, "init", "-q")
    commit(pytester, "base")
    same = pytester.runpytest("--vidbench", "--vidbench-against", "HEAD")  # no stored clip
    assert same.ret == pytest.ExitCode.OK, same.stdout.str()
    found = {r["metric"]: r["verdict"] for r in results(pytester)["results"]}
    assert found["memory"]["status"] == "unchanged"
    assert found["psnr"]["status"] == "unchanged"
    assert set(found["psnr"]["extra"]["vs_base"].values()) == {100.0}  # identical frames
    conftest = pytester.path / "conftest.py"
    conftest.write_text(conftest.read_text().replace(
        "def pytest_vidbench_models", BIGGER + CHANGED + "\n\ndef pytest_vidbench_models"))
    commit(pytester, "head: toy takes 64 MiB more, and its frames are inverted")
    changed = pytester.runpytest("--vidbench", "--vidbench-against", "HEAD~1",
                                 "--vidbench-markdown=comment.md")
    assert changed.ret == pytest.ExitCode.TESTS_FAILED, changed.stdout.str()
    found = {r["metric"]: r["verdict"] for r in results(pytester)["results"]}
    memory, psnr = found["memory"], found["psnr"]
    assert memory["status"] == "regression" and memory["method"] == "paired/tolerance"
    (warm,) = results(pytester)["run"]["side_by_side"]["warmup"]
    base, head = warm["base"]["values"]["toy[fp32]::memory"], \
        warm["head"]["values"]["toy[fp32]::memory"]
    assert head - base >= 60 * 2**20 and memory["baseline"] == base
    assert psnr["status"] == "regression" and psnr["method"] == "paired/floor"
    assert max(psnr["extra"]["vs_base"].values()) < 30  # the floor
    assert psnr["extra"]["aa_worst"] == 100.0  # head's own two processes agree exactly
    assert "--vidbench-accept-output-change" in psnr["reason"]
    assert "2 regressions" in (pytester.path / "comment.md").read_text()
    assert results(pytester)["run"]["side_by_side"]["pairs"] == []  # neither needs pairs
    accepted = pytester.runpytest("--vidbench", "--vidbench-against", "HEAD~1",
                                  "--vidbench-accept-output-change")
    assert accepted.ret == pytest.ExitCode.TESTS_FAILED  # the memory regression still fails
    found = {r["metric"]: r["verdict"] for r in results(pytester)["results"]}
    assert found["psnr"]["status"] == "new" and found["psnr"]["extra"]["accepted_change"]
    assert found["memory"]["status"] == "regression"


@pytest.mark.parametrize(("args", "message"), [
    (["--vidbench-against", "no-such-ref"], "*no such revision*"),
    (["--vidbench-against", "HEAD", "--vidbench-update-baselines"], "*records nothing*"),
    (["--vidbench-against", "HEAD", "--vidbench-pair-looks", "3,8"], "*even pair counts*"),
])
def test_what_cannot_be_compared_exits_4_before_measuring(
        repo: pytest.Pytester, args: list[str], message: str) -> None:
    run = repo.runpytest("--vidbench", *args)
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines([message])
    assert not (repo.path / ".vidbench" / "results.json").exists()


def test_outside_a_git_repository_the_error_says_so(pytester: pytest.Pytester) -> None:
    write_project(pytester, metrics=("latency",))
    run = pytester.runpytest("--vidbench", "--vidbench-against", "HEAD")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines(["*needs a git repository*"])


def test_a_base_that_cannot_collect_exits_4_and_writes_nothing(repo: pytest.Pytester) -> None:
    conftest = repo.path / "conftest.py"
    good = conftest.read_text()
    conftest.write_text(good + "\nraise ImportError('broken in base')\n")
    commit(repo, "a broken base")
    conftest.write_text(good)
    commit(repo, "head: fixed")
    run = repo.runpytest("--vidbench", "--vidbench-against", "HEAD~1")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stdout.fnmatch_lines(["*the base arm*could not collect its benchmarks*",
                              "*nothing was judged or written (exit 4)*"])
    assert not (repo.path / ".vidbench" / "results.json").exists()


def test_an_arm_process_measures_exactly_the_keys_it_is_given(
        pytester: pytest.Pytester) -> None:
    write_project(pytester, metrics=("latency",), models=("toy", "old"))
    keys = pytester.path / "keys.txt"
    keys.write_text("old[fp32]::latency\n")
    run = pytester.runpytest("--vidbench", f"--vidbench-only-keys={keys}")
    run.assert_outcomes(passed=1, deselected=1)
    assert [r["model"] for r in results(pytester)["results"]] == ["old"]


def test_the_import_check_names_modules_of_the_other_tree(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "other_tree_module.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import other_tree_module  # noqa: F401

    assert foreign_modules(tmp_path) == [str((tmp_path / "other_tree_module.py").resolve())]
    assert foreign_modules(Path(sys.prefix)) == []  # installed packages are not tree code
    monkeypatch.delitem(sys.modules, "other_tree_module")
