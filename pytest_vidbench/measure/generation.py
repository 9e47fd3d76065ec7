"""Runners turn (prompt, seed) into frames for one model variant, and time its stages.

A `PipelineRunner` drives any diffusers text-to-video pipeline, built-in or from a
checkpoint, through one calling convention; a `CallableRunner` drives a user's generator.
Stage timing is installed once, by wrapping `encode_prompt` and `vae.decode` on the instance
and hooking the denoiser, so the timed call itself runs the pipeline's own code unchanged.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Protocol

import torch

from pytest_vidbench.measure.device import DeviceSetup, seed_everything
from pytest_vidbench.measure.trackers.latency import StageClock
from pytest_vidbench.models.loading import denoiser_of
from pytest_vidbench.models.spec import FrameGenerator, GenerationSpec


class GenerationError(RuntimeError):
    """A generation failed in a way that fails this model's tests (OOM, NaN frames...)."""


class Runner(Protocol):
    spec: GenerationSpec

    def generate(self, prompt: str, seed: int, clock: StageClock | None = None) -> torch.Tensor:
        """Frames as a T×C×H×W tensor (any device, any float dtype)."""
        ...

    def first_nonfinite_step(self, prompt: str, seed: int) -> int | None:
        """Re-run with per-step checks; the first denoising step with NaN/Inf latents."""
        ...


def check_frames(frames: Any, model: str) -> torch.Tensor:
    """Validate a generator's output; returns float32 CPU frames. Raises GenerationError."""
    if not isinstance(frames, torch.Tensor):
        raise GenerationError(f"{model}: the generator returned {type(frames).__name__}, "
                              "expected a T×C×H×W torch tensor in [0, 1]")
    if frames.ndim == 5 and frames.shape[0] == 1:
        frames = frames[0]
    if frames.ndim != 4 or frames.shape[1] not in (1, 3):
        raise GenerationError(f"{model}: frames have shape {tuple(frames.shape)}, "
                              "expected T×C×H×W with C = 1 or 3")
    frames = frames.detach().to("cpu", torch.float32)
    if frames.shape[1] == 1:
        frames = frames.expand(-1, 3, -1, -1)
    if not torch.isfinite(frames).all():
        raise GenerationError(f"{model}: NaN or Inf in the generated frames")
    low, high = float(frames.min()), float(frames.max())
    if low < -1e-3 or high > 1 + 1e-3:
        raise GenerationError(f"{model}: frame values span [{low:.3g}, {high:.3g}], "
                              "expected [0, 1]")
    return frames.clamp(0, 1)


