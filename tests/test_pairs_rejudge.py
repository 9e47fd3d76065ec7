"""Replaying a real run's recorded pairs (calibrate/pairs_rejudge.py) through the judge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_vidbench.calibrate.pairs_rejudge import rejudge
from pytest_vidbench.gate.side_by_side import PairPolicy

SERIES = Path(__file__).parent.parent / "docs/traces/side-by-side-2026-12-07/series"


@pytest.mark.parametrize("run", ["unchanged-s30", "injected-ltx-tiny-2-0.33-s11",
                                 "injected-sdpa-2-s81"])
def test_the_runs_own_policy_gives_back_the_verdicts_it_recorded(run: str) -> None:
    path = SERIES / f"{run}.json"
    recorded = {r["model"]: r["verdict"]["status"] for r in json.loads(path.read_text())["results"]
                if r["metric"] == "latency" and "look" in (r["verdict"].get("extra") or {})}
    replayed = {m: s.split(" at ")[0] for m, s in rejudge(path, PairPolicy(), 0.10)[0].items()}
    assert len(replayed) == 7 and replayed == recorded
    assert ("regression" in replayed.values()) == run.startswith("injected")


def test_a_policy_that_wants_more_pairs_than_were_recorded_says_so() -> None:
    # unchanged-s30 stopped at 8 pairs; looks at 8 and 16 pairs of both views want more.
    statuses, recorded = rejudge(SERIES / "unchanged-s30.json",
                                 PairPolicy(view="peers+control"), 0.10)
    assert recorded == 8
    assert "beyond" in statuses.values()
    assert "regression" not in {s.split(" at ")[0] for s in statuses.values()}
