"""cpu_huge_pages: torch's THP_MEM_ALLOC_ENABLE set before torch starts, and keyed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from plugin_project import CONFTEST, write_project

from pytest_vidbench.measure.environment import environment_key
from pytest_vidbench.store.baselines import baseline_environment

VARIABLE = "THP_MEM_ALLOC_ENABLE"
# The project's conftest writes what it sees at import: what torch will read.
SEEN = ("\nimport os as _os\n"
        "open('seen.txt', 'w').write(_os.environ.get('THP_MEM_ALLOC_ENABLE', 'unset'))\n")


def _fresh(code: str, **env: str) -> str:
    """`code` in a new interpreter (no torch loaded unless it imports it); its stdout."""
    environ = {k: v for k, v in os.environ.items() if k != VARIABLE} | env
    return subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True,
                          text=True, check=True, timeout=120).stdout.strip()


def test_asking_sets_the_variable_only_before_torch_and_never_over_the_users():
    ask = ("import os; from pytest_vidbench.measure import huge_pages as h; {}h.request({}); "
           "print(os.environ.get(h.VARIABLE), h.active())")
    assert _fresh(ask.format("", True)) == "1 True"
    assert _fresh(ask.format("", False)) == "0 False"
    assert _fresh(ask.format("", True), THP_MEM_ALLOC_ENABLE="0") == "0 False"
    # Too late once torch is loaded: nothing is set, and the state says so.
    assert _fresh(ask.format("import torch; ", True)) == "None False"


def test_settling_hands_this_process_state_to_its_children():
    settle = ("import os, torch; from pytest_vidbench.measure import huge_pages as h; "
              "print(h.settle(), os.environ[h.VARIABLE])")
    assert _fresh(settle) == "False 0"
    assert _fresh(settle, THP_MEM_ALLOC_ENABLE="1") == "True 1"


@pytest.mark.parametrize(("setting", "seen", "suffix"), [
    ("", "1", "-thp"), ("cpu_huge_pages = false", "0", ""),
])
def test_a_benchmark_run_sets_it_before_the_conftests_and_keys_its_baselines(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, setting, seen, suffix):
    monkeypatch.delenv(VARIABLE, raising=False)
    write_project(pytester, metrics=("latency",), extra=setting)
    pytester.makeconftest(CONFTEST + SEEN)
    if seen == "1":  # not a benchmark run: the user's tests get their environment untouched
        pytester.runpytest_subprocess("-p", "no:cacheprovider", "--co", "-q")
        assert (Path(pytester.path) / "seen.txt").read_text() == "unset"
    run = pytester.runpytest_subprocess("--vidbench", "--vidbench-update-baselines",
                                        "-p", "no:cacheprovider")
    assert run.ret == 0, run.stdout.str()
    assert (Path(pytester.path) / "seen.txt").read_text() == seen
    environment = json.loads((Path(pytester.path) / ".vidbench" / "results.json")
                             .read_text())["environment"]
    assert environment["cpu_huge_pages"] is (seen == "1")
    files = list((Path(pytester.path) / "baselines").glob("*.json"))
    assert [f.stem for f in files] == [environment_key(environment)]
    assert files[0].stem.endswith("-thp") is (suffix == "-thp")


def test_huge_pages_are_part_of_the_key_and_of_a_baseline_files_environment():
    env = {"device_kind": "cpu", "device_name": "AMD EPYC", "torch": "2.13.0"}
    assert environment_key(env) == "cpu-amd-epyc-torch2.13"
    assert environment_key({**env, "cpu_huge_pages": False}) == "cpu-amd-epyc-torch2.13"
    assert environment_key({**env, "cpu_huge_pages": True}) == "cpu-amd-epyc-torch2.13-thp"
    assert "cpu_huge_pages" not in baseline_environment({**env, "cpu_huge_pages": False})
    assert baseline_environment({**env, "cpu_huge_pages": True})["cpu_huge_pages"] is True