class PipelineRunner:
    """Calls a diffusers pipeline with the spec, timing text encoding, steps and VAE decode."""

    def __init__(self, pipe: Any, spec: GenerationSpec, setup: DeviceSetup) -> None:
        self.pipe = pipe
        self.spec = spec
        self.setup = setup
        self._clock: StageClock | None = None
        self._step_check: Callable[[int, torch.Tensor], None] | None = None
        if hasattr(pipe, "set_progress_bar_config"):
            pipe.set_progress_bar_config(disable=True)
        self._params = set(inspect.signature(pipe.__call__).parameters)
        self._instrument()

    def _instrument(self) -> None:
        if hasattr(self.pipe, "encode_prompt"):
            self.pipe.encode_prompt = self._timed(self.pipe.encode_prompt, "text_encoder")
        vae = getattr(self.pipe, "vae", None)
        if vae is not None and hasattr(vae, "decode"):
            vae.decode = self._timed(vae.decode, "vae_decode")
        denoiser = denoiser_of(self.pipe)
        if denoiser is not None:
            denoiser.register_forward_pre_hook(self._step_begins)

    def _timed(self, method: Callable[..., Any], stage: str) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            clock = self._clock
            if clock is None or clock.is_open(stage):  # nested calls count once
                return method(*args, **kwargs)
            clock.enter(stage)
            try:
                return method(*args, **kwargs)
            finally:
                clock.leave(stage)

        return wrapper

    def _step_begins(self, _module: Any, _args: Any) -> None:
        # Classifier-free guidance may call the denoiser twice a step: the first call opens it.
        if self._clock is not None and not self._clock.is_open("denoise_step"):
            self._clock.enter("denoise_step")

    def _step_ends(self, step: int, latents: torch.Tensor | None) -> None:
        if self._clock is not None:
            self._clock.leave("denoise_step")
        if self._step_check is not None and latents is not None:
            self._step_check(step, latents)

    def _call_kwargs(self, prompt: str, seed: int) -> dict[str, Any]:
        spec = self.spec
        kwargs: dict[str, Any] = {
            "prompt": prompt, "height": spec.height, "width": spec.width,
            "num_frames": spec.num_frames, "num_inference_steps": spec.num_inference_steps,
            "guidance_scale": spec.guidance_scale, "output_type": "pt",
            # A CPU generator gives the same noise on every device, so seeds mean the same video.
            "generator": torch.Generator("cpu").manual_seed(seed),
        }
        if "negative_prompt" in self._params:
            kwargs["negative_prompt"] = ""
        if "callback_on_step_end" in self._params:
            def on_step_end(_pipe: Any, step: int, _t: Any, tensors: dict[str, Any]) -> dict:
                self._step_ends(step, tensors.get("latents"))
                return {}

            kwargs["callback_on_step_end"] = on_step_end
            kwargs["callback_on_step_end_tensor_inputs"] = ["latents"]
        elif "callback" in self._params:  # older pipelines (TextToVideoSD)
            kwargs["callback"] = lambda step, _t, latents: self._step_ends(step, latents)
            kwargs["callback_steps"] = 1
        kwargs.update(dict(spec.extra))
        return kwargs

    def generate(self, prompt: str, seed: int, clock: StageClock | None = None) -> torch.Tensor:
        self._clock = clock
        try:
            output = self.pipe(**self._call_kwargs(prompt, seed))
        finally:
            self._clock = None
        frames = output.frames if hasattr(output, "frames") else output[0]
        if isinstance(frames, (list, tuple)):
            frames = frames[0]
        if isinstance(frames, torch.Tensor) and frames.ndim == 5:
            frames = frames[0]
        return frames

    def first_nonfinite_step(self, prompt: str, seed: int) -> int | None:
        found: list[int] = []

        def check(step: int, latents: torch.Tensor) -> None:
            if not found and not torch.isfinite(latents).all():
                found.append(step)

        self._step_check = check
        try:
            self.generate(prompt, seed)
        except Exception:  # the diagnosis must not raise over the original error
            pass
        finally:
            self._step_check = None
        return found[0] if found else None


class CallableRunner:
    """A user's `(prompt, seed) -> frames` callable, seeded before every call."""

    def __init__(self, generator: FrameGenerator, spec: GenerationSpec) -> None:
        self.generator = generator
        self.spec = spec

    def generate(self, prompt: str, seed: int, clock: StageClock | None = None) -> torch.Tensor:
        seed_everything(seed)
        return self.generator(prompt, seed)

    def first_nonfinite_step(self, prompt: str, seed: int) -> int | None:
        return None


def add_stages(into: dict[str, list[float]], stages: dict[str, list[float]],
               total: float) -> None:
    """Fold one call's stage timings into per-stage samples; the rest of the call is `other`."""
    per_call = {name: sum(values) for name, values in stages.items()}
    for name in ("text_encoder", "vae_decode"):
        if name in per_call:
            into.setdefault(name, []).append(round(per_call[name], 9))
    if "denoise_step" in stages:
        steps = stages["denoise_step"]
        into.setdefault("denoise_step", []).extend(round(s, 9) for s in steps)
    if per_call:
        other = max(total - sum(per_call.values()), 0.0)
        into.setdefault("other", []).append(round(other, 9))
