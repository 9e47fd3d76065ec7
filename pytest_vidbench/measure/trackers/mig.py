"""Which NVML device a torch CUDA device is: a whole GPU, or one MIG instance of it.

Pure logic over UUID strings, so it is tested without a GPU. A MIG instance has a `MIG-`
UUID; matching it to its parent GPU's `GPU-` UUID or PCI bus id would make memory and
device figures cover the whole GPU, so a match says which scope it covers.
"""

from __future__ import annotations

from dataclasses import dataclass

WHOLE_DEVICE = "whole device"
MIG_INSTANCE = "MIG instance"
MIG_UNRESOLVED = "whole device (MIG instance not resolvable)"


@dataclass(frozen=True)
class GpuInventory:
    """One NVML GPU: its UUID and its MIG instances as (MIG index, UUID) pairs."""

    uuid: str
    migs: tuple[tuple[int, str], ...] = ()  # empty: MIG is off or has no instance


@dataclass(frozen=True)
class NvmlTarget:
    gpu: int  # position in the inventory
    mig: int | None  # MIG index under that GPU; None: the GPU itself
    scope: str  # WHOLE_DEVICE, MIG_INSTANCE or MIG_UNRESOLVED


def uuid_key(text: str) -> str:
    """The comparable part of a UUID: no `GPU-`/`MIG-` prefix, lower case.

    torch prints a device UUID without a prefix; NVML prefixes it by kind.
    """
    text = text.strip().lower()
    for prefix in ("gpu-", "mig-"):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


def visible_entry(cuda_visible_devices: str | None, torch_index: int) -> str | None:
    """The UUID that CUDA_VISIBLE_DEVICES names for torch's device `torch_index`, if any.

    Integer entries say nothing about which MIG instance is meant, so they give None.
    """
    if not cuda_visible_devices:
        return None
    entries = [e.strip() for e in cuda_visible_devices.split(",") if e.strip()]
    if not 0 <= torch_index < len(entries):
        return None
    entry = entries[torch_index]
    return entry if entry[:4].upper() in ("GPU-", "MIG-") else None


def resolve_target(inventory: list[GpuInventory], torch_uuid: str | None,
                   visible: str | None) -> NvmlTarget | None:
    """Match torch's device to an NVML GPU or MIG instance by UUID; None when nothing matches.

    A MIG instance wins over its parent. A GPU matched while it has MIG instances is only
    known as the whole device: which instance this process runs on is not resolvable.
    """
    keys = {uuid_key(u) for u in (torch_uuid, visible) if u}
    if not keys:
        return None
    for g, gpu in enumerate(inventory):
        for index, mig in gpu.migs:
            # Old drivers name instances "MIG-GPU-<uuid>/<gi>/<ci>": only an exact match.
            if uuid_key(mig) in keys or (visible is not None and mig == visible):
                return NvmlTarget(gpu=g, mig=index, scope=MIG_INSTANCE)
    for g, gpu in enumerate(inventory):
        if uuid_key(gpu.uuid) in keys:
            return NvmlTarget(gpu=g, mig=None, scope=gpu_scope(gpu))
    return None


def gpu_scope(gpu: GpuInventory) -> str:
    """The scope of a figure read from the GPU's own handle."""
    return MIG_UNRESOLVED if gpu.migs else WHOLE_DEVICE
