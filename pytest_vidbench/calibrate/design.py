"""How to spend a confirmation on this machine: calls per fresh process × processes.

A fresh process's median of c calls moves by the model's per-process offset and by the
median's own error: var = offset² + (π/2)·cv²/c (the median's asymptotic efficiency,
Kenney & Keeping 1962, §13.13). k such processes against an n-run history, with the
per-model drift between them, give the scale of the fresh test:
    se² = var/k + var_history/n + drift²,  var_history = offset² + (π/2)·cv²/calls_main.
Past the point where offset² dominates var, more calls buy nothing and only more processes
help; where cv²/c dominates (a small offset, as with cpu_allocator = "fresh-pages"), a few
more calls per process are the cheap lever. `python -m pytest_vidbench.calibrate.noise`
prints this table from the machine's own fitted components.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pytest_vidbench.gate.stats import t_quantile
from pytest_vidbench.gate.timing import median_variance


@dataclass(frozen=True)
class Design:
    calls: int  # timed calls per fresh process (remeasure_rounds × remeasure_calls)
    processes: int  # fresh processes (remeasure_runs)
    process_sd: float  # SD of one fresh process's log median
    se: float  # scale of the fresh test against the history
    z_at_15: float  # +15% in units of se: what the test has to work with


def design(offset: float, cv: float, calls: int, processes: int, history: int = 10,
           main_calls: int = 30, drift: float = 0.0) -> Design:
    one = offset**2 + median_variance(cv**2, calls)  # the gate's own rule for a median
    past = offset**2 + median_variance(cv**2, main_calls)
    se = math.sqrt(one / processes + past / history + drift**2)
    return Design(calls, processes, math.sqrt(one), se, math.log(1.15) / se)


def needed_z(tests: int, alpha: float = 0.01, power: float = 0.95) -> float:
    """The z a one-sided test at Holm's strictest α/tests needs for `power` (normal
    approximation): z_{1−α/m} + z_{power}."""
    return t_quantile(1 - alpha / tests, math.inf) + t_quantile(power, math.inf)


def table(offset: float, cv: float, drift: float = 0.0, tests: int = 7,
          calls: tuple[int, ...] = (6, 12, 20, 30), processes: tuple[int, ...] = (3, 6, 10)
          ) -> str:
    rows = ["| calls per fresh process | one process's SD | "
            + " | ".join(f"+15% ÷ se, {k} processes" for k in processes) + " |",
            "|---|---|" + "---|" * len(processes)]
    for c in calls:
        cells = [design(offset, cv, c, k, drift=drift) for k in processes]
        rows.append(f"| {c} | {cells[0].process_sd:.1%} | "
                    + " | ".join(f"{d.z_at_15:.1f}" for d in cells) + " |")
    need = needed_z(tests)
    rows.append(f"\n95% power at +15% needs about {need:.1f} (Holm over {tests} tests at "
                f"α = 0.01, normal approximation); offset {offset:.1%}, per-call spread "
                f"{cv:.1%}, drift {drift:.1%}, history 10.")
    return "\n".join(rows)
