"""The PR comment for fixed inputs, byte for byte: a restructuring must not change it.

Inputs: results files recorded at commit 035372f (tests/data/pre_restructure/), judged offline
by `vidbench compare` against the baseline file of that time. When a change of the verdicts
or of the rendering is intended, regenerate the expected files and review their diff:

    VIDBENCH_UPDATE_GOLDEN=1 pytest tests/test_golden_report.py
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pytest_vidbench.cli import main

DATA = Path(__file__).parent / "data"
INPUTS = DATA / "pre_restructure"
GOLDEN = DATA / "golden"


@pytest.mark.parametrize("run", ["plain", "slowed"])
def test_the_comment_for_recorded_runs_is_unchanged(run, tmp_path, monkeypatch):
    for name in ("baseline.json", f"{run}.json"):
        shutil.copy(INPUTS / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)  # relative paths in the output; no pyproject.toml: defaults
    assert main(["compare", "baseline.json", f"{run}.json", "--markdown", "out.md",
                 "--report-only"]) == 0
    produced = (tmp_path / "out.md").read_text(encoding="utf-8")
    expected = GOLDEN / f"compare-{run}.md"
    if os.environ.get("VIDBENCH_UPDATE_GOLDEN") == "1":
        expected.write_text(produced, encoding="utf-8")
    assert produced == expected.read_text(encoding="utf-8")
