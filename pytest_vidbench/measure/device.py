"""Device setup: which device, how many threads, and the numerics policy, recorded."""

from __future__ import annotations

import os
import random
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch


class DeviceUnavailable(RuntimeError):
    """The requested device does not exist on this machine."""


@dataclass(frozen=True)
class DeviceSetup:
    device: str  # "cpu" or "cuda:N"
    threads: int  # torch intra-op threads (CPU timing noise depends on it)
    tf32: bool  # TF32 matmuls on Ampere+; changes numerics, so it is recorded
    deterministic: bool
    cpu_allocator: str = "default"  # measure/cpu_allocator.py; part of the environment key
    cpu_huge_pages: bool = False  # measure/huge_pages.py, as torch runs; part of the key too

    @property
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")

    @property
    def torch_device(self) -> torch.device:
        return torch.device(self.device)

    @property
    def cuda_index(self) -> int | None:
        """The CUDA device index that events, streams and synchronisation must use."""
        return cuda_index(self.device)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def cuda_index(device: str) -> int | None:
    """'cuda:N' -> N, 'cpu' -> None. A bare 'cuda' is refused: it means whatever device is
    current, which is how events once landed on cuda:0 during a cuda:1 run."""
    if not device.startswith("cuda"):
        return None
    kind, _, index = device.partition(":")
    if kind != "cuda" or not index.isdigit():
        raise ValueError(f"{device!r} is not a resolved CUDA device (expected 'cuda:N')")
    return int(index)


def resolve_device(requested: str) -> str:
    """'auto' picks the current CUDA device when torch sees one, else the CPU."""
    if requested == "auto":
        return f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceUnavailable(
                f"--vidbench-device {requested}: torch sees no CUDA device "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); "
                "use --vidbench-device cpu or install a CUDA build of torch"
            )
        index = int(requested.split(":")[1]) if ":" in requested else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise DeviceUnavailable(
                f"--vidbench-device {requested}: only {torch.cuda.device_count()} CUDA device(s)"
            )
        return f"cuda:{index}"
    return "cpu"


def apply_device_setup(requested: str, threads: int, tf32: bool, deterministic: bool,
                       cpu_allocator: str = "default") -> DeviceSetup:
    """Apply thread pinning, numerics flags and the C allocator setting process-wide;
    return what was applied. Raises DeviceUnavailable or AllocatorUnavailable."""
    from pytest_vidbench.measure import huge_pages
    from pytest_vidbench.measure.cpu_allocator import apply_cpu_allocator

    device = resolve_device(requested)
    apply_cpu_allocator(cpu_allocator)
    # One intra-op thread on CPU: measured here, 2 threads gave IQR/median 2.8, 1 thread 0.07.
    if device == "cpu":
        torch.set_num_threads(threads)
    index = cuda_index(device)
    if index is not None:
        # Work a pipeline queues without naming a device (streams, events, torch.randn on
        # "cuda") then lands on the selected GPU, not cuda:0.
        torch.cuda.set_device(index)
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = False  # autotuning would make early calls differ
    if deterministic:
        torch.backends.cudnn.deterministic = True
        # cuBLAS needs this for deterministic GEMMs; setting it is harmless on CPU.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return DeviceSetup(device=device, threads=torch.get_num_threads(), tf32=tf32,
                       deterministic=deterministic, cpu_allocator=cpu_allocator,
                       cpu_huge_pages=huge_pages.settle())


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def synchronize(setup: DeviceSetup) -> None:
    """Wait for every kernel queued on the selected device (only that one)."""
    index = setup.cuda_index
    if index is not None:
        with torch.cuda.device(index):
            torch.cuda.synchronize()
