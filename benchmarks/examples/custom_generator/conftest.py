"""Registering your own generator: any callable (prompt, seed) -> T×C×H×W frames in [0, 1].

This one is not a diffusion model at all: a few convolutions turn seeded noise into a short
clip, with the prompt's length steering the motion. It gets every fixture and metric the
built-in pipelines get (latency, memory, quality, baselines and verdicts).
"""

from __future__ import annotations

import torch

from pytest_vidbench import GenerationSpec

SPEC = GenerationSpec(prompts=("a slow pan over a forest", "waves on a beach"), seeds=(0,),
                      height=48, width=48, num_frames=8, num_inference_steps=1)


class TinyVideoNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv3d(4, 16, 3, padding=1), torch.nn.SiLU(),
            torch.nn.Conv3d(16, 16, 3, padding=1), torch.nn.SiLU(),
            torch.nn.Conv3d(16, 3, 3, padding=1),
        )

    @torch.inference_mode()
    def forward(self, noise: torch.Tensor, shift: int) -> torch.Tensor:
        # Roll the noise a little more each frame so the clip has real motion.
        frames = torch.stack([noise.roll(t * shift, dims=-1) for t in range(SPEC.num_frames)], 2)
        return torch.sigmoid(self.body(frames)).squeeze(0).permute(1, 0, 2, 3)


def make_generator() -> TinyVideoNet:
    torch.manual_seed(0)  # seeded weights: the same model in every run
    return TinyVideoNet().eval()


def pytest_vidbench_models(registry):
    model = make_generator()

    def generate(prompt: str, seed: int) -> torch.Tensor:
        noise = torch.randn(1, 4, SPEC.height, SPEC.width,
                            generator=torch.Generator().manual_seed(seed))
        return model(noise, shift=1 + len(prompt.split()) % 3)

    registry.add_generator("toy-convnet", generate, spec=SPEC, family="example")
