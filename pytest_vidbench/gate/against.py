"""The timing family of a side-by-side run: every timing test paired, or screened first.

By default every timing test is paired. With `PairPolicy.screen` and a history on this
machine, the run's own measurement screens as in history mode (gate/decide.py) and only what
the screen does not clear is paired: cheaper, but on this machine's noise the screen hides
about one +25% regression in five (docs/side-by-side.md). Either way a regression is
decided on the pairs alone (gate/side_by_side.py), so drift between the history and today
can no longer fail the gate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from pytest_vidbench.gate.confirm import Policy
from pytest_vidbench.gate.decide import TimingInput, decide, stage1
from pytest_vidbench.gate.history import TestHistory
from pytest_vidbench.gate.pair_views import BOTH, PEERS
from pytest_vidbench.gate.side_by_side import (
    PairedFamily,
    PairedTest,
    PairPolicy,
    judge_pairs,
)
from pytest_vidbench.records import ResultRecord, Verdict
from pytest_vidbench.records.pairs import Pair, PairedFidelity

if TYPE_CHECKING:
    from pytest_vidbench.quality.registry import QualityMetric

CLEARED = ("unchanged", "improvement")  # screen verdicts that need no pairs


class Pairing(Protocol):
    """Measures base and head in pairs of fresh processes (measure/schedule.py)."""

    policy: PairPolicy

    @property
    def warmed(self) -> Pair | None:
        """The warm-up pair, once it ran."""

    def base_lacks(self, keys: list[str]) -> set[str]:
        """Runs the warm-up pair (the first call only: later keys must be among the first
        call's); returns the keys that base has no test for."""

    def measure(self, keys: list[str], count: int) -> list[Pair]: ...

    def fidelity(self, record: ResultRecord, metric: QualityMetric) -> PairedFidelity:
        """Head's frames of a fidelity test scored against the warm-up pair's clips."""

    def finished(self, family: PairedFamily) -> None:
        """Hands the analysed pairs back for the results file."""


def judge_against(timing: Sequence[tuple[ResultRecord, TestHistory | None]],
                  histories: dict[str, TestHistory], control: float | None, policy: Policy,
                  min_effect: dict[str, float], pairing: Pairing) -> dict[str, Verdict]:
    """A verdict for every timing record of the run."""
    screen = pairing.policy.screen
    known = [(r, t) for r, t in timing if t is not None and screen]
    verdicts: dict[str, Verdict] = {}
    to_pair = [r.key for r, t in timing if t is None or not screen]
    if known:
        inputs = [TimingInput(r.key, r.kind, float(r.value or 0), tuple(r.samples),
                              min_effect[r.key]) for r, _ in known]
        s1 = stage1(inputs, histories, control, policy)
        screened = decide(s1, replace(policy, fail_closed=False), confirmed=False, failed=None)
        screened.update(s1.short)
        # The loose screen of history mode's fresh processes (unadjusted p ≤ screen_p and half
        # the minimum effect): a suspect that the run alone cannot prove is paired, never
        # cleared, or the screen would hide most regressions (docs/side-by-side.md).
        suspects = {c.key for c in s1.candidates if c.suspect(policy.screen_p)}
        for key, v in screened.items():
            if v.status in CLEARED and key not in suspects:
                v.reason = f"history screen, never paired: {v.reason}"
                v.extra.update({"screened": True, "paired": False})
                verdicts[key] = v
            else:
                to_pair.append(key)
    if not to_pair:
        return verdicts
    by_speed = sorted((r for r, _ in timing if r.kind == "latency" and r.key not in to_pair),
                      key=lambda r: r.value or 0)
    peers = pairing.policy.view in (PEERS, BOTH)
    refs = [r.key for r in by_speed[:policy.references]] if peers else []
    lacking = pairing.base_lacks(to_pair + refs)
    for key in to_pair:
        if key in lacking:
            verdicts[key] = Verdict("new", method="paired",
                                    reason="base has no such test: nothing to compare with")
    family = PairedFamily(
        [PairedTest(k, min_effect[k], screened=bool(known)) for k in to_pair if k not in lacking],
        [k for k in refs if k not in lacking])
    judge_pairs(family, pairing.measure, pairing.policy)
    pairing.finished(family)
    for t in family.tests:
        assert t.verdict is not None
        verdicts[t.key] = t.verdict
    return verdicts
