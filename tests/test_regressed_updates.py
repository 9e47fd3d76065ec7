"""An update of a run that regressed: refused by default, recorded and flagged on purpose."""

from __future__ import annotations

import json

import pytest
from plugin_project import baseline_files, write_project

from pytest_vidbench.cli import main


def test_a_regressed_run_is_refused_then_recorded_flagged_on_purpose(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys):
    write_project(pytester, metrics=("memory",))
    pytester.runpytest("--vidbench", "--vidbench-update-baselines").assert_outcomes(passed=1)
    (path,) = baseline_files(pytester)
    before = path.read_bytes()
    assert b'"regressed"' not in before  # unflagged runs keep the file's old shape
    monkeypatch.setenv("TOY_EXTRA_MIB", "96")
    refused = pytester.runpytest("--vidbench", "--vidbench-update-baselines")
    refused.stdout.fnmatch_lines(["*baselines NOT updated: this run regressed "
                                  "(toy[[]fp32[]]::memory)*--vidbench-accept-regressions*"])
    assert path.read_bytes() == before
    accepted = pytester.runpytest("--vidbench", "--vidbench-update-baselines",
                                  "--vidbench-accept-regressions")
    accepted.stdout.fnmatch_lines(["*recorded on purpose although it regressed: "
                                   "toy[[]fp32[]]::memory; their new history entries are "
                                   "flagged*"])
    history = json.loads(path.read_text())["tests"]["toy[fp32]::memory"]["history"]
    assert [run.get("regressed") for run in history] == [None, True]
    # The flag is part of the stored format: it reads back, and the history table shows it.
    monkeypatch.chdir(pytester.path)
    assert main(["history", "--csv", "history.csv"]) == 0
    rows = (pytester.path / "history.csv").read_text().splitlines()
    assert rows[0].endswith(",regressed") and rows[1].endswith(",False") \
        and rows[2].endswith(",True")


def test_a_flag_that_is_not_a_boolean_is_refused_naming_the_entry(pytester: pytest.Pytester):
    write_project(pytester, metrics=("memory",))
    pytester.runpytest("--vidbench", "--vidbench-update-baselines")
    (path,) = baseline_files(pytester)
    document = json.loads(path.read_text())
    document["tests"]["toy[fp32]::memory"]["history"][0]["regressed"] = "yes"
    path.write_text(json.dumps(document))
    run = pytester.runpytest("--vidbench")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines(["*history[[]0[]].regressed must be true or false*"])
