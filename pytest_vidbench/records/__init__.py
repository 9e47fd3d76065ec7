"""The records a run produces: one `ResultRecord` per benchmark test, with its `Verdict`.

These are the shapes every other module speaks (trackers fill them, the verdict engine
judges them, the renderers and the results file read them). Keep them plain data.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pytest_vidbench.records.pairs import SideBySide

Kind = Literal["latency", "memory", "energy", "quality"]
Direction = Literal["lower", "higher"]  # which way is better
Status = Literal["ok", "error", "skipped"]
VerdictStatus = Literal[
    "regression", "suspicious", "unchanged", "improvement", "new", "incomparable", "error"
]

KINDS: tuple[str, ...] = ("latency", "memory", "energy", "quality")
VERDICTS: tuple[str, ...] = (
    "regression", "suspicious", "unchanged", "improvement", "new", "incomparable", "error"
)


@dataclass
class Verdict:
    """The judgement on one result, with the numbers behind it."""

    status: VerdictStatus
    baseline: float | None = None  # the baseline summary the result was compared with
    change_pct: float | None = None  # (current / baseline - 1) * 100, raw
    limit: float | None = None  # the value above (or below) which the result would be flagged
    interval: tuple[float, float] | None = None  # prediction interval for the current value
    p_value: float | None = None  # one-sided p-value, before multiple-comparison control
    method: str = ""  # short name of the rule that decided, e.g. "prediction-interval/log"
    reason: str = ""  # one human sentence: why this verdict
    remeasured: bool = False  # a suspect was measured again before this verdict
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.interval is not None:
            data["interval"] = list(self.interval)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        data = dict(data)
        if data.get("interval") is not None:
            low, high = data["interval"]
            data["interval"] = (float(low), float(high))
        return cls(**data)


@dataclass
class ResultRecord:
    """One benchmark test's measurement: a (model, variant, metric) triple."""

    test_id: str  # the pytest node id
    model: str
    variant: str
    metric: str
    kind: Kind
    unit: str  # "s", "B", "J", or the quality metric's unit ("dB", "score")
    direction: Direction = "lower"
    # The summary: median for latency and energy, peak for memory, mean for quality.
    value: float | None = None
    samples: list[float] = field(default_factory=list)
    # For quality: one label per sample, "p<prompt index>/s<seed>", so runs pair by (prompt, seed).
    sample_labels: list[str] = field(default_factory=list)
    # For latency: per-stage samples in seconds, e.g. {"text_encoder": [...], "vae_decode": [...]}.
    stages: dict[str, list[float]] | None = None
    status: Status = "ok"
    error: str | None = None
    # Extra figures that are not the summary (raw/normalised summaries, reserved VRAM, ...).
    details: dict[str, Any] = field(default_factory=dict)
    verdict: Verdict | None = None

    @property
    def key(self) -> str:
        """Stable identity across runs, independent of the test file's path."""
        return f"{self.model}[{self.variant}]::{self.metric}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict.to_json() if self.verdict else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResultRecord:
        data = dict(data)
        verdict = data.pop("verdict", None)
        record = cls(**data)
        record.verdict = Verdict.from_json(verdict) if verdict else None
        return record


