"""Quality rule: fidelity against its floor, the other metrics paired by (prompt, seed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_vidbench.records import Verdict

if TYPE_CHECKING:
    from pytest_vidbench.quality.registry import QualityMetric
    from pytest_vidbench.records.pairs import PairedFidelity

ACCEPT_OPTION = "--vidbench-accept-output-change"


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


def _worst(metric: QualityMetric, values: dict[str, float]) -> float:
    return min(values.values()) if metric.direction == "higher" else max(values.values())


def judge_fidelity_paired(metric: QualityMetric, found: PairedFidelity,
                          accept: bool) -> Verdict:
    """Side by side: head's frames against base's for the same (prompt, seed), on the
    metric's floor; no stored reference clip is needed. Head's own two processes (the run's
    and its arm's) are the A/A check: where they differ beyond the floor, as nondeterministic
    kernels may on a GPU, the metric cannot tell a change from noise on this device.
    `accept`: the change of output is intended, so it is shown and does not fail the gate."""
    if not found.vs_base:
        return Verdict("incomparable", method="paired",
                       reason=f"no frames of base's process to compare with: {found.problem}"
                       if found.problem else "no frames of base's process to compare with")
    unit = "" if metric.unit == "score" else f" {metric.unit}"
    extra = {"paired": True, "vs_base": dict(found.vs_base),
             "head_value": sum(found.vs_base.values()) / len(found.vs_base)}
    if found.aa:
        aa = _worst(metric, found.aa)
        extra["aa_worst"] = aa
        if metric.below_floor(aa):
            return Verdict("incomparable", method="paired", limit=metric.floor, extra=extra,
                           reason=f"head's own two processes already differ beyond the floor "
                           f"(worst {aa:.4g}{unit} against {metric.floor:g}): {metric.name} "
                           "cannot tell a change of output from this device's noise")
    verdict = judge_quality(metric, found.vs_base, {})
    verdict.method = "paired/floor"
    verdict.extra.update(extra)
    aa_text = f"; head's own processes agree to {extra['aa_worst']:.4g}{unit}" \
        if "aa_worst" in extra else ""
    if verdict.status != "regression":
        verdict.reason = f"head's frames against base's: {verdict.reason}{aa_text}"
        return verdict
    if accept:
        verdict.status = "new"
        verdict.extra["accepted_change"] = True
        verdict.reason = (f"an intended change of output, accepted with {ACCEPT_OPTION}: "
                          f"head's frames against base's: {verdict.reason}")
        return verdict
    verdict.reason = (f"head's frames against base's: {verdict.reason}{aa_text}. An intended "
                      f"change of output? Accept it with {ACCEPT_OPTION}")
    return verdict
