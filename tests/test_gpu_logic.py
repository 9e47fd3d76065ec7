"""The device-independent logic of the GPU trackers, run on the CPU: what a memory figure
means, which CUDA device events and synchronisation use, how MIG instances are matched,
and what an energy figure says it covers. The CUDA-only tests at the end run on a GPU."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from pytest_vidbench.measure.device import DeviceSetup, apply_device_setup, cuda_index
from pytest_vidbench.measure.trackers import CpuMemoryTracker, Tracker
from pytest_vidbench.measure.trackers.energy import EnergyTracker, energy_scope
from pytest_vidbench.measure.trackers.memory import call_peak_bytes, peak_growth
from pytest_vidbench.measure.trackers.mig import (
    MIG_INSTANCE,
    MIG_UNRESOLVED,
    WHOLE_DEVICE,
    GpuInventory,
    NvmlTarget,
    resolve_target,
    uuid_key,
    visible_entry,
)

GPU_A = "GPU-5b1c3f8e-0f4a-4c1e-9d2a-7e6b1a2c3d4e"
GPU_B = "GPU-11111111-2222-3333-4444-555555555555"
MIG_1 = "MIG-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
MIG_2 = "MIG-99999999-8888-7777-6666-555555555555"
INVENTORY = [GpuInventory(GPU_B), GpuInventory(GPU_A, migs=((0, MIG_1), (3, MIG_2)))]


# -- memory: the call's own need ---------------------------------------------------------

def test_call_peak_is_peak_during_minus_resident_before():
    assert call_peak_bytes(resident_before=700, peak_during=1000) == 300
    assert call_peak_bytes(resident_before=700, peak_during=700) == 0


@given(resident=st.lists(st.integers(0, 2**34), max_size=5),
       deltas=st.lists(st.integers(-2**20, 2**30), max_size=40))
def test_adding_a_resident_model_does_not_move_a_call_figure(resident, deltas):
    """The review's bug: the old tracker reported the device-wide peak, which grows with
    every other model resident. The call's figure must not depend on them."""
    own = peak_growth(deltas)
    before = sum(resident)
    device_peak = before + own  # what max_memory_allocated() reads after the reset
    assert call_peak_bytes(before, device_peak) == own == call_peak_bytes(0, own)


def test_peak_growth_counts_frees_of_older_tensors_against_the_call():
    # The call frees 5 bytes it did not allocate, then allocates 8: it needed 3 more.
    assert peak_growth([-5, 8]) == 3
    assert peak_growth([4, -4, 6, -6]) == 6
    assert peak_growth([]) == 0


def test_cpu_tracker_ignores_tensors_resident_before_the_call():
    tracker = CpuMemoryTracker()
    figures = []
    for resident_mib in (0, 64):
        resident = torch.ones(resident_mib * 2**18 + 1)
        tracker.start()
        x = torch.ones(2**18)  # 1 MiB made by the call itself
        del x
        figures.append(tracker.stop())
        del resident
    assert figures[0] == figures[1] >= 2**20
    assert tracker.details()["definition"].startswith("peak during the call minus resident")


# -- the selected CUDA device ------------------------------------------------------------

@pytest.mark.parametrize(("device", "index"), [("cpu", None), ("cuda:0", 0), ("cuda:1", 1),
                                               ("cuda:12", 12)])
def test_cuda_index_of_a_resolved_device(device, index):
    assert cuda_index(device) == index
    assert DeviceSetup(device, 1, False, True).cuda_index == index


@pytest.mark.parametrize("device", ["cuda", "cuda:", "cuda:x", "cudax:1"])
def test_an_unresolved_cuda_device_is_refused(device):
    """A bare "cuda" is whichever device is current: cuda:0 in a cuda:1 run."""
    with pytest.raises(ValueError, match="not a resolved CUDA device"):
        cuda_index(device)


# -- MIG ---------------------------------------------------------------------------------

def test_uuid_key_drops_the_kind_prefix_and_case():
    assert uuid_key(GPU_A) == uuid_key(GPU_A[4:].upper()) == GPU_A[4:]
    assert uuid_key(" MIG-ABC ") == "abc"


