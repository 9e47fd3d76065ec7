"""`--vidbench-against REF`: head and base measured side by side, the PR gate.

The run's own process measures head as usual (for the report and the history screen);
the timing verdicts come from pairs of fresh processes, one of base's tree and one of
head's (measure/schedule.py, gate/side_by_side.py). This module reads the options, makes
the base tree, and gives the judge its `Pairing`.
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_vidbench.config import VidbenchConfig
from pytest_vidbench.gate.pair_views import POLICY_VIEWS
from pytest_vidbench.gate.paired import OBF, POCOCK, SPENDING
from pytest_vidbench.gate.quality import ACCEPT_OPTION
from pytest_vidbench.gate.side_by_side import PairedFamily, PairPolicy
from pytest_vidbench.measure.arms import CLIPS_OPTION, KEYS_OPTION, Arm, missing_keys
from pytest_vidbench.measure.fresh import carried_options
from pytest_vidbench.measure.schedule import PairSchedule
from pytest_vidbench.measure.worktree import AgainstError, BaseTree, open_base, state, toplevel
from pytest_vidbench.plugin.fidelity import paired_fidelity
from pytest_vidbench.records.pairs import Pair, PairedFidelity, SideBySide

if TYPE_CHECKING:
    from pytest_vidbench.quality.registry import QualityMetric
    from pytest_vidbench.records import ResultRecord

DEFAULT_LOOKS = (8, 16, 24)


def add_against_options(group: pytest.OptionGroup) -> None:
    group.addoption("--vidbench-against", default=None, metavar="REF",
                    help="judge against REF (a git revision, e.g. the merge base, or another "
                         "checkout's directory), measured side by side in pairs of fresh "
                         "processes (docs/side-by-side.md)")
    group.addoption("--vidbench-base-python", default=None, metavar="PATH",
                    help="with --vidbench-against: the interpreter of base's environment "
                         "(default: this one)")
    group.addoption("--vidbench-pair-looks", default=None, metavar="N,N,...",
                    help="with --vidbench-against: analysed pairs at each look, even and "
                         "increasing (default 8,16,24)")
    group.addoption("--vidbench-pair-view", default="control", choices=POLICY_VIEWS,
                    help="with --vidbench-against: the view of each pair's ratio (default "
                         "control)")
    group.addoption("--vidbench-pair-spending", default=OBF, choices=SPENDING,
                    help="with --vidbench-against: how the looks share α (default "
                         f"{OBF}; {POCOCK} stops clear changes sooner, see "
                         "docs/side-by-side.md)")
    group.addoption("--vidbench-pair-seed", type=int, default=None, metavar="N",
                    help="with --vidbench-against: the seed of the ABBA/BAAB order (default: "
                         "random, recorded in the results)")
    group.addoption("--vidbench-pair-screen", action="store_true", default=False,
                    help="with --vidbench-against and a history on this machine: pair only "
                         "what the history screen suspects (cheaper; misses more, see "
                         "docs/side-by-side.md)")
    group.addoption(ACCEPT_OPTION, action="store_true", default=False,
                    help="with --vidbench-against: head's frames differ from base's on "
                         "purpose; fidelity rows show the change and do not fail the gate")
    group.addoption(KEYS_OPTION, default=None, help=argparse.SUPPRESS)  # an arm's process
    group.addoption(CLIPS_OPTION, default=None, help=argparse.SUPPRESS)


def keep_only(config: pytest.Config, items: list[pytest.Item], key_of: object) -> None:
    """An arm's process measures exactly the keys its parent listed, whatever -k, -m or
    shards selected there: both arms then run the same tests."""
    path = config.getoption(KEYS_OPTION, None)
    if not path:
        return
    wanted = set(Path(path).read_text(encoding="utf-8").split())
    keep = [i for i in items if (k := key_of(i)) is None or k in wanted]  # type: ignore[operator]
    dropped = [i for i in items if i not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def _looks(text: str | None) -> tuple[int, ...]:
    if text is None:
        return DEFAULT_LOOKS
    try:
        looks = tuple(int(x) for x in text.split(","))
    except ValueError:
        looks = ()
    if not looks or any(n < 4 or n % 2 for n in looks) or list(looks) != sorted(set(looks)):
        raise pytest.UsageError(f"--vidbench-pair-looks {text!r}: give increasing even pair "
                                "counts of at least 4, such as 8,16,24")
    return looks


def _mapped(path: Path, head_top: Path, base_top: Path) -> Path:
    try:
        return base_top / path.resolve().relative_to(head_top.resolve())
    except ValueError:
        return path  # outside the repository: the same for both arms


def _pythonpath(top: Path) -> tuple[str, ...]:
    return (str(top), *([str(top / "src")] if (top / "src").is_dir() else []))


@dataclass
class Against:
    """The `Pairing` of a side-by-side run (gate/against.py)."""

    schedule: PairSchedule
    policy: PairPolicy
    record: SideBySide
    base: BaseTree
    head_frames: Callable[[set[tuple[str, str]]], dict] | None = None  # set before judging
    _warmed_keys: set[str] = field(default_factory=set)
    _clips: Path | None = None  # the warm-up pair's frames, removed at close

    @property
    def warmed(self) -> Pair | None:
        return self.record.warmup[0] if self.record.warmup else None

    def base_lacks(self, keys: list[str]) -> set[str]:
        if not keys:
            return set()
        warm = self.warmed
        if warm is None:
            self._clips = Path(tempfile.mkdtemp(prefix="vidbench-clips-"))
            warm = self.schedule.warm_up(keys, self._clips)
            self.record.warmup.append(warm)
            self._warmed_keys = set(keys)
        assert set(keys) <= self._warmed_keys, "the warm-up pair ran fewer tests than asked"
        return missing_keys(warm.base, keys) if warm.base.ok else set()

    def measure(self, keys: list[str], count: int) -> list[Pair]:
        return self.schedule.measure(keys, count)

    def fidelity(self, record: ResultRecord, metric: QualityMetric) -> PairedFidelity:
        assert self.head_frames is not None, "run_end gives the run's frames before judging"
        frames = self.head_frames({(record.model, record.variant)})
        return paired_fidelity(record, metric, frames.get((record.model, record.variant), {}),
                               self._clips, self.warmed)

    def finished(self, family: PairedFamily) -> None:
        self.record.pairs = list(family.pairs)
        self.record.error = family.error
        if (c := family.control) is not None:
            self.record.control_change_pct = math.expm1(c.delta) * 100
            self.record.control_p = min(1.0, 2 * min(c.p_worse, c.p_better))

    def close(self) -> None:
        self.base.remove()
        if self._clips is not None:
            shutil.rmtree(self._clips, ignore_errors=True)


def open_against(config: pytest.Config, c: VidbenchConfig, updating: bool,
                 messages: list[str], note: object) -> Against | None:
    """The base tree and the schedule, or None without --vidbench-against; every
    misconfiguration is a UsageError (exit 4) before anything is measured."""
    ref = config.getoption("--vidbench-against")
    if ref is None:
        return None
    if updating:
        raise pytest.UsageError("--vidbench-against judges head against base and records "
                                "nothing: drop --vidbench-update-baselines (record history "
                                "on main-branch runs instead)")
    if config.getoption("numprocesses", None):
        raise pytest.UsageError("--vidbench-against runs its pairs one process at a time: "
                                "drop -n (shards combine: each judges its own share)")
    looks = _looks(config.getoption("--vidbench-pair-looks"))
    invocation = Path(config.invocation_params.dir)
    try:
        head_top = toplevel(invocation)
        base = open_base(ref, head_top, invocation)
    except AgainstError as error:
        raise pytest.UsageError(f"pytest-vidbench: {error}") from None
    head = state(head_top)
    if head.dirty:
        messages.append("the working tree has uncommitted changes: head is measured with "
                        "them, so --vidbench-against HEAD is not an A/A comparison")
    seed = config.getoption("--vidbench-pair-seed")
    seed = random.SystemRandom().randrange(2**31) if seed is None else seed
    python = config.getoption("--vidbench-base-python") or sys.executable
    base_cwd = _mapped(invocation, head_top, base.root)
    rootdir = Path(config.rootpath)
    arms = (Arm("base", base.root, _mapped(rootdir, head_top, base.root), base_cwd, head_top,
                python, _pythonpath(base.root)),
            Arm("head", head_top, rootdir, invocation, base.root, sys.executable,
                _pythonpath(head_top)))
    head_args = [str(a) for a in config.args]
    option = config.option
    measuring = [f"--vidbench-device={c.device}", f"--vidbench-threads={c.threads}",
                 f"--vidbench-cpu-allocator={c.cpu_allocator}",
                 f"--vidbench-warmup={min(c.warmup, 1)}",
                 f"--vidbench-rounds={c.remeasure_rounds}",
                 f"--vidbench-calls-per-round={c.remeasure_calls}",
                 *carried_options(getattr(option, "plugins", None) or [],
                                  getattr(option, "override_ini", None) or [])]
    for name in ("--vidbench-models", "--vidbench-metrics"):
        if (value := config.getoption(name)) is not None:
            measuring.append(f"{name}={value}")
    # Both arms get the same paths, each relative to its own tree.
    base_args = tuple(str(_mapped(invocation / a.split("::")[0], head_top, base.root))
                      + ("::" + a.split("::", 1)[1] if "::" in a else "") for a in head_args)
    schedule = PairSchedule(arms[0], arms[1], tuple(head_args), base_args, tuple(measuring),
                            seed, note=note)  # type: ignore[arg-type]
    record = SideBySide(ref, base.state.commit, head.commit, base.state.tree, head.tree,
                        head.dirty, seed)
    policy = PairPolicy(alpha=c.thresholds.alpha, looks=looks,
                        view=config.getoption("--vidbench-pair-view"),
                        screen=config.getoption("--vidbench-pair-screen"),
                        accept_output=config.getoption(ACCEPT_OPTION),
                        spending=config.getoption("--vidbench-pair-spending"))
    return Against(schedule, policy, record, base)
