"""Statistics behind the verdicts: small pure functions, each citing its method.

Timings are judged in log space (latency is right-skewed and effects are multiplicative),
with the run as the unit of replication: rounds inside one process share its slowness,
so they are not independent evidence (docs/noise.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import special  # scipy.stats and scipy.optimize load only where used: ~0.5 s a process


def mad_scale(values: Sequence[float]) -> float:
    """1.4826 × median absolute deviation: a robust SD (Hampel 1974). 0 for no values."""
    x = np.asarray(values, dtype=float)
    return 1.4826 * float(np.median(np.abs(x - np.median(x)))) if x.size else 0.0


def sample_variance(values: Sequence[float]) -> tuple[float, int]:
    """Unbiased variance and its degrees of freedom (n − 1); (0, 0) below two values."""
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return 0.0, 0
    return float(np.var(x, ddof=1)), int(x.size - 1)


def fit_variance_prior(variances: Sequence[float], dfs: Sequence[int]) -> tuple[float, float]:
    """Prior (s0², d0) for many variances with few df each: empirical Bayes by moments.

    Smyth (2004), "Linear models and empirical Bayes methods for assessing differential
    expression in microarray experiments", §6.2: log s² has mean log s0² + ψ(d/2) − log(d/2)
    and variance ψ'(d/2) + ψ'(d0/2). d0 = inf when the variances agree more than chance.
    Returns d0 = 0 (no prior) with fewer than three usable variances.
    """
    pairs = [(v, d) for v, d in zip(variances, dfs, strict=True) if d > 0 and v > 0]
    if len(pairs) < 3:
        return 0.0, 0.0
    s2 = np.array([v for v, _ in pairs])
    d = np.array([d for _, d in pairs], dtype=float)
    e = np.log(s2) - special.digamma(d / 2) + np.log(d / 2)
    e_mean = float(np.mean(e))
    excess = float(np.var(e, ddof=1) - np.mean(special.polygamma(1, d / 2)))
    if excess <= 0:
        return math.exp(e_mean), math.inf
    # Solve ψ'(d0/2) = excess; ψ' decreases from +inf to 0, so the root is unique.
    from scipy.optimize import brentq

    half = brentq(lambda h: float(special.polygamma(1, h)) - excess, 1e-8, 1e8)
    d0 = 2 * half
    return math.exp(e_mean + special.digamma(half) - math.log(half)), d0


def moderated_variance(s2: float, d: int, s0_2: float, d0: float) -> tuple[float, float]:
    """Posterior variance and its df: (d0·s0² + d·s²)/(d0 + d), Smyth (2004) eq. (4)."""
    if d0 == 0:
        return s2, float(d)
    if math.isinf(d0):
        return s0_2, math.inf
    return (d0 * s0_2 + d * s2) / (d0 + d), d0 + d


def t_upper_p(t: float, df: float) -> float:
    """One-sided p-value P(T ≥ t) for Student's t with df degrees of freedom (normal if inf)."""
    # scipy.stats' norm.sf and t.sf are these very functions (stats/_continuous_distns.py).
    return float(special.ndtr(-t) if math.isinf(df) else special.stdtr(df, -t))


def t_quantile(p: float, df: float) -> float:
    return float(special.ndtri(p) if math.isinf(df) else special.stdtrit(df, p))


def mann_whitney_greater(current: Sequence[float], baseline: Sequence[float]) -> float:
    """One-sided p that `current` is stochastically larger (Mann & Whitney 1947)."""
    if len(current) == 0 or len(baseline) == 0:
        return 1.0
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(current, baseline, alternative="greater").pvalue)


def holm(pvalues: Sequence[float], alpha: float) -> list[float | None]:
    """Holm (1979) step-down control of the family-wise error rate.

    Returns, per p-value, the threshold it was rejected at (alpha / (m − rank)), or None
    when it is not rejected; the threshold is what a re-measurement must meet too.
    """
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    out: list[float | None] = [None] * m
    for rank, index in enumerate(order):
        threshold = alpha / (m - rank)
        if pvalues[index] > threshold:
            break
        out[index] = threshold
    return out


def benjamini_hochberg(pvalues: Sequence[float], q: float) -> list[bool]:
    """Benjamini & Hochberg (1995) step-up control of the false discovery rate."""
    if not pvalues:
        return []
    from scipy.stats import false_discovery_control

    adjusted = false_discovery_control(np.asarray(pvalues, dtype=float), method="bh")
    return [bool(a <= q) for a in adjusted]
