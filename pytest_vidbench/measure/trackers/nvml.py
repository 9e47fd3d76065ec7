"""NVML access, with the torch device matched to the NVML device by UUID or PCI bus id.

NVML and torch can number GPUs differently (CUDA_VISIBLE_DEVICES, CUDA_DEVICE_ORDER), so
an index match can read another GPU's memory; we never match by index. A MIG instance is
matched to its own `MIG-` handle (memory figures then cover the instance); when it cannot
be, the device says its figures cover the whole GPU (`scope`, see mig.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any

import torch

from pytest_vidbench.measure.trackers.mig import (
    MIG_INSTANCE,
    GpuInventory,
    gpu_scope,
    resolve_target,
    uuid_key,
    visible_entry,
)


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
    handle: Any  # the MIG instance's handle when resolved, else the GPU's
    parent_handle: Any  # the whole GPU's handle: the energy counter lives there
    uuid: str
    pci_bus_id: str
    name: str
    matched_by: str  # "uuid" or "pci_bus_id"
    scope: str  # mig.WHOLE_DEVICE, mig.MIG_INSTANCE or mig.MIG_UNRESOLVED

    @property
    def is_mig(self) -> bool:
        return self.scope == MIG_INSTANCE


def _torch_uuid(index: int) -> str | None:
    uuid = getattr(torch.cuda.get_device_properties(index), "uuid", None)
    return None if uuid is None else str(uuid)


def _torch_pci_bus_id(index: int) -> str | None:
    props = torch.cuda.get_device_properties(index)
    bus = getattr(props, "pci_bus_id", None)
    if bus is None:
        return None
    domain = getattr(props, "pci_domain_id", 0)
    device = getattr(props, "pci_device_id", 0)
    return f"{domain:08x}:{bus:02x}:{device:02x}.0"


def _mig_handles(nvml: Any, gpu: Any) -> dict[int, Any]:
    """The GPU's MIG instances by MIG index; empty when MIG is off or unsupported."""
    try:
        if nvml.nvmlDeviceGetMigMode(gpu)[0] != nvml.NVML_DEVICE_MIG_ENABLE:
            return {}
        count = int(nvml.nvmlDeviceGetMaxMigDeviceCount(gpu))
    except nvml.NVMLError:  # pre-Ampere GPUs: no MIG
        return {}
    handles = {}
    for index in range(count):
        try:  # slots without an instance answer NOT_FOUND
            handles[index] = nvml.nvmlDeviceGetMigDeviceHandleByIndex(gpu, index)
        except nvml.NVMLError:
            continue
    return handles


def _inventory(nvml: Any) -> tuple[list[GpuInventory], list[Any], list[dict[int, Any]]]:
    """Every GPU NVML can open, with its MIG instances: UUIDs and handles, in step."""
    inventory, gpus, migs = [], [], []
    try:
        count = int(nvml.nvmlDeviceGetCount())
    except nvml.NVMLError:
        return [], [], []
    for index in range(count):
        try:
            gpu = nvml.nvmlDeviceGetHandleByIndex(index)
            uuid = _text(nvml.nvmlDeviceGetUUID(gpu))
        except nvml.NVMLError:  # a GPU this process may not open
            continue
        handles = _mig_handles(nvml, gpu)
        pairs = []
        for mig_index, handle in handles.items():
            try:
                pairs.append((mig_index, _text(nvml.nvmlDeviceGetUUID(handle))))
            except nvml.NVMLError:
                continue
        inventory.append(GpuInventory(uuid=uuid, migs=tuple(pairs)))
        gpus.append(gpu)
        migs.append(handles)
    return inventory, gpus, migs


def match_device(torch_index: int) -> NvmlDevice:
    """Find the NVML handle for torch's CUDA device `torch_index` (a MIG instance's own)."""
    nvml = nvml_module()
    uuid = _torch_uuid(torch_index)
    visible = visible_entry(os.environ.get("CUDA_VISIBLE_DEVICES"), torch_index)
    inventory, gpus, migs = _inventory(nvml)
    target = resolve_target(inventory, uuid, visible)
    if target is not None:
        gpu = gpus[target.gpu]
        handle = gpu if target.mig is None else migs[target.gpu][target.mig]
        return _describe(handle, gpu, "uuid", target.scope)
    bus_id = _torch_pci_bus_id(torch_index)
    if bus_id:
        try:
            gpu = nvml.nvmlDeviceGetHandleByPciBusId(bus_id)
            gpu_uuid = _text(nvml.nvmlDeviceGetUUID(gpu))
        except nvml.NVMLError:
            pass
        else:
            # A PCI bus id names the whole GPU: with MIG on, every instance shares it.
            same = [g for g in inventory if uuid_key(g.uuid) == uuid_key(gpu_uuid)]
            scope = gpu_scope(same[0]) if same else gpu_scope(
                GpuInventory(gpu_uuid, tuple(_mig_handles(nvml, gpu).items())))
            return _describe(gpu, gpu, "pci_bus_id", scope)
    raise NvmlUnavailable(
        f"no NVML device matches torch cuda:{torch_index} (uuid {uuid}, PCI {bus_id})"
    )


def _describe(handle: Any, parent: Any, matched_by: str, scope: str) -> NvmlDevice:
    nvml = nvml_module()
    return NvmlDevice(
        handle=handle,
        parent_handle=parent,
        uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
        pci_bus_id=_text(nvml.nvmlDeviceGetPciInfo(parent).busId),  # MIG handles have none
        name=_text(nvml.nvmlDeviceGetName(handle)),
        matched_by=matched_by,
        scope=scope,
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
    try:  # a GPU-wide counter: MIG instance handles answer NOT_SUPPORTED
        return int(nvml.nvmlDeviceGetTotalEnergyConsumption(device.parent_handle))
    except nvml.NVMLError as error:
        raise NvmlUnavailable(f"{device.name} has no energy counter: {error}") from None
