"""The environment fingerprint: what a result was measured on, and the key that decides
which baselines it may be compared with (GPU or CPU model, device kind, torch major.minor)."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from pytest_vidbench.measure import huge_pages
from pytest_vidbench.measure.cpu_allocator import key_suffix
from pytest_vidbench.measure.device import DeviceSetup
from pytest_vidbench.measure.trackers.nvml import NvmlUnavailable, match_device, nvml_module


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def git_info(cwd: Path) -> dict[str, Any]:
    """Commit and dirty flag of the repository at `cwd`; nulls outside a git checkout."""
    def run(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "branch": run("rev-parse", "--abbrev-ref", "HEAD") if commit else None,
        "dirty": bool(status) if status is not None else None,
    }


def _gpu_info(setup: DeviceSetup) -> dict[str, Any]:
    index = setup.torch_device.index or 0
    props = torch.cuda.get_device_properties(index)
    info: dict[str, Any] = {
        "device_name": props.name,
        "gpu_count": torch.cuda.device_count(),
        "compute_capability": f"{props.major}.{props.minor}",
        "total_memory_bytes": props.total_memory,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
    }
    try:
        device = match_device(index)
        info["gpu_uuid"] = device.uuid
        info["gpu_pci_bus_id"] = device.pci_bus_id
        info["nvml_matched_by"] = device.matched_by
        nvml = nvml_module()
        driver = nvml.nvmlSystemGetDriverVersion()
        info["driver"] = driver.decode() if isinstance(driver, bytes) else driver
    except NvmlUnavailable as error:
        info["nvml"] = f"unavailable: {error}"
    except Exception as error:  # pynvml.NVMLError: a driver query failed; keep the rest
        info["nvml"] = f"query failed: {error}"
    return info


def collect_environment(setup: DeviceSetup, rootdir: Path, workers: int = 1) -> dict[str, Any]:
    env: dict[str, Any] = {
        "workers": workers,  # pytest-xdist processes sharing this machine (1: serial)
        "device": setup.device,
        "device_kind": "cuda" if setup.is_cuda else "cpu",
        "device_name": cpu_model(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": setup.threads,
        "tf32": setup.tf32,
        "deterministic": setup.deterministic,
        "cpu_allocator": setup.cpu_allocator,
        "cpu_huge_pages": setup.cpu_huge_pages,
        "torch": torch.__version__,
        "diffusers": _version("diffusers"),
        "transformers": _version("transformers"),
        "torchmetrics": _version("torchmetrics"),
        "python": platform.python_version(),
        "python_implementation": sys.implementation.name,
        "os": platform.platform(),
        "gpu_uuid": None,
        "driver": None,
        "cuda": torch.version.cuda,
    }
    if setup.is_cuda:
        env.update(_gpu_info(setup))
    git = git_info(rootdir)
    env.update(git_commit=git["commit"], git_branch=git["branch"], git_dirty=git["dirty"])
    return env


def _slug(text: str) -> str:
    text = re.sub(r"\((r|tm|c)\)", "", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:60] or "unknown"


def torch_minor(version: str) -> str:
    match = re.match(r"(\d+)\.(\d+)", version)
    return f"{match.group(1)}.{match.group(2)}" if match else version


def environment_key(environment: dict[str, Any]) -> str:
    """Baselines are comparable only within one key: device kind, its model, torch minor,
    the number of xdist workers sharing the machine when there are several, the C
    allocator setting when it is not the default, and torch's CPU huge pages when on."""
    workers = environment.get("workers") or 1
    return (
        f"{environment['device_kind']}-{_slug(str(environment['device_name']))}"
        f"-torch{torch_minor(str(environment['torch']))}"
        + (f"-workers{workers}" if isinstance(workers, int) and workers > 1 else "")
        + key_suffix(str(environment.get("cpu_allocator") or "default"))
        + huge_pages.key_suffix(environment.get("cpu_huge_pages") is True)
    )


def short_commit(environment: dict[str, Any]) -> str | None:
    commit = environment.get("git_commit")
    if not commit:
        return None
    return commit[:10] + ("+dirty" if environment.get("git_dirty") else "")
