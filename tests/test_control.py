"""The control workload times the machine, not the code under test (measure/control.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention

from pytest_vidbench.measure import control
from pytest_vidbench.measure.control import ControlWorkload
from pytest_vidbench.measure.device import DeviceSetup

PATCHED = [(F, "scaled_dot_product_attention"), (F, "conv2d"), (F, "silu"), (torch, "tanh"),
           (torch, "matmul")]


def test_the_control_runs_the_kernels_that_torch_nn_functional_names() -> None:
    # Bound below the Python names, yet the same kernels: what the control times is unchanged.
    assert F.scaled_dot_product_attention is control._NN.scaled_dot_product_attention
    assert F.conv2d is control._OPS.conv2d
    assert torch.tanh is control._OPS.tanh
    assert torch.matmul is control._OPS.matmul


def test_a_head_that_swaps_the_attention_kernel_slows_the_models_and_not_the_control(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    for owner, name in PATCHED:
        original = getattr(owner, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)
    ControlWorkload(DeviceSetup("cpu", 1, tf32=False, deterministic=False)).run()
    assert calls == []
    # A diffusers attention block, as the pipelines run it, does go through the swapped kernel.
    Attention(query_dim=8, heads=2, dim_head=4)(torch.randn(1, 3, 8))
    assert "scaled_dot_product_attention" in calls
