"""A controlled slowdown for the real-machine calibration: `-p pytest_vidbench.calibrate.slowdown`.

With VIDBENCH_SLOWDOWN="ltx-tiny:2:0.5", the first half of the attention modules of that
built-in model's denoiser run their forward twice (keeping the second result), the way a
slower attention kernel would cost more. With VIDBENCH_SLOWDOWN="sdpa:2", the kernel every
model shares, `torch.nn.functional.scaled_dot_product_attention`, runs twice instead: a
slowdown of shared code, whose size differs per model. The effect on the whole call is measured, not
assumed: the calibration reports it from the runs themselves.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import pytest

from pytest_vidbench.models.loading import denoiser_of

ORIGINAL = pytest.StashKey["object"]()
ORIGINAL_SDPA = pytest.StashKey["object"]()
SHARED = "sdpa"
ENV = "VIDBENCH_SLOWDOWN"


def _repeat_attention(pipe: Any, repeats: int, fraction: float = 1.0) -> Any:
    denoiser = denoiser_of(pipe)
    assert denoiser is not None
    modules = [m for m in denoiser.modules()
               if "Attention" in type(m).__name__ and m is not denoiser]
    for module in modules[: round(len(modules) * fraction)]:
        forward = module.forward

        def slower(*args: Any, _forward: Any = forward, **kwargs: Any) -> Any:
            for _ in range(repeats - 1):
                _forward(*args, **kwargs)
            return _forward(*args, **kwargs)

        module.forward = slower
    return pipe


def _slow_sdpa(config: pytest.Config, repeats: int) -> None:
    import torch.nn.functional as F

    original = F.scaled_dot_product_attention
    config.stash[ORIGINAL_SDPA] = original

    def slower(*args: Any, **kwargs: Any) -> Any:
        for _ in range(repeats - 1):
            original(*args, **kwargs)
        return original(*args, **kwargs)

    F.scaled_dot_product_attention = slower


def pytest_configure(config: pytest.Config) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    from pytest_vidbench.models import zoo

    name, repeats, *fraction = spec.split(":")
    if name == SHARED:
        _slow_sdpa(config, int(repeats))
        return
    share = float(fraction[0]) if fraction else 1.0
    model = zoo.BUILTIN_MODELS[name]
    config.stash[ORIGINAL] = model
    zoo.BUILTIN_MODELS[name] = dataclasses.replace(
        model, build=lambda seed: _repeat_attention(model.build(seed), int(repeats), share))


def pytest_unconfigure(config: pytest.Config) -> None:
    # Put the model back: a process that runs pytest more than once must not keep the patch.
    sdpa = config.stash.get(ORIGINAL_SDPA, None)
    if sdpa is not None:
        import torch.nn.functional as F

        F.scaled_dot_product_attention = sdpa
    model = config.stash.get(ORIGINAL, None)
    if model is not None:
        from pytest_vidbench.models import zoo

        zoo.BUILTIN_MODELS[model.name] = model
