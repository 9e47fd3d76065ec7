"""Statistics of head against base measured in pairs of fresh processes.

Each pair is one base process and one head process, next to each other in time; its
observation is d = log(head) − log(base) in the test's view. The order within the pair is
balanced (ABBA / BAAB blocks), so a period effect (the second process of a pair running
faster or slower) is estimated and removed: the cross-over t of Senn (2002, Cross-over
Trials in Clinical Research, 2nd ed., §3.3): with d_AB the pairs where base ran first and
d_BA the others, δ = (mean d_AB + mean d_BA) / 2, the pooled within-order variance s² has
n − 2 degrees of freedom and se(δ) = s/2 · √(1/n_AB + 1/n_BA).

Looks share α by an O'Brien–Fleming-type spending function (Lan & DeMets 1983,
Biometrika 70(3)): α(t) = 2 − 2Φ(z_{1−α/2} / √t) at information fraction t, or by a
Pocock-type one, α · ln(1 + (e − 1) t) (the same paper). The share of a
look is spent on its own p-value (a Bonferroni split over looks, which holds whatever the
correlation between looks: Jennison & Turnbull 2000, §2.3), and success is not allowed at
the first look, whose share moves to the second.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_vidbench.gate import stats

MIN_PAIRS = 3  # the cross-over t needs n − 2 ≥ 1 degrees of freedom


@dataclass(frozen=True)
class PairedEstimate:
    """δ = log(head / base), period-adjusted, from `n` pairs."""

    n: int
    delta: float
    se: float
    df: int
    period: float  # log effect of running second in a pair

    @property
    def p_worse(self) -> float:
        """One-sided p for head slower than base (H0: δ ≤ 0)."""
        return _upper_p(self.delta, self.se, self.df)

    @property
    def p_better(self) -> float:
        return _upper_p(-self.delta, self.se, self.df)

    def upper(self, level: float = 0.95) -> float:
        """One-sided upper confidence bound of δ (log)."""
        return self.delta + stats.t_quantile(level, self.df) * self.se

    def interval(self, alpha: float) -> tuple[float, float]:
        """Two-sided 1 − 2·alpha interval of δ (log): one-sided alpha at each end."""
        half = stats.t_quantile(1 - alpha, self.df) * self.se
        return self.delta - half, self.delta + half

    def detectable(self, alpha: float, power: float = 0.95) -> float:
        """The smallest δ (log) that a one-sided test at `alpha` on these pairs detects with
        `power`: (t_{1−α} + t_{power}) · se (the usual noncentral-t approximation)."""
        return (stats.t_quantile(1 - alpha, self.df) + stats.t_quantile(power, self.df)) * self.se


def _upper_p(delta: float, se: float, df: int) -> float:
    if se <= 0:
        return 0.0 if delta > 0 else 1.0
    return stats.t_upper_p(delta / se, df)


def crossover(diffs: Sequence[float], base_first: Sequence[bool]) -> PairedEstimate | None:
    """The cross-over estimate from each pair's difference and its order; None with fewer
    than MIN_PAIRS pairs. With one order only (a design that was not balanced), the plain
    paired t (df = n − 1) and no period term."""
    if len(diffs) != len(base_first):
        raise ValueError("one order per pair")
    n = len(diffs)
    if n < MIN_PAIRS:
        return None
    ab = [d for d, first in zip(diffs, base_first, strict=True) if first]
    ba = [d for d, first in zip(diffs, base_first, strict=True) if not first]
    if not ab or not ba:
        mean = statistics.fmean(diffs)
        s = statistics.stdev(diffs)
        return PairedEstimate(n, mean, s / math.sqrt(n), n - 1, 0.0)
    m_ab, m_ba = statistics.fmean(ab), statistics.fmean(ba)
    ss = sum((d - m_ab) ** 2 for d in ab) + sum((d - m_ba) ** 2 for d in ba)
    s = math.sqrt(ss / (n - 2))
    se = s / 2 * math.sqrt(1 / len(ab) + 1 / len(ba))
    return PairedEstimate(n, (m_ab + m_ba) / 2, se, n - 2, (m_ab - m_ba) / 2)


OBF, POCOCK = "obrien-fleming", "pocock"
SPENDING = (OBF, POCOCK)


def spent(alpha: float, t: float, kind: str = OBF) -> float:
    """Lan–DeMets α spent by information fraction t ∈ (0, 1]: O'Brien–Fleming-type (little
    early, most at the end) or Pocock-type, α · ln(1 + (e − 1) t) (Lan & DeMets 1983), which
    spends more early, so a clear change stops sooner and the last look gets less."""
    if t <= 0:
        return 0.0
    t = min(t, 1.0)
    if kind == POCOCK:
        return alpha * math.log1p((math.e - 1) * t)
    z = stats.t_quantile(1 - alpha / 2, math.inf)
    return min(alpha, 2 * stats.t_upper_p(z / math.sqrt(t), math.inf))


def look_levels(alpha: float, looks: Sequence[int], kind: str = OBF) -> list[float]:
    """The α each look may spend on its own p-value (they sum to `alpha`): the spending
    function's increments at t = pairs / final pairs, with the first look's share moved to
    the second (no success on the first look's pairs). One look: all of α there."""
    if not looks or any(b <= a for a, b in itertools.pairwise(looks)):
        raise ValueError("looks must be increasing pair counts")
    if len(looks) == 1:
        return [alpha]
    cumulative = [spent(alpha, n / looks[-1], kind) for n in looks]
    levels = [cumulative[0]] + [b - a for a, b in itertools.pairwise(cumulative)]
    levels[1] += levels[0]
    levels[0] = 0.0
    return levels


def detectable_at(sd: float, n: int, alpha: float, power: float = 0.95,
                  floor: float = 0.0, df: int | None = None) -> float:
    """The smallest log effect a one-sided test at `alpha` on `n` balanced pairs of SD `sd`
    detects with `power` (se = sd/√n, df = n − 2, the noncentral-t approximation), when the
    estimate must also reach `floor` (the minimum effect): both are thresholds on the same
    estimate, so the larger one must be passed with `power`. `df`: of an SD estimated
    from fewer pairs than `n` (default n − 2)."""
    df = max(n - 2 if df is None else df, 1)
    se = sd / math.sqrt(n)
    return max(stats.t_quantile(1 - alpha, df) * se, floor) + stats.t_quantile(power, df) * se


def pairs_needed(sd: float, effect: float, alpha: float, power: float = 0.95) -> int:
    """Pairs for a balanced cross-over (se = sd/√n) to detect a log `effect` at one-sided
    `alpha` with `power`, by iterating the t quantiles (df = n − 2)."""
    if effect <= 0 or sd <= 0:
        raise ValueError("effect and sd must be positive")
    n = MIN_PAIRS + 1
    while n < 10_000:
        df = n - 2
        need = (stats.t_quantile(1 - alpha, df) + stats.t_quantile(power, df)) * sd / effect
        if n >= need * need:
            return n
        n += 1
    return n
