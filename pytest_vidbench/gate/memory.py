"""Memory rule: deterministic tolerances against the history's best, no variance test.

Allocations do not jitter like time, so a zero-variance history must still alert, and a
figure is compared with the lowest the history holds: +1.9% per pull request would never
flag against the newest run, but it does against the best.
"""

from __future__ import annotations

from pytest_vidbench.records import Verdict
from pytest_vidbench.records.pairs import Pair


def judge_memory(current: float, baseline: float, rel: float, abs_bytes: float) -> Verdict:
    """Flagged beyond the larger of the relative and the absolute tolerance: the relative one
    scales with the model (1% of 40 GB is 400 MB), the absolute one covers allocator
    granularity on tiny models."""
    change = current - baseline
    limit = baseline + max(baseline * rel, abs_bytes)
    pct = change / baseline * 100 if baseline else None
    common = {"baseline": baseline, "change_pct": pct, "limit": limit, "method": "tolerance"}
    if change > baseline * rel and change > abs_bytes:
        return Verdict("regression", reason=f"more than +{rel:.0%} and +"
                       f"{abs_bytes / 2**20:g} MiB", **common)
    if -change > baseline * rel and -change > abs_bytes:
        return Verdict("improvement", reason="less memory beyond both tolerances", **common)
    return Verdict("unchanged", reason="within tolerance", **common)


def judge_memory_paired(key: str, warm: Pair | None, lacking: set[str], rel: float,
                        abs_bytes: float) -> Verdict:
    """Side by side: head's figure against base's, each from its arm's warm-up process (the
    same kind of process, measured minutes apart), with the tolerances of `judge_memory`."""
    if key in lacking:
        return Verdict("new", method="paired", reason="base has no such test: nothing to "
                       "compare with")
    base = warm.base.values.get(key) if warm is not None and warm.base.ok else None
    if base is None or warm is None:
        why = warm.base.error or warm.base.errors.get(key) if warm is not None else None
        return Verdict("incomparable", method="paired", reason="base's process measured no "
                       f"memory for it{f': {why}' if why else ''}")
    head = warm.head.values.get(key)
    if head is None:  # the run's own process is another kind of process: not compared
        why = warm.head.error or warm.head.errors.get(key)
        return Verdict("incomparable", method="paired", reason="head's process measured no "
                       f"memory for it{f': {why}' if why else ''}")
    verdict = judge_memory(head, base, rel, abs_bytes)
    verdict.method = "paired/tolerance"
    verdict.reason = f"head against base's process: {verdict.reason}"
    verdict.extra.update({"paired": True, "head_value": head})
    return verdict
