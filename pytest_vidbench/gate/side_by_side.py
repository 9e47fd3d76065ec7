"""Head against base, on pairs of fresh processes: looks, Holm over the family, verdicts.

The procedure (docs/side-by-side.md):

1. The tests to pair are fixed before the first pair: every timing test when there is no
   history, else the suspects of the history screen (gate/confirm.py) with a few reference
   models. The pairs are measured after the screen and independently of it, so Holm over
   the suspects alone is a valid family.
2. At each look (`PairPolicy.looks` pairs, whole ABBA / BAAB blocks) each open test gets its
   cross-over estimate (gate/paired.py) in a view fixed in advance (`PairPolicy.view`).
   - **Futility** (binding, every look): the one-sided 95% upper bound below the minimum
     effect → `unchanged`, "at most +X%".
   - **Success** (from the second look): Holm's step-down, where the hypothesis of step r
     may spend `look_levels(α / (m − r))` of this look (Maurer & Bretz 2013, Stat.
     Biopharm. Res. 5(4): Holm's procedure with group-sequential boundaries); a rejection
     whose effect reaches the minimum is a `regression`.
3. What is still open after the last look is `suspicious`: the budget ran out undecided.

A head failure in a pair whose base half ran is evidence: `error`, or `regression` for a
timeout. A base failure is not: those tests could not be judged (`incomparable`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from pytest_vidbench.gate.pair_views import BOTH, CONTROL, PEERS, control_shift, differences
from pytest_vidbench.gate.paired import (
    OBF,
    PairedEstimate,
    crossover,
    detectable_at,
    look_levels,
    pairs_needed,
)
from pytest_vidbench.records import Verdict
from pytest_vidbench.records.pairs import Pair

# Measure `count` more analysed pairs of `keys` (whole blocks); returns only the new pairs.
MeasurePairs = Callable[[list[str], int], list[Pair]]


@dataclass(frozen=True)
class PairPolicy:
    alpha: float = 0.01
    looks: tuple[int, ...] = (8, 16, 24)  # analysed pairs at each look, whole blocks
    view: str = CONTROL  # fixed in advance, from A/A pairs (docs/side-by-side.md)
    futility: float = 0.95  # one-sided level of the upper bound that stops for futility
    power: float = 0.95  # of the detectable effect each row reports
    screen: bool = False  # pair only the history screen's suspects (cheaper, less power)
    accept_output: bool = False  # fidelity: head's frames may differ from base's on purpose
    spending: str = OBF  # how the looks share α (gate/paired.py `spent`)


@dataclass
class PairedTest:
    key: str
    min_effect: float
    screened: bool = False  # sent by the history screen (else: no history was used)
    estimate: PairedEstimate | None = None
    verdict: Verdict | None = None
    look: int = 0
    base_median: float | None = None
    head_median: float | None = None
    view: str = ""  # this hypothesis's view; with `peers+control` each test has two


@dataclass
class PairedFamily:
    tests: list[PairedTest]
    references: list[str] = field(default_factory=list)  # measured for the peers view only
    pairs: list[Pair] = field(default_factory=list)
    error: str | None = None
    control: PairedEstimate | None = None  # the control workload's own head/base, raw


    @property
    def keys(self) -> list[str]:
        return [t.key for t in self.tests] + [r for r in self.references
                                               if r not in {t.key for t in self.tests}]


def _pct(log_value: float) -> float:
    return math.expm1(log_value) * 100


def _failure(pair: Pair, key: str) -> Verdict | None:
    """A head failure beside a base that ran is evidence; a base failure says why not."""
    head, base = pair.head, pair.base
    if not base.ok or key in base.errors:
        why = base.error or base.errors[key]
        return Verdict("incomparable", method="paired", reason=f"base could not be measured, "
                       f"so head was not judged: {why}")
    if not head.ok:
        if head.timed_out:
            return Verdict("regression", method="paired/timeout", remeasured=True,
                           reason=f"head's process ran past the time limit while base's "
                           f"finished: {head.error}")
        return Verdict("error", method="paired", reason=f"head's process failed while base's "
                       f"ran: {head.error}")
    if key in head.errors:
        return Verdict("error", method="paired", reason=f"head failed: {head.errors[key]}")
    return None


def _verdict(t: PairedTest, status: str, why: str, policy: PairPolicy, level: float,
             family: int) -> Verdict:
    view = t.view
    e = t.estimate
    assert e is not None
    low, high = e.interval(level)
    sd = e.se * math.sqrt(e.n)  # one pair's SD (se = sd / √n for balanced orders)
    # What the whole design could see at this SD: an effect that large would not have stopped
    # for futility here, so it would have met the last look's pairs and level.
    final = look_levels(policy.alpha / family, policy.looks, policy.spending)[-1]
    most = max(e.n, policy.looks[-1])
    detectable = detectable_at(sd, most, final, policy.power, math.log1p(t.min_effect),
                               df=e.df)  # the SD's own uncertainty
    at_most = e.upper(policy.futility)
    base = t.base_median
    extra = {"process_pairs": e.n, "view": view, "head_median": t.head_median, "look": t.look,
             "screened": t.screened,
             "period_pct": round(_pct(e.period), 3),
             "change_interval_pct": [round(_pct(low), 3), round(_pct(high), 3)],
             "detectable_pct": round(_pct(detectable), 3),
             "at_most_pct": round(_pct(at_most), 3), "decision_alpha": level}
    extra["pair_sd_pct"] = round(sd * 100, 3)
    # Blind to the minimum effect: even significance alone would need more pairs.
    if detectable_at(sd, most, final, policy.power) > math.log1p(t.min_effect):
        need = pairs_needed(sd, math.log1p(t.min_effect), final, policy.power) if sd > 0 else 0
        extra["pairs_for_min_effect"] = need
        extra["blind_spot"] = (f"up to {most} pairs can see ≥ {_pct(detectable):.0f}% at "
                               f"this noise: a change of the minimum effect, "
                               f"{t.min_effect:.0%}, needs about {need} pairs on this machine")
    return Verdict(
        status,  # type: ignore[arg-type]
        baseline=base, change_pct=round(_pct(e.delta), 3),
        interval=(base * math.exp(low), base * math.exp(high)) if base else None,
        p_value=e.p_worse, method=f"paired-crossover-t/{view}", reason=why, remeasured=True,
        extra=extra)


def _judge_look(open_: list[PairedTest], family: int, rejected: int, look: int,
                policy: PairPolicy) -> tuple[list[PairedTest], int]:
    """One look: futility, then Holm's step-down at this look's spending; returns what stays
    open and the rejections so far."""
    still: list[PairedTest] = []
    for t in open_:
        e = t.estimate
        if e is None:
            still.append(t)
        elif e.upper(policy.futility) < math.log1p(t.min_effect):
            t.look = look
            bound = _pct(e.upper(policy.futility))
            t.verdict = _verdict(t, "unchanged", f"head against base over {e.n} pairs: "
                                 f"{_pct(e.delta):+.1f}%, at most {bound:+.1f}% "
                                 f"({policy.futility:.0%} bound), below the minimum effect of "
                                 f"{t.min_effect:.0%}", policy, policy.alpha / family, family)
        else:
            still.append(t)
    ranked = sorted((t for t in still if t.estimate is not None),
                    key=lambda t: t.estimate.p_worse)  # type: ignore[union-attr]
    for t in ranked:
        level = look_levels(policy.alpha / (family - rejected), policy.looks,
                            policy.spending)[look - 1]
        e = t.estimate
        assert e is not None
        if level <= 0 or e.p_worse > level:
            break
        rejected += 1
        t.look = look
        big = e.delta >= math.log1p(t.min_effect)
        why = (f"head is {_pct(e.delta):+.1f}% against base over {e.n} pairs (p = "
               f"{e.p_worse:.2g} ≤ {level:.2g}, Holm at look {look})")
        t.verdict = _verdict(t, "regression" if big else "unchanged",
                             why if big else why + f", below the minimum effect of "
                             f"{t.min_effect:.0%}", policy, level, family)
        still.remove(t)
    return still, rejected


def judge_pairs(family: PairedFamily, measure: MeasurePairs, policy: PairPolicy) -> None:
    """Measure pairs look by look until every test is decided; sets each test's verdict.
    With `peers+control` each test is two hypotheses of one Holm family (2m), one per view:
    either view's rejection is a regression, so ÷ peers' lower noise and ÷ control's sight
    of a change that slows every model are both kept at the family's α."""
    views = (PEERS, CONTROL) if policy.view == BOTH else (policy.view,)
    hyps = [PairedTest(t.key, t.min_effect, t.screened, view=v) for t in family.tests
            for v in views]
    m = len(hyps)
    open_ = list(hyps)
    rejected = 0
    for look, target in enumerate(policy.looks, start=1):
        if not open_:
            break
        more = target - len(family.pairs)
        try:
            family.pairs += measure(family.keys, more) if more > 0 else []
        except PairingFailed as error:
            family.error = str(error)
            break
        still = []
        for t in open_:
            failed = next((v for p in family.pairs if (v := _failure(p, t.key))), None)
            if failed is not None:
                t.verdict, t.look = failed, look
                continue
            # ÷ peers: the fixed references, or with none (every test paired) the median of
            # every other paired test, leave-one-out.
            peers = family.references or family.keys
            diffs, orders = differences(family.pairs, t.key, t.view, peers)
            t.estimate = crossover(diffs, orders)
            bases = [p.base.values[t.key] for p in family.pairs if t.key in p.base.values]
            t.base_median = statistics.median(bases) if bases else None
            heads = [p.head.values[t.key] for p in family.pairs if t.key in p.head.values]
            t.head_median = statistics.median(heads) if heads else None
            still.append(t)
        open_, rejected = _judge_look(still, m, rejected, look, policy)
        caught = {t.key for t in hyps if t.verdict and t.verdict.status == "regression"}
        open_ = [t for t in open_ if t.key not in caught]  # its other view need not go on
    family.control = control_shift(family.pairs)
    for t in open_:
        if t.estimate is None:
            t.verdict = Verdict("incomparable", method="paired", reason=family.error or
                                "too few usable pairs for the paired test")
        else:
            why = (f"undecided after {t.estimate.n} pairs: head {_pct(t.estimate.delta):+.1f}% "
                   "against base, neither significant nor ruled out"
                   + (f" ({family.error})" if family.error else ""))
            t.verdict = _verdict(t, "suspicious", why, policy, policy.alpha / m, m)
    _settle(family.tests, hyps)


# With two views, the test takes its most telling hypothesis's verdict (ties: ÷ control).
_RANK = {"regression": 0, "error": 1, "suspicious": 2, "incomparable": 3, "unchanged": 4}


def _settle(tests: list[PairedTest], hyps: list[PairedTest]) -> None:
    for t in tests:
        mine = [h for h in hyps if h.key == t.key and h.verdict is not None]
        pick = min(mine, key=lambda h: (_RANK.get(h.verdict.status, 5),  # type: ignore[union-attr]
                                        h.view != CONTROL))
        t.verdict, t.estimate, t.look, t.view = pick.verdict, pick.estimate, pick.look, pick.view
        t.base_median, t.head_median = pick.base_median, pick.head_median


class PairingFailed(RuntimeError):
    """Pairs could not be measured any more (base keeps failing); the message says why."""
