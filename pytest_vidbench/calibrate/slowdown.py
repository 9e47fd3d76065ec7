"""A controlled slowdown for the real-machine calibration: `-p pytest_vidbench.calibrate.slowdown`.

With VIDBENCH_SLOWDOWN="ltx-tiny:2:0.5", the first half of the attention modules of that
built-in model's denoiser run their forward twice (keeping the second result), the way a
slower attention kernel would cost more. REPEATS may be fractional: "ltx-tiny:1.5" runs each
forward once more on every second invocation (an accumulator, so the same invocations every
run), for effects finer than a whole module's share of the call (a tiny model has only a few
attention modules, so FRACTION alone moves in steps of ~30%). With
VIDBENCH_SLOWDOWN="sdpa:2", the kernel every model shares,
`torch.nn.functional.scaled_dot_product_attention`, runs twice instead: a slowdown of shared
code, whose size differs per model. The effect on the whole call is measured, not assumed:
the calibration reports it from the runs themselves."""

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


class _Extra:
    """How many extra forwards this invocation runs: `repeats - 1` on average, spread
    evenly over the invocations (a Bresenham-style accumulator; deterministic)."""

    def __init__(self, repeats: float) -> None:
        self.per_call = repeats - 1
        self.owed = 0.0

    def __call__(self) -> int:
        self.owed += self.per_call
        whole = int(self.owed + 1e-9)
        self.owed -= whole
        return whole


def _repeat_attention(pipe: Any, repeats: float, fraction: float = 1.0) -> Any:
    denoiser = denoiser_of(pipe)
    assert denoiser is not None
    modules = [m for m in denoiser.modules()
               if "Attention" in type(m).__name__ and m is not denoiser]
    for module in modules[: round(len(modules) * fraction)]:
        forward, extra = module.forward, _Extra(repeats)

        def slower(*args: Any, _forward: Any = forward, _extra: _Extra = extra,
                   **kwargs: Any) -> Any:
            for _ in range(_extra()):
                _forward(*args, **kwargs)
            return _forward(*args, **kwargs)

        module.forward = slower
    return pipe


def _slow_sdpa(config: pytest.Config, repeats: float) -> None:
    import torch.nn.functional as F

    original = F.scaled_dot_product_attention
    config.stash[ORIGINAL_SDPA] = original

    extra = _Extra(repeats)

    def slower(*args: Any, **kwargs: Any) -> Any:
        for _ in range(extra()):
            original(*args, **kwargs)
        return original(*args, **kwargs)

    F.scaled_dot_product_attention = slower


def _repeats(text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value >= 1:  # also NaN
        raise pytest.UsageError(f"{ENV}={spec!r}: REPEATS must be a number ≥ 1, e.g. 2 or 1.5")
    return value


def pytest_configure(config: pytest.Config) -> None:
    spec = os.environ.get(ENV)
    if spec:
        apply(config, spec)


def apply(config: pytest.Config, spec: str) -> None:
    """Apply SPEC (the form of VIDBENCH_SLOWDOWN) in this process only. A head commit's
    conftest.py calls this for a side-by-side series: an environment variable would reach
    base's processes too (calibrate/pairs_real.py)."""
    from pytest_vidbench.models import zoo

    name, text, *fraction = spec.split(":")
    repeats = _repeats(text, spec)
    if name == SHARED:
        _slow_sdpa(config, repeats)
        return
    share = float(fraction[0]) if fraction else 1.0
    model = zoo.BUILTIN_MODELS[name]
    config.stash[ORIGINAL] = model
    zoo.BUILTIN_MODELS[name] = dataclasses.replace(
        model, build=lambda seed: _repeat_attention(model.build(seed), repeats, share))


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
