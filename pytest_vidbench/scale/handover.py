"""What an xdist worker hands the controller, and the controller's intake (workers.py).

Through xdist's `workeroutput`, so JSON types only; clips go through files in the
controller's scratch directory instead (they can be large).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_vidbench.plugin.cases import case_of
from pytest_vidbench.records import RunCost
from pytest_vidbench.scale.workers import OUTPUT_KEY, SCRATCH_KEY

if TYPE_CHECKING:
    from pytest_vidbench.plugin.cases import BenchmarkCase
    from pytest_vidbench.quality.registry import QualityMetric


@dataclass
class CaseInfo:
    """What the controller needs of a benchmark case it did not collect."""

    record_key: str
    model: str
    variant: str
    metric: str
    kind: str
    quality: dict[str, Any] | None = None  # the metric's thresholds (no function)

    @classmethod
    def of(cls, case: BenchmarkCase) -> CaseInfo:
        quality = None
        if case.quality is not None:
            quality = {f.name: getattr(case.quality, f.name) for f in fields(case.quality)
                       if f.name != "fn"}
            quality["value_range"] = list(quality["value_range"])
        return cls(case.record_key, case.model.name, case.variant_name, case.metric,
                   case.kind, quality)

    def metric_thresholds(self) -> QualityMetric | None:
        from pytest_vidbench.quality.registry import QualityMetric

        if self.quality is None:
            return None
        q = dict(self.quality, value_range=tuple(self.quality["value_range"]))
        return QualityMetric(fn=_measured_on_a_worker, **q)


def _measured_on_a_worker(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("quality metrics are computed on the workers, not the controller")


@dataclass
class WorkerOutput:
    """One worker's share of the run, as it travels through xdist (JSON types only)."""

    worker: str
    records: list[dict[str, Any]] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)
    collected: list[str] = field(default_factory=list)  # every benchmark key, in order
    deselected: int = 0
    control_samples: list[float] = field(default_factory=list)
    timed_seconds: float = 0.0
    clips: list[list[str]] = field(default_factory=list)  # [model, variant, .pt file]
    cost: dict[str, float] = field(default_factory=dict)  # RunCost.to_json()

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkerOutput:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def save_clips(scratch: Path, worker: str, clips: dict[tuple[str, str], dict]
               ) -> list[list[str]]:
    """Each (model, variant)'s frames into the controller's scratch directory:
    [model, variant, path] each."""
    import torch

    out: list[list[str]] = []
    for i, ((model, variant), frames) in enumerate(sorted(clips.items())):
        path = scratch / f"{worker}-{i}.pt"
        torch.save({label: t.detach().cpu() for label, t in frames.items()}, path)
        out.append([model, variant, str(path)])
    return out


def load_clips(entries: list[list[str]]) -> dict[tuple[str, str], dict]:
    import torch

    return {(model, variant): torch.load(path, weights_only=True)
            for model, variant, path in entries}


class HandedOver:
    """The controller's view of what its workers measured (plugin/measured.py `Measured`)."""

    def __init__(self, outputs: list[WorkerOutput]) -> None:
        self.outputs = outputs  # shared with the session, which take_over fills
        self._clips: dict[tuple[str, str], dict] | None = None

    def _infos(self) -> list[CaseInfo]:
        return [CaseInfo(**c) for out in self.outputs for c in out.cases]

    def control_samples(self) -> list[float]:
        return [x for out in self.outputs for x in out.control_samples]

    def timed_seconds(self) -> float:
        return sum(out.timed_seconds for out in self.outputs)

    def clips(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], dict]:
        if self._clips is None:  # read once: the store and the previews both ask
            self._clips = {k: v for out in self.outputs for k, v in load_clips(out.clips).items()}
        return {k: self._clips[k] for k in sorted(keys) if k in self._clips}

    def quality_metrics(self) -> dict[str, QualityMetric]:
        return {i.metric: q for i in self._infos() if (q := i.metric_thresholds()) is not None}

    def reference_keys(self) -> set[tuple[str, str]]:
        return {(i.model, i.variant) for i in self._infos()
                if i.quality is not None and i.quality.get("needs_reference")}

    def record_keys(self) -> set[str]:
        return {c["record_key"] for out in self.outputs for c in out.cases}

    def cost(self) -> RunCost:
        """The workers' phases, summed: CPU-seconds of the run's processes, not its wall."""
        total = RunCost()
        for out in self.outputs:
            total.add(RunCost.from_json(out.cost))
        return total


def case_infos(cases: dict[str, BenchmarkCase]) -> list[dict[str, Any]]:
    return [CaseInfo.of(c).__dict__ for c in cases.values()]


def benchmark_keys(items: list[pytest.Item]) -> list[str]:
    return [case.record_key for item in items if (case := case_of(item)) is not None]


# -- the two ends of the hand-over ---------------------------------------------------------

def hand_over(session: Any) -> None:
    """A worker's end of the run: its share goes to the controller; nothing is written."""
    config = session.config
    worker = str(config.workerinput.get("workerid", "gw0"))
    scratch = config.workerinput.get(SCRATCH_KEY)
    pairs = {(r.model, r.variant) for r in session.records if r.kind == "quality"}
    measured = session.measured
    clips = measured.clips(pairs | measured.reference_keys()) if scratch else {}
    out = WorkerOutput(
        worker, [r.to_json() for r in session.records], case_infos(session.cases),
        list(session.collected_order), session.deselected, measured.control_samples(),
        measured.timed_seconds(), save_clips(Path(scratch), worker, clips) if clips else [],
        measured.cost().to_json())
    config.workeroutput[OUTPUT_KEY] = out.to_json()


def take_over(session: Any, workeroutput: dict[str, Any] | None, error: Any,
              worker: str | None = None) -> None:
    """The controller's end: one worker's records join the run, in collection order."""
    from pytest_vidbench.records import ResultRecord

    data = (workeroutput or {}).get(OUTPUT_KEY)
    if data is None:  # it crashed, or was stopped: its models have no results
        name = f"{worker}" if worker else "an xdist worker"
        session.lost_workers.append(name)
        session.messages.append(f"{name} stopped before handing over its results"
                                + (f" ({error})" if error is not None else "")
                                + "; its tests have none, and baselines are not updated")
        return
    out = WorkerOutput.from_json(data)
    if any(done.worker == out.worker for done in session.handed_over):
        return  # xdist reports an interrupted worker down twice
    session.handed_over.append(out)
    for item in out.records:
        session.records.append(ResultRecord.from_json(item))
    if not session.collected_order:
        session.collected_order = list(out.collected)
    session.collected_keys |= set(out.collected)
    session.deselected = max(session.deselected, out.deselected)
    order = {key: i for i, key in enumerate(session.collected_order)}
    session.records.sort(key=lambda r: order.get(r.key, len(order)))
