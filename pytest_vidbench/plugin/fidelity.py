"""Side by side, fidelity: head's frames scored against base's for the same (prompt, seed).

The warm-up pair's two processes save their frames, reduced like reference clips
(`--vidbench-save-clips`, measure/arms.py). The run's own process then scores its frames
against base's clip, and against the clip of head's own arm process: the second is an A/A
check of the device, made in every run (gate/quality.py `judge_fidelity_paired`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_vidbench.records.pairs import Pair, PairedFidelity

if TYPE_CHECKING:
    from pytest_vidbench.quality.registry import QualityMetric
    from pytest_vidbench.records import ResultRecord


def save_arm_clips(directory: str, clips: dict[tuple[str, str], dict[str, Any]],
                   max_side: int, max_frames: int) -> None:
    """In an arm's process asked for them: the frames of every model it measured."""
    from pytest_vidbench.quality.reference import ReferenceConfig
    from pytest_vidbench.store.references import reference_path, save_references

    config = ReferenceConfig(max_side=max_side, max_frames=max_frames)
    for (model, variant), frames in clips.items():
        save_references(reference_path(directory, model, variant), frames, config)


def _load(directory: Path, model: str, variant: str) -> dict[str, Any] | None:
    from pytest_vidbench.store.references import load_references, reference_path

    path = reference_path(directory, model, variant)
    return load_references(path) if path.is_file() else None


def _score(metric: QualityMetric, frames: dict[str, Any], clips: dict[str, Any] | None
           ) -> dict[str, float]:
    if not clips:
        return {}
    return {label: metric.compute(f, reference=clips[label])
            for label, f in sorted(frames.items()) if label in clips}


def paired_fidelity(record: ResultRecord, metric: QualityMetric, head_frames: dict[str, Any],
                    clips: Path | None, warm: Pair | None) -> PairedFidelity:
    """`record`'s frames (the run's own) against each arm's warm-up clip of its model."""
    if warm is None or clips is None:
        return PairedFidelity(problem="the warm-up pair did not run")
    if not warm.base.ok:
        return PairedFidelity(problem=f"base's process failed: {warm.base.error}")
    if not head_frames:
        return PairedFidelity(problem="this run has no frames of it")
    from pytest_vidbench.quality.errors import MetricUnavailable, ReferenceFileError

    try:
        base = _load(clips / "base", record.model, record.variant)
        if base is None:
            return PairedFidelity(problem=f"base's process saved no frames of {record.model} "
                                          f"[{record.variant}]")
        head = _load(clips / "head", record.model, record.variant)
        return PairedFidelity(_score(metric, head_frames, base),
                              _score(metric, head_frames, head))
    except (ValueError, MetricUnavailable, ReferenceFileError) as error:
        # another resolution or frame count (a changed workload), or no VMAF here
        return PairedFidelity(problem=f"{metric.name}: {error}")