def test_a_mig_instance_is_matched_to_its_own_handle():
    # torch prints the instance UUID without a prefix.
    assert resolve_target(INVENTORY, MIG_2[4:], None) == NvmlTarget(1, 3, MIG_INSTANCE)
    assert resolve_target(INVENTORY, None, MIG_1) == NvmlTarget(1, 0, MIG_INSTANCE)


def test_a_plain_gpu_is_the_whole_device():
    assert resolve_target(INVENTORY, GPU_B[4:], None) == NvmlTarget(0, None, WHOLE_DEVICE)


def test_the_parent_of_mig_instances_says_the_instance_is_not_resolvable():
    """The old lookup fell back to the parent silently: figures covered the whole GPU."""
    target = resolve_target(INVENTORY, GPU_A[4:], None)
    assert target == NvmlTarget(1, None, MIG_UNRESOLVED)
    assert target.scope == "whole device (MIG instance not resolvable)"


def test_an_instance_named_by_cuda_visible_devices_beats_a_parent_uuid():
    assert resolve_target(INVENTORY, GPU_A, MIG_2) == NvmlTarget(1, 3, MIG_INSTANCE)


def test_old_driver_mig_names_match_exactly_only():
    old = f"MIG-{GPU_A}/1/0"
    inventory = [GpuInventory(GPU_A, migs=((0, old),))]
    assert resolve_target(inventory, None, old) == NvmlTarget(0, 0, MIG_INSTANCE)
    assert resolve_target(inventory, GPU_A[4:], None) == NvmlTarget(0, None, MIG_UNRESOLVED)


def test_nothing_matches_unknown_or_missing_uuids():
    assert resolve_target(INVENTORY, "GPU-00000000-0000-0000-0000-000000000000", None) is None
    assert resolve_target(INVENTORY, None, None) is None
    assert resolve_target([], GPU_A, None) is None


@pytest.mark.parametrize(("value", "index", "entry"), [
    (None, 0, None), ("", 0, None), ("0,1", 1, None),
    (f"{MIG_1}", 0, MIG_1), (f"{GPU_B}, {MIG_2}", 1, MIG_2), (f"{MIG_1}", 1, None),
])
def test_visible_entry_reads_only_uuid_entries(value, index, entry):
    assert visible_entry(value, index) == entry


# -- energy scope and dead code ------------------------------------------------------------

def test_energy_scope_never_claims_a_mig_instance():
    assert energy_scope(WHOLE_DEVICE) == "whole device (other processes included)"
    assert energy_scope(MIG_UNRESOLVED).startswith("whole device (MIG instance not resolvable")
    assert energy_scope(MIG_INSTANCE).startswith("whole GPU")


def test_trackers_carry_no_unused_kind_or_unit():
    for cls in (Tracker, CpuMemoryTracker, EnergyTracker):
        assert not hasattr(cls, "kind") and not hasattr(cls, "unit")


# -- on a GPU ----------------------------------------------------------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
def test_cuda_memory_of_a_call_is_the_same_with_another_model_resident():
    from pytest_vidbench.measure.trackers import CudaMemoryTracker

    setup = apply_device_setup("cuda:0", 1, False, True)
    tracker = CudaMemoryTracker(setup)
    figures = []
    for resident_mib in (0, 512):
        resident = torch.empty(resident_mib * 2**18, device="cuda:0")
        tracker.start()
        x = torch.ones(2**20, device="cuda:0")  # 4 MiB
        del x
        figures.append(tracker.stop())
        del resident
    assert figures[0] == figures[1] >= 4 * 2**20


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_latency_events_are_recorded_on_the_selected_device():
    from pytest_vidbench.measure.trackers import LatencyTracker

    setup = apply_device_setup("cuda:1", 1, False, True)
    tracker = LatencyTracker(setup)
    a = torch.randn(4096, 4096, device="cuda:1")
    tracker.start()
    for _ in range(20):
        a = torch.tanh(a @ a)
    assert tracker.stop() > 1e-3  # cuda:0's idle stream would read ~0
