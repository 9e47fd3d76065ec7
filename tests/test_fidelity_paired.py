"""Side by side, fidelity: the run's frames scored against each arm's saved warm-up clips
(plugin/fidelity.py), on real clip files and the real PSNR metric."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pytest_vidbench.plugin.fidelity import paired_fidelity, save_arm_clips
from pytest_vidbench.quality.metrics import PSNR
from pytest_vidbench.records import ResultRecord
from pytest_vidbench.records.pairs import ArmRun, Pair

RECORD = ResultRecord(test_id="t", model="m", variant="fp32", metric="psnr", kind="quality",
                      unit="dB")
WARM = Pair(ArmRun("base"), ArmRun("head"), True, -1)


def clip(seed: int, size: int = 32) -> torch.Tensor:
    return torch.rand(6, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.fixture
def frames() -> dict[str, torch.Tensor]:
    return {"p0/s0": clip(0), "p1/s0": clip(1)}


def save(root: Path, arm: str, frames: dict[str, torch.Tensor]) -> None:
    save_arm_clips(str(root / arm), {("m", "fp32"): frames}, 64, 8)


def test_head_against_base_and_against_its_own_arm(tmp_path: Path, frames) -> None:
    save(tmp_path, "head", frames)
    save(tmp_path, "base", {"p0/s0": frames["p0/s0"], "p1/s0": 1 - frames["p1/s0"]})
    found = paired_fidelity(RECORD, PSNR, frames, tmp_path, WARM)
    assert found.problem is None
    assert found.aa == {"p0/s0": 100.0, "p1/s0": 100.0}  # the same frames: the cap
    assert found.vs_base["p0/s0"] == 100.0 and found.vs_base["p1/s0"] < PSNR.floor


def test_what_cannot_be_compared_says_why(tmp_path: Path, frames) -> None:
    assert "did not run" in paired_fidelity(RECORD, PSNR, frames, None, None).problem
    failed = Pair(ArmRun("base", error="boom"), ArmRun("head"), True, -1)
    assert "boom" in paired_fidelity(RECORD, PSNR, frames, tmp_path, failed).problem
    assert "saved no frames of m [fp32]" in paired_fidelity(RECORD, PSNR, frames, tmp_path,
                                                            WARM).problem
    save(tmp_path, "base", {"p0/s0": clip(0, size=16)})  # head changed the resolution
    found = paired_fidelity(RECORD, PSNR, frames, tmp_path, WARM)
    assert found.problem is not None and found.problem.startswith("psnr: ")
    assert not found.vs_base
