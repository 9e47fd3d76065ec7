"""What a benchmarked model is: how to build it, and what to generate with it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch stays unimported until a model is built: plugin load stays light
    import torch

# A generator turns (prompt, seed) into frames: a T×C×H×W float tensor in [0, 1].
FrameGenerator = Callable[[str, int], "torch.Tensor"]


@dataclass(frozen=True)
class GenerationSpec:
    """The workload: which prompts and seeds, at what size, for how many steps."""

    prompts: tuple[str, ...] = ("a red fox running through fresh snow",)
    seeds: tuple[int, ...] = (0,)
    height: int = 32
    width: int = 32
    num_frames: int = 9
    num_inference_steps: int = 2
    guidance_scale: float = 5.0
    # Extra keyword arguments for the pipeline call (e.g. {"max_sequence_length": 16}).
    extra: tuple[tuple[str, Any], ...] = field(default_factory=tuple)

    def with_overrides(self, **overrides: Any) -> GenerationSpec:
        if "extra" in overrides:
            # Merged, not replaced: a model's own call kwargs (e.g. a prompt template) stay.
            overrides["extra"] = tuple(sorted({**dict(self.extra), **dict(overrides["extra"])
                                               }.items()))
        for name in ("prompts", "seeds"):
            if name in overrides:
                overrides[name] = tuple(overrides[name])
        return replace(self, **overrides)

    @property
    def cases(self) -> list[tuple[int, str, int]]:
        """Every (prompt index, prompt, seed) pair, in a stable order."""
        return [(i, p, s) for i, p in enumerate(self.prompts) for s in self.seeds]

    def describe(self) -> str:
        return (
            f"{self.num_frames}×{self.height}×{self.width}, {self.num_inference_steps} steps, "
            f"cfg {self.guidance_scale:g}, "
            f"{len(self.prompts)} prompt(s) × {len(self.seeds)} seed(s)"
        )


def case_label(prompt_index: int, seed: int) -> str:
    """The label that pairs a quality sample across runs."""
    return f"p{prompt_index}/s{seed}"


@dataclass(frozen=True)
class BuiltinModel:
    """A tiny real diffusers pipeline, built in code from a seeded random-weight config."""

    name: str  # e.g. "wan-tiny"
    family: str  # e.g. "Wan 2.1"
    pipeline_class: str  # e.g. "WanPipeline"
    spec: GenerationSpec
    build: Callable[[int], Any]  # seed -> DiffusionPipeline (fp32, on CPU)
    description: str = ""
