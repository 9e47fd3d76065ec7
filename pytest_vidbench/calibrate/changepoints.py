"""`python -m pytest_vidbench.calibrate.changepoints`: how the history's change points behave.

Flat 10-run histories and histories with a −20% step five runs back, with run-to-run noise of
this machine's size (docs/noise.md): the share with a spurious newest segment, and the share
where the step is found, for the shipped penalty and minimum step.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from pytest_vidbench.gate.history import stable_start

NOISES = (0.044, 0.07)


def rates(noise: float, min_step: float, trials: int, seed: int = 0) -> tuple[float, float]:
    """(spurious, found): flat histories with a stable start other than 0, and −20%-step
    histories whose stable start is the step (the noise estimate is the true one)."""
    rng = np.random.default_rng(seed)
    spurious = found = 0
    for _ in range(trials):
        flat = rng.normal(0, noise, size=10)
        spurious += stable_start(list(flat), noise, min_step) != 0
        step = rng.normal(0, noise, size=10)
        step[5:] += math.log(0.8)
        found += stable_start(list(step), noise, min_step) == 5
    return spurious / trials, found / trials


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    args = parser.parse_args(argv)
    print("| run-to-run SD | minimum step | spurious newest segment | −20% step found |")
    print("|---|---|---|---|")
    for noise in NOISES:
        for step in (0.0, math.log1p(0.10)):
            spurious, found = rates(noise, step, args.trials)
            print(f"| {noise:.1%} | {math.expm1(step):.0%} | {spurious:.1%} | {found:.0%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
