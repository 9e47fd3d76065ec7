"""What to tell a user whose machine has no baselines yet, or too few runs of them.

Pure functions: the caller passes this run's environment key, the environments that have
baseline files, and each test's history length, and prints the lines it gets back (nothing
when the baselines are deep enough).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# The gate's prediction interval needs this many runs of a test (gate.timing.MIN_HISTORY;
# not imported, because that pulls scipy into `vidbench env`; a test keeps them equal).
GATE_MIN_RUNS = 3
# Below this a single unlucky run moves the interval a lot; record this many before trusting it.
RECOMMENDED_RUNS = 5
# The run count at which the gate's false-alarm rate was calibrated.
CALIBRATED_RUNS = 10


def record_command(runs: int = RECOMMENDED_RUNS, workers: int = 1) -> str:
    """The command that records `runs` baseline runs, one fresh process each, in the layout
    of this run (`-n N`: baselines of N workers are their own environment)."""
    layout = f" -n {workers}" if workers > 1 else ""
    return (f"pytest benchmarks/ --vidbench{layout} --vidbench-update-baselines "
            f"--vidbench-runs {runs}")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _advice(missing: int, workers: int) -> list[str]:
    return [
        f"  record them with: {record_command(missing, workers)}",
        f"  the gate needs ≥ {GATE_MIN_RUNS} runs per test for a prediction interval; "
        f"{RECOMMENDED_RUNS} are recommended before trusting it (it is calibrated at "
        f"{CALIBRATED_RUNS})",
    ]


def first_run_lines(environment: str, other_environments: Iterable[str],
                    history: Mapping[str, int], workers: int = 1) -> list[str]:
    """Lines for a machine whose baselines are missing or shallow; [] when they are enough.

    `history` maps each selected test (e.g. "wan-tiny[fp32]::latency") to the number of runs
    this environment's baselines hold for it, 0 when it has none.
    """
    others = sorted(set(other_environments) - {environment})
    if not history:
        return []
    runs = list(history.values())
    fewest, total = min(runs), len(runs)
    if fewest >= RECOMMENDED_RUNS:
        return []
    if max(runs) == 0:
        lines = [f"vidbench: this machine ({environment}) has no baselines, so nothing was "
                 "compared and no test can regress yet"]
        if others:
            lines.append(f"  baselines exist for {_plural(len(others), 'other environment')} "
                         f"({', '.join(others)}); timings from other hardware, torch or "
                         "worker layouts are not comparable, so they are not used here")
        return lines + _advice(RECOMMENDED_RUNS, workers)
    shallow = sum(1 for n in runs if n < RECOMMENDED_RUNS)
    if fewest == 0:
        new = sum(1 for n in runs if n == 0)
        verb = "has" if new == 1 else "have"
        head = (f"vidbench: {new} of {total} tests {verb} no baseline on this machine "
                f"({environment}) yet; those are not compared")
    else:
        head = (f"vidbench: this machine's baselines ({environment}) hold only "
                f"{_plural(fewest, 'run')} for {shallow} of {total} tests")
    if fewest < GATE_MIN_RUNS:
        head += (f"; below {GATE_MIN_RUNS} runs the gate only compares within this run, "
                 "blind to run-to-run noise")
    return [head, *_advice(RECOMMENDED_RUNS - fewest, workers)]
