"""A controlled quality change: `-p pytest_vidbench.calibrate.perturb` with
VIDBENCH_ATTENTION_NOISE="animatediff-tiny:0.2" adds seeded Gaussian noise of that relative
size (× the output's std) to every attention output of that built-in model's denoiser, the
way a wrong attention kernel would. Used by the quality tests and the fidelity study.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import pytest
import torch

from pytest_vidbench.models.loading import denoiser_of

ORIGINAL = pytest.StashKey["object"]()
ENV = "VIDBENCH_ATTENTION_NOISE"


def add_attention_noise(pipe: Any, eps: float, seed: int = 1234) -> Any:
    denoiser = denoiser_of(pipe)
    assert denoiser is not None
    generator = torch.Generator().manual_seed(seed)

    def hook(_module: Any, _inputs: Any, output: Any) -> Any:
        tensor = output[0] if isinstance(output, tuple) else output
        noise = torch.randn(tensor.shape, generator=generator).to(tensor.device, tensor.dtype)
        noisy = tensor + eps * tensor.std() * noise
        return (noisy, *output[1:]) if isinstance(output, tuple) else noisy

    for module in denoiser.modules():
        if "Attention" in type(module).__name__ and module is not denoiser:
            module.register_forward_hook(hook)
    return pipe


def pytest_configure(config: pytest.Config) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    from pytest_vidbench.models import zoo

    name, eps = spec.split(":")
    model = zoo.BUILTIN_MODELS[name]
    config.stash[ORIGINAL] = model
    zoo.BUILTIN_MODELS[name] = dataclasses.replace(
        model, build=lambda seed: add_attention_noise(model.build(seed), float(eps)))


def pytest_unconfigure(config: pytest.Config) -> None:
    # Put the model back: a process that runs pytest more than once must not keep the patch.
    model = config.stash.get(ORIGINAL, None)
    if model is not None:
        from pytest_vidbench.models import zoo

        zoo.BUILTIN_MODELS[model.name] = model
