"""Creep: slowdowns too small to fail one by one, judged against a pinned anchor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pytest_vidbench.config import Thresholds
from pytest_vidbench.gate.judge import Comparison, Judge
from pytest_vidbench.records import FreshRun, ResultRecord, RunContext
from pytest_vidbench.store.baselines import BaselineStore, parse_baseline
from pytest_vidbench.store.histories import histories

MODELS = 6
ENV = {"git_commit": "abc"}


def records(rng: np.random.Generator, levels: list[float]) -> list[ResultRecord]:
    out = []
    for i, level in enumerate(levels):
        value = 0.2 * level * float(np.exp(rng.normal(0, 0.02)))
        out.append(ResultRecord(test_id=f"t::b{i}", model=f"b{i}", variant="fp32",
                                metric="latency", kind="latency", unit="s", value=value,
                                samples=[value * f for f in (0.98, 0.99, 1.0, 1.01, 1.02)]))
    return out


def merges(pin: bool, creep: float = 1.04, count: int = 6) -> list[str]:
    """Ten calm runs (pinned or not), then `count` merges that each slow model 0 by `creep`,
    each judged and, when it passes, recorded the way an update would record it."""
    rng = np.random.default_rng(0)
    store = BaselineStore(Path("unused"), "k")
    baseline = None
    for r in range(10):
        baseline = store.updated(baseline, records(rng, [1.0] * MODELS), ENV, 10, False,
                                 date=f"2026-01-01T00:00:{r:02}", control=[0.02],
                                 pin="v1.0" if pin and r == 9 else None)
    statuses = []
    for merge in range(1, count + 1):
        levels = [creep**merge] + [1.0] * (MODELS - 1)
        now = records(rng, levels)

        def fresh(suspects: list[str], refs: list[str], levels=levels) -> FreshRun:
            again = {r.key: r.value for r in records(rng, levels)}
            return FreshRun({k: again[k] for k in [*suspects, *refs]}, 0.02, 6)

        Judge(Thresholds(), {}).judge(now, Comparison("k", histories(baseline), []),
                                      RunContext([0.02] * 3, 30), fresh)
        statuses.append(now[0].verdict.status)
        if now[0].verdict.status != "regression":
            baseline = store.updated(baseline, now, ENV, 10, False,
                                     date=f"2026-01-02T00:00:{merge:02}", control=[0.02])
    return statuses


def test_creep_of_four_percent_per_merge_is_flagged_within_four_merges_against_the_anchor():
    statuses = merges(pin=True)
    assert "regression" in statuses[:4]


def test_the_anchor_flags_creep_before_the_rolling_history_does():
    # The rolling window absorbs each passing merge, so it needs a larger total to notice.
    assert merges(pin=True).index("regression") < merges(pin=False).index("regression")


def test_an_anchor_is_kept_by_later_updates_and_replaced_only_by_a_new_pin():
    rng = np.random.default_rng(1)
    store = BaselineStore(Path("unused"), "k")
    first = store.updated(None, records(rng, [1.0]), ENV, 10, False, pin="v1")
    later = store.updated(first, records(rng, [1.0]), ENV, 10, False)
    entry = later.tests["b0[fp32]::latency"]
    assert entry.anchor_label == "v1" and len(entry.anchor) == 1 and len(entry.history) == 2
    again = store.updated(later, records(rng, [1.0]), ENV, 10, False, pin="v2")
    assert again.tests["b0[fp32]::latency"].anchor_label == "v2"
    assert len(again.tests["b0[fp32]::latency"].anchor) == 3
    text = json.dumps(again.to_json())
    assert parse_baseline(text, Path("x.json")).tests["b0[fp32]::latency"].anchor_label == "v2"
    # A file without an anchor keeps the shape it had before anchors existed.
    plain = store.updated(None, records(rng, [1.0]), ENV, 10, False).to_json()
    assert "anchor" not in plain["tests"]["b0[fp32]::latency"]


@pytest.mark.parametrize("args, message", [
    (["--vidbench-pin-anchor", "v1"], "add --vidbench-update-baselines"),
    (["--vidbench-update-baselines", "--vidbench-pin-anchor", " "], "short printable label"),
])
def test_pinning_needs_an_update_and_a_label(pytester, args, message):
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--vidbench", *args)
    assert result.ret != 0
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_the_pin_option_is_documented(pytester):
    pytester.runpytest("--help").stdout.fnmatch_lines(["*--vidbench-pin-anchor*"])
