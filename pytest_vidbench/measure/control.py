"""The control workload: a fixed torch computation timed in every round next to the models.

Measured on this machine, some processes run 40–70% slower for every workload at once. A
benchmark's time divided by the control's time, taken in the same rounds, cancels most of
that (run-to-run CV 15% → 5%, docs/noise.md). It shares no code with the
pipelines, so a change to a pipeline cannot hide in it; a change to torch itself can, which
is why the raw figure is judged too. It calls torch's C bindings directly, not through
`torch.nn.functional`: a head commit that swaps `F.scaled_dot_product_attention` for its own
kernel (as attention libraries do) changes the models' calls and not the control. Through
`F`, the real series' `sdpa:2` slowed the control too, and the untouched models read −7 to
−13% ÷ the control (docs/side-by-side.md).

Its mix follows the pipelines' (matmuls, a memory-bound elementwise chain, convolutions,
attention) and it lasts about 50 ms on one CPU thread: longer than a scheduler time slice,
so when another process competes for the core the control is preempted as the models are.
A 4 ms control was measured here to slip through a loaded machine untouched while the
models slowed by 30%.
"""

from __future__ import annotations

import torch

from pytest_vidbench.measure.device import DeviceSetup

# The same kernels as torch.tanh, F.conv2d, F.silu and F.scaled_dot_product_attention, bound
# below any Python-level patch of those names.
_OPS = torch._C._VariableFunctions
_NN = torch._C._nn


class ControlWorkload:
    def __init__(self, setup: DeviceSetup) -> None:
        generator = torch.Generator("cpu").manual_seed(1234)
        # (matrix side, elementwise size, image channels/side, attention tokens, repeats)
        size, flat, channels, side, tokens, self.repeats = (
            (4096, 64_000_000, 64, 128, 4096, 4) if setup.is_cuda
            else (256, 2_000_000, 16, 64, 512, 1))
        device = setup.torch_device

        def randn(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=generator).to(device)

        self.matrix = randn(size, size) / size**0.5
        self.flat = randn(flat)
        self.image = randn(1, channels, side, side)
        self.kernel = randn(channels, channels, 3, 3) / (3 * channels**0.5)
        self.tokens = randn(1, 2, tokens, 32)

    @torch.inference_mode()
    def run(self) -> None:
        for _ in range(self.repeats):
            x = self.matrix
            for _ in range(20):
                x = _OPS.tanh(_OPS.matmul(x, self.matrix))
            y = self.flat
            for _ in range(6):  # memory-bound: sensitive to bandwidth like the VAEs are
                y = _OPS.tanh(y * 0.9 + 0.05)
            z = self.image
            for _ in range(6):
                z = _NN.silu(_OPS.conv2d(z, self.kernel, padding=1))
            for _ in range(4):
                _NN.scaled_dot_product_attention(self.tokens, self.tokens, self.tokens)
