"""Time the default quality metrics per clip: `python -m pytest_vidbench.quality.cost`.

Prints a Markdown table of median milliseconds per clip (torch and OpenCV pinned to one thread,
so the numbers mean "one core"). Fidelity metrics are timed as the plugin runs them: against a
reference stored with the default `ReferenceConfig` (so a 256 px clip is first reduced to
64 px and 8 frames); `--full-reference` times them against a full-size reference instead.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import cv2
import torch

from pytest_vidbench.quality.metrics import default_quality_metrics
from pytest_vidbench.quality.reference import ReferenceConfig, make_reference_clip


def synthetic_clip(frames: int, size: int, seed: int = 0) -> torch.Tensor:
    """A smooth texture panning 2 px per frame: realistic work for flow and SSIM."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, size // 8 + 2, (size + 2 * frames) // 8 + 2, generator=g)
    big = torch.nn.functional.interpolate(
        coarse, size=(size, size + 2 * frames), mode="bicubic"
    )[0].clamp(0, 1)
    return torch.stack([big[:, :, 2 * t : 2 * t + size] for t in range(frames)])


def time_metrics(
    frames: int, size: int, runs: int, full_reference: bool
) -> dict[str, float]:
    """Median ms per clip for each default metric (after one warm-up call)."""
    reference = synthetic_clip(frames, size)
    noise = 0.02 * torch.randn(reference.shape, generator=torch.Generator().manual_seed(1))
    current = (reference + noise).clamp(0, 1)
    config = ReferenceConfig()
    stored = make_reference_clip(
        "p0/s0", reference, max_side=config.max_side, max_frames=config.max_frames
    )
    ref = reference if full_reference else stored
    results: dict[str, float] = {}
    for metric in default_quality_metrics():
        metric.compute(current, reference=ref)  # warm-up: imports, allocator, VMAF model
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            metric.compute(current, reference=ref)
            samples.append((time.perf_counter() - start) * 1000.0)
        results[metric.name] = statistics.median(samples)
    return results


def markdown_table(columns: dict[str, dict[str, float]]) -> str:
    names = list(next(iter(columns.values())))
    lines = [
        "| metric | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(f"{c[name]:.1f}" for c in columns.values()) + " |")
    totals = " | ".join(f"**{sum(c.values()):.1f}**" for c in columns.values())
    lines.append(f"| **total** | {totals} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--sizes", default="64,256", help="comma-separated square sizes (px)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per metric (median)")
    parser.add_argument("--full-reference", action="store_true",
                        help="fidelity against a full-size reference, not a stored reduced one")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    columns = {}
    for size in (int(v) for v in args.sizes.split(",")):
        label = f"{args.frames}x3x{size}x{size} (ms)"
        columns[label] = time_metrics(args.frames, size, args.runs, args.full_reference)
    mode = "full-size reference" if args.full_reference else "stored reference (64 px, 8 frames)"
    print(f"Median of {args.runs} runs per clip, 1 thread, fidelity vs {mode}; "
          f"torch {torch.__version__}, OpenCV {cv2.__version__}.\n")
    print(markdown_table(columns))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
