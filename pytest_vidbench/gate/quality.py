"""Quality rule: fidelity against its floor, the other metrics paired by (prompt, seed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_vidbench.records import Verdict

if TYPE_CHECKING:
    from pytest_vidbench.quality.registry import QualityMetric


def judge_quality(metric: QualityMetric, current: dict[str, float],
                  baseline: dict[str, float]) -> Verdict:
    """Fidelity metrics against their floor; the others paired by (prompt, seed)."""
    higher = metric.direction == "higher"
    if metric.floor is not None:
        worst = min(current.values()) if higher else max(current.values())
        # The reference clip is the baseline; there is no baseline *value* to show.
        common = {"limit": metric.floor, "method": "floor", "extra": {"worst_case": worst}}
        if metric.below_floor(worst):
            unit = "" if metric.unit == "score" else f" {metric.unit}"
            return Verdict("regression", reason=f"a (prompt, seed) pair scored {worst:.4g}"
                           f"{unit}, worse than the floor {metric.floor:g}", **common)
        return Verdict("unchanged", reason=f"every pair within the floor {metric.floor:g}",
                       **common)
    labels = [label for label in current if label in baseline]
    if not labels:
        return Verdict("new", reason="no (prompt, seed) pair in common with the baseline")
    cur = [current[label] for label in labels]
    base = [baseline[label] for label in labels]
    worsening = metric.mean_paired_worsening(cur, base)
    tolerance = metric.tolerance_for(base)
    base_mean = sum(base) / len(base)
    sign = -1 if higher else 1
    common = {
        "baseline": base_mean,
        "change_pct": (sum(cur) / len(cur) / base_mean - 1) * 100 if base_mean else None,
        "limit": base_mean + sign * tolerance, "method": "paired-tolerance",
        "extra": {"pairs": len(labels), "mean_worsening": worsening, "tolerance": tolerance},
    }
    if worsening > tolerance:
        return Verdict("regression", reason=f"worse by {worsening:.4g} {metric.unit} on "
                       f"average over {len(labels)} pair(s) (tolerance {tolerance:.4g})",
                       **common)
    if -worsening > tolerance:
        return Verdict("improvement", reason="better beyond the tolerance", **common)
    return Verdict("unchanged", reason="within tolerance", **common)
