"""NVML access, with the torch device matched to the NVML device by UUID or PCI bus id.

NVML and torch can number GPUs differently (CUDA_VISIBLE_DEVICES, CUDA_DEVICE_ORDER), so
an index match can read another GPU's memory; we never match by index.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any

import torch


class NvmlUnavailable(RuntimeError):
    """NVML cannot serve this device; the message is the reason, for the record."""


@cache
def _nvml() -> Any:
    try:
        import pynvml
    except ImportError as error:  # pragma: no cover - nvidia-ml-py is a core dependency
        raise NvmlUnavailable(
            f"pynvml is not importable ({error}); pip install nvidia-ml-py") from None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        raise NvmlUnavailable(f"NVML could not start: {error} (no NVIDIA driver?)") from None
    return pynvml


def nvml_module() -> Any:
    """The initialised pynvml module, or NvmlUnavailable with the reason."""
    return _nvml()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class NvmlDevice:
    handle: Any
    uuid: str
    pci_bus_id: str
    name: str
    matched_by: str  # "uuid" or "pci_bus_id"


def _torch_uuid(index: int) -> str | None:
    uuid = getattr(torch.cuda.get_device_properties(index), "uuid", None)
    if uuid is None:
        return None
    text = str(uuid)
    return text if text.startswith("GPU-") else f"GPU-{text}"


def _torch_pci_bus_id(index: int) -> str | None:
    props = torch.cuda.get_device_properties(index)
    bus = getattr(props, "pci_bus_id", None)
    if bus is None:
        return None
    domain = getattr(props, "pci_domain_id", 0)
    device = getattr(props, "pci_device_id", 0)
    return f"{domain:08x}:{bus:02x}:{device:02x}.0"


def match_device(torch_index: int) -> NvmlDevice:
    """Find the NVML handle for torch's CUDA device `torch_index`."""
    nvml = nvml_module()
    uuid = _torch_uuid(torch_index)
    if uuid:
        try:
            handle = nvml.nvmlDeviceGetHandleByUUID(uuid)
            return _describe(handle, "uuid")
        except nvml.NVMLError:
            pass
    bus_id = _torch_pci_bus_id(torch_index)
    if bus_id:
        try:
            handle = nvml.nvmlDeviceGetHandleByPciBusId(bus_id)
            return _describe(handle, "pci_bus_id")
        except nvml.NVMLError:
            pass
    raise NvmlUnavailable(
        f"no NVML device matches torch cuda:{torch_index} (uuid {uuid}, PCI {bus_id})"
    )


def _describe(handle: Any, matched_by: str) -> NvmlDevice:
    nvml = nvml_module()
    return NvmlDevice(
        handle=handle,
        uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
        pci_bus_id=_text(nvml.nvmlDeviceGetPciInfo(handle).busId),
        name=_text(nvml.nvmlDeviceGetName(handle)),
        matched_by=matched_by,
    )


def _process_tree(root: int) -> set[int]:
    """The pid and its descendants, read from /proc (Linux); just the pid elsewhere."""
    pids = {root}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return pids
    parents: dict[int, int] = {}
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as handle:
                # Field 4 is the parent pid; the command name (field 2) may hold spaces.
                parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    changed = True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in pids and pid not in pids:
                pids.add(pid)
                changed = True
    return pids


def process_used_bytes(device: NvmlDevice, pid: int | None = None) -> int | None:
    """VRAM used by this process and its children on the device; None where NVML hides it."""
    nvml = nvml_module()
    pids = _process_tree(pid or os.getpid())
    try:
        processes = nvml.nvmlDeviceGetComputeRunningProcesses(device.handle)
    except nvml.NVMLError:
        return None
    used = [p.usedGpuMemory for p in processes if p.pid in pids and p.usedGpuMemory is not None]
    # Inside containers NVML reports host pids, so none match; say "unknown", not 0.
    return int(sum(used)) if used else None


def device_used_bytes(device: NvmlDevice) -> int:
    return int(nvml_module().nvmlDeviceGetMemoryInfo(device.handle).used)


def total_energy_mj(device: NvmlDevice) -> int:
    """The device's energy counter in millijoules since the driver loaded (Volta and newer)."""
    nvml = nvml_module()
    try:
        return int(nvml.nvmlDeviceGetTotalEnergyConsumption(device.handle))
    except nvml.NVMLError as error:
        raise NvmlUnavailable(f"{device.name} has no energy counter: {error}") from None