@dataclass
class FreshRun:
    """One fresh process that re-measured suspects and their reference models."""

    values: dict[str, float]  # record key -> median seconds (or joules) in that process
    control: float | None = None  # that process's control workload median
    calls: int = 0  # timed calls behind each value
    timed_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _number_or_none(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if ok else None


PHASES = ("imports", "build", "warmup", "rounds", "control", "untimed", "quality", "judge",
          "store", "report")


@dataclass
class RunCost:
    """Where this process's time went around its timed generation, in seconds (the results
    file's run.cost; tools/run_cost.py tabulates it). `rounds` is the timed rounds' wall
    time, control and the timed calls included; the rest are disjoint phases."""

    imports: float = 0.0  # torch, diffusers and the campaign's modules, first loaded
    build: float = 0.0  # building the pipelines and placing them on the device
    warmup: float = 0.0  # untimed warm-up calls, the memory probe's profiled one among them
    rounds: float = 0.0
    control: float = 0.0  # the control workload, inside the rounds
    untimed: float = 0.0  # calls for (prompt, seed) cases the timed rounds did not reach
    quality: float = 0.0  # scoring the generated clips in the quality tests
    judge: float = 0.0  # the verdicts, fresh processes included
    store: float = 0.0  # the baseline update, when asked for
    report: float = 0.0  # building and writing the reports and the results file

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            setattr(self, name, getattr(self, name) + time.perf_counter() - started)

    def add(self, other: RunCost) -> None:
        for name in PHASES:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_json(self) -> dict[str, float]:
        return {name: round(getattr(self, name), 3) for name in PHASES}

    @classmethod
    def from_json(cls, data: Any) -> RunCost:
        data = data if isinstance(data, dict) else {}
        return cls(**{n: v for n in PHASES if (v := _number_or_none(data.get(n))) is not None})


@dataclass
class RunContext:
    """Run-level facts, held once: records keep per-test data only."""

    control_samples: list[float] = field(default_factory=list)
    calls: int = 0  # timed calls behind each latency summary of this process
    fresh: list[FreshRun] = field(default_factory=list)  # the confirmation processes, in order
    confirmation_error: str | None = None  # why a needed confirmation could not run
    alpha: float | None = None  # the family-wise error rate the timing tests were judged at
    cost: RunCost = field(default_factory=RunCost)
    side_by_side: SideBySide | None = None  # --vidbench-against: the trees and their pairs

    @property
    def control(self) -> float | None:
        values = sorted(self.control_samples)
        if not values:
            return None
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2

    def to_json(self) -> dict[str, Any]:
        return {"control_samples": list(self.control_samples), "calls": self.calls,
                "fresh_runs": [f.to_json() for f in self.fresh],
                "confirmation_error": self.confirmation_error, "alpha": self.alpha,
                "cost": self.cost.to_json(),
                "side_by_side": self.side_by_side.to_json() if self.side_by_side else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunContext:
        """From a results file's `run` section (validated by store/results.py)."""
        fresh = [FreshRun(values={str(k): float(v) for k, v in f.get("values", {}).items()},
                          control=f.get("control"), calls=int(f.get("calls", 0)),
                          timed_seconds=float(f.get("timed_seconds") or 0.0))
                 for f in data.get("fresh_runs") or [] if isinstance(f, dict)]
        return cls(control_samples=[float(x) for x in data.get("control_samples") or []],
                   calls=int(data.get("calls") or 0), fresh=fresh,
                   confirmation_error=data.get("confirmation_error"),
                   alpha=_number_or_none(data.get("alpha")),
                   cost=RunCost.from_json(data.get("cost")),
                   side_by_side=_side_by_side(data.get("side_by_side")))


def _side_by_side(data: Any) -> SideBySide | None:
    """A results file's side-by-side section; a malformed one is only not shown (it never
    decides a verdict again)."""
    if not isinstance(data, dict):
        return None
    try:
        return SideBySide.from_json(data)
    except (TypeError, KeyError, ValueError, AttributeError):
        return None


@dataclass
class RunReport:
    """Everything a renderer needs about one run: its records plus the context of the comparison."""

    records: list[ResultRecord]
    environment: dict[str, Any] = field(default_factory=dict)  # see environment.py for the keys
    commit: str | None = None  # this run's git commit (short), with "+dirty" when dirty
    baseline_commit: str | None = None  # commit of the newest baseline run compared against
    baseline_date: str | None = None
    baseline_environment: str | None = None  # the baseline file's environment key
    repeats: str = ""  # e.g. "2 warm-up, 5 rounds × 2 calls"
    wall_seconds: float | None = None  # session wall time
    timed_seconds: float | None = None  # sum of timed generation time
    warnings: list[str] = field(default_factory=list)  # one line each (e.g. incomparable env)
    gate_enforced: bool = True  # False under --vidbench-report-only / --vidbench-update-baselines
    baselines_updated: str | None = None  # what the store update did, when one was asked for
    # Directories whose .npz clips the HTML report may embed (this run's frame previews, the
    # baseline's reference clips): a path a results file names elsewhere is never read.
    frame_roots: tuple[str, ...] = ()
    # Ctrl-C or SIGTERM (a cancelled CI job) ended the run: the records are what finished.
    interrupted: bool = False
    side_by_side: SideBySide | None = None  # --vidbench-against: what was compared

    @property
    def counts(self) -> dict[str, int]:
        """Verdict counts in VERDICTS order, records without a verdict skipped."""
        counts = dict.fromkeys(VERDICTS, 0)
        for record in self.records:
            if record.verdict is not None:
                counts[record.verdict.status] += 1
        return counts

    @property
    def regressions(self) -> list[ResultRecord]:
        return [r for r in self.records if r.verdict and r.verdict.status == "regression"]

    @property
    def gate_failed(self) -> bool:
        return self.gate_enforced and bool(self.regressions)


# A test's baseline history as the gate sees it: the store turns its files into these
# (store/histories.py), so the gate never reads files.
@dataclass(frozen=True)
class PastRun:
    """One earlier run of one test."""

    value: float
    date: str  # shared by every test of that run
    commit: str | None = None
    control: float | None = None  # that run's control workload median, seconds
    # Recorded on purpose although it regressed: judged like any run (the change points
    # re-base on it once it is a level), shown flagged in the reports.
    regressed: bool = False


@dataclass(frozen=True)
class TestHistory:
    kind: str
    runs: tuple[PastRun, ...]  # oldest first
    samples: tuple[float, ...] = ()  # the newest run's samples
    sample_labels: tuple[str, ...] = ()
    stages: dict[str, list[float]] = field(default_factory=dict)
    anchor: tuple[PastRun, ...] = ()  # the history when a release was pinned (creep)
    anchor_label: str | None = None

    @property
    def pinned(self) -> TestHistory | None:
        """The anchor as a history of its own, for judging creep; None when none is pinned."""
        if not self.anchor:
            return None
        return TestHistory(self.kind, self.anchor, anchor_label=self.anchor_label)

    @property
    def newest(self) -> PastRun | None:
        return self.runs[-1] if self.runs else None

    @property
    def best(self) -> float | None:
        """The lowest value: memory is judged against it, so creep cannot walk upwards."""
        return min((r.value for r in self.runs), default=None)
