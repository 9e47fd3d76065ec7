"""The records of a side-by-side run (`--vidbench-against`): each arm's processes, in pairs.

measure/ fills them (measure/arms.py, measure/schedule.py), the paired judge reads them
(gate/side_by_side.py) and the reports name the two trees (`SideBySide`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ArmName = Literal["base", "head"]


@dataclass
class ArmRun:
    """One fresh process of one arm: what it measured, or why it did not."""

    arm: ArmName
    values: dict[str, float] = field(default_factory=dict)  # record key -> median (s or J)
    control: float | None = None  # the process's control workload median, seconds
    errors: dict[str, str] = field(default_factory=dict)  # record key -> why that test failed
    missing: list[str] = field(default_factory=list)  # asked-for keys it has no test for
    error: str | None = None  # the whole process failed (after its retries)
    timed_out: bool = False
    wall_seconds: float = 0.0
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArmRun:
        return cls(**data)


@dataclass
class Pair:
    """A base process and a head process, adjacent in time; `base_first` is their order."""

    base: ArmRun
    head: ArmRun
    base_first: bool
    block: int = 0  # the ABBA / BAAB block it belongs to

    def to_json(self) -> dict[str, Any]:
        return {"base": self.base.to_json(), "head": self.head.to_json(),
                "base_first": self.base_first, "block": self.block}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Pair:
        return cls(ArmRun.from_json(data["base"]), ArmRun.from_json(data["head"]),
                   bool(data["base_first"]), int(data.get("block", 0)))


@dataclass
class PairedFidelity:
    """Side by side, one fidelity test: head's frames scored against base's clip of the same
    (prompt, seed), and against the clip of head's own arm process, the A/A check."""

    vs_base: dict[str, float] = field(default_factory=dict)  # (prompt, seed) label -> score
    aa: dict[str, float] = field(default_factory=dict)
    problem: str | None = None  # why there is nothing to compare, if so


@dataclass
class SideBySide:
    """What a side-by-side run compared: the two trees, the order's seed and the pairs."""

    ref: str  # what the user asked for: a revision or a directory
    base_commit: str | None  # None for a directory that is not a git checkout
    head_commit: str | None
    base_tree: str | None = None  # git tree hashes: what each arm measured
    head_tree: str | None = None
    head_dirty: bool = False
    seed: int = 0  # the seed of the ABBA / BAAB order
    pairs: list[Pair] = field(default_factory=list)  # analysed pairs, warm-up pair excluded
    warmup: list[Pair] = field(default_factory=list)
    error: str | None = None  # why pairing stopped early, if it did
    # The control workload's own head/base over the pairs (gate/side_by_side.py
    # `control_shift`): its change and two-sided p; None without enough pairs.
    control_change_pct: float | None = None
    control_p: float | None = None
    shard_seeds: list[int] = field(default_factory=list)  # `vidbench merge`: each shard's seed

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k not in ("pairs", "warmup")}
        data["pairs"] = [p.to_json() for p in self.pairs]
        data["warmup"] = [p.to_json() for p in self.warmup]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SideBySide:
        data = dict(data)
        pairs = [Pair.from_json(p) for p in data.pop("pairs", []) or []]
        warmup = [Pair.from_json(p) for p in data.pop("warmup", []) or []]
        return cls(**data, pairs=pairs, warmup=warmup)
