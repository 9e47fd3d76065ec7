"""What a side-by-side run adds to every renderer: the two trees, and per row its pairs.

The numbers come from `verdict.extra` (gate/side_by_side.py), which a results file may
carry from elsewhere: every field is checked before it is shown.
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_vidbench.records import ResultRecord
from pytest_vidbench.records.pairs import SideBySide
from pytest_vidbench.report.format import format_change
from pytest_vidbench.store.schema import is_number


def paired_text(record: ResultRecord) -> str:
    """'16 pairs: at most +4.1%, can see ≥ 9%', or '' for a row that was not paired."""
    extra = record.verdict.extra if record.verdict else {}
    if extra.get("paired") is False:
        return "history screen only, never paired"
    pairs = extra.get("process_pairs")
    if not is_number(pairs):
        return ""
    parts = []
    status = record.verdict.status if record.verdict else ""
    interval = extra.get("change_interval_pct")
    if status == "unchanged" and is_number(extra.get("at_most_pct")):
        parts.append(f"at most {format_change(extra['at_most_pct'])}")
    elif isinstance(interval, list) and len(interval) == 2 and all(map(is_number, interval)):
        parts.append(f"interval {format_change(interval[0])} to {format_change(interval[1])}")
    if is_number(extra.get("detectable_pct")):
        parts.append(f"can see ≥ {extra['detectable_pct']:.0f}%")
    return f"{int(pairs)} pairs" + (": " + ", ".join(parts) if parts else "")


def paired_current(record: ResultRecord) -> float | None:
    """Head's median over its paired processes, or its arm's figure (memory, fidelity): the
    value the paired verdict is about."""
    extra = record.verdict.extra if record.verdict else {}
    value = extra.get("head_median", extra.get("head_value"))
    return float(value) if is_number(value) and value > 0 else None


def blind_spots(records: list[ResultRecord]) -> list[str]:
    """One warning per test whose pairs could not see its minimum effect."""
    out = []
    for r in records:
        note = r.verdict.extra.get("blind_spot") if r.verdict else None
        if isinstance(note, str) and note:
            out.append(f"{r.model} [{r.variant}] {r.metric}: {note}")
    return out


CONTROL_P = 0.01  # two-sided; with a shift of at least CONTROL_MIN_PCT
CONTROL_MIN_PCT = 3.0


def control_warning(s: SideBySide | None) -> list[str]:
    """A warning when the control workload itself ran faster or slower in head: head then
    changed what the control runs too (torch, a global setting), and every ÷ control change
    is shifted by about as much the other way (docs/side-by-side.md)."""
    if s is None or not is_number(s.control_change_pct) or not is_number(s.control_p):
        return []
    change = float(s.control_change_pct or 0)
    if s.control_p > CONTROL_P or abs(change) < CONTROL_MIN_PCT:
        return []
    return [f"the control workload ran {format_change(change)} in head against base "
            f"(p = {s.control_p:.2g}): head changes code or settings that the control runs "
            "too (torch, TF32, threads), so every change ÷ control is off by about as much "
            "the other way; rerun with --vidbench-pair-view raw to judge raw times"]


def trees_phrase(s: SideBySide, escape: Callable[[object, int | None], str]) -> str:
    """'head 1a2b3c4d5e6f vs base 0f9e8d7c6b5a (origin/main), 24 pairs, order seed 42'."""
    def short(commit: str | None) -> str:
        return escape(commit[:12], 12) if commit else "uncommitted tree"

    head = short(s.head_commit) + (" +dirty" if s.head_dirty else "")
    analysed = len(s.pairs)
    pairs = f"{analysed} pair{'s' if analysed != 1 else ''} side by side"
    if len(s.shard_seeds) > 1:
        seeds = ", ".join(str(x) for x in s.shard_seeds)
        order = f" in {len(s.shard_seeds)} shards, order seeds {escape(seeds, 80)}"
    else:
        order = f", order seed {s.seed}"
    return f"head {head} vs base {short(s.base_commit)} ({escape(s.ref, 60)}), {pairs}{order}"
