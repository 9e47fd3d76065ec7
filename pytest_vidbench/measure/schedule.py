"""The order of a side-by-side run's processes: complete ABBA / BAAB blocks, seeded.

Each block is two pairs in opposite orders, so every look holds as many base-first pairs as
head-first ones and the period effect (gate/paired.py) is estimated, not confounded. The
first pair of the run is a warm-up, measured and kept in the results but never analysed:
the first processes of a run pay for cold file caches.

A failed half is run again in its slot, at most twice. What still fails is returned as it
is: the judge decides what a head or base failure means (gate/side_by_side.py).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_vidbench.measure.arms import CLIPS_OPTION, Arm, run_arm
from pytest_vidbench.records.pairs import ArmRun, Pair

RETRIES = 2
FIRST_TIMEOUT = 1800.0  # seconds, until base has a median process time
TIMEOUT_FACTOR = 4.0  # a process this many times base's median is stuck
MIN_TIMEOUT = 120.0

Note = Callable[[str], None]


@dataclass
class PairSchedule:
    base: Arm
    head: Arm
    head_args: tuple[str, ...]  # the run's paths; base's are the same paths in its tree
    base_args: tuple[str, ...]
    options: tuple[str, ...]  # the run's measuring options, the same for both arms
    seed: int
    note: Note = print
    run: Callable[..., ArmRun] = run_arm  # one process; replaceable for the simulation
    blocks: int = 0
    base_walls: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def timeout(self) -> float:
        if not self.base_walls:
            return FIRST_TIMEOUT
        return max(MIN_TIMEOUT, TIMEOUT_FACTOR * statistics.median(self.base_walls))

    def _half(self, arm: Arm, keys: Sequence[str], clips: Path | None) -> ArmRun:
        options = self.options + ((f"{CLIPS_OPTION}={clips / arm.name}",) if clips else ())
        for attempt in range(1, RETRIES + 2):
            args = self.base_args if arm.name == "base" else self.head_args
            run = self.run(arm, args, keys, options, self.timeout())
            run.attempts = attempt
            if run.ok:
                if arm.name == "base":
                    self.base_walls.append(run.wall_seconds)
                return run
            self.note(f"{arm.name} process failed (attempt {attempt} of {RETRIES + 1}): "
                      f"{run.error}")
        return run

    def _pair(self, keys: Sequence[str], base_first: bool, block: int,
              clips: Path | None = None) -> Pair:
        first, second = (self.base, self.head) if base_first else (self.head, self.base)
        a = self._half(first, keys, clips)
        b = self._half(second, keys, clips)
        base, head = (a, b) if base_first else (b, a)
        return Pair(base, head, base_first, block)

    def warm_up(self, keys: Sequence[str], clips: Path | None = None) -> Pair:
        """The first pair; with `clips`, each process saves its frames in clips/<arm>/."""
        self.note("side by side: warm-up pair (not analysed)")
        return self._pair(keys, True, -1, clips)

    def measure(self, keys: list[str], count: int) -> list[Pair]:
        """`count` more pairs (rounded up to whole blocks), in the seeded order."""
        pairs: list[Pair] = []
        first_block = self.blocks
        while len(pairs) < count:
            abba = self._rng.random() < 0.5
            block = self.blocks
            self.blocks += 1
            for base_first in ((True, False) if abba else (False, True)):
                pair = self._pair(keys, base_first, block)
                pairs.append(pair)
                self.note(f"side by side: pair {2 * first_block + len(pairs)} "
                          f"({'base' if base_first else 'head'} first): base "
                          f"{pair.base.wall_seconds:.1f} s, head {pair.head.wall_seconds:.1f} s")
        return pairs
