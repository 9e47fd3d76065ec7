"""The control workload: a fixed torch computation timed in every round next to the models.

Measured on this machine, some processes run 40–70% slower for every workload at once. A
benchmark's time divided by the control's time, taken in the same rounds, cancels most of
that (run-to-run CV 15% → 5% in ../shared/notes/noise.md). It shares no code with the
pipelines, so a change to a pipeline cannot hide in it; a change to torch itself can, which
is why the raw figure is judged too.
"""

from __future__ import annotations

import torch

from pytest_vidbench.device import DeviceSetup


class ControlWorkload:
    """Matmul + tanh and a small conv, about 20 ms on one CPU thread."""

    def __init__(self, setup: DeviceSetup) -> None:
        generator = torch.Generator("cpu").manual_seed(1234)
        size, self.repeats = (1024, 40) if setup.is_cuda else (96, 120)
        device = setup.torch_device
        self.matrix = (torch.randn(size, size, generator=generator) / size**0.5).to(device)
        self.image = torch.randn(1, 8, 32, 32, generator=generator).to(device)
        self.kernel = (torch.randn(8, 8, 3, 3, generator=generator) / 9).to(device)

    @torch.inference_mode()
    def run(self) -> None:
        x = self.matrix
        for _ in range(self.repeats):
            x = torch.tanh(x @ self.matrix)
        y = self.image
        for _ in range(self.repeats // 4):
            y = torch.tanh(torch.nn.functional.conv2d(y, self.kernel, padding=1))
