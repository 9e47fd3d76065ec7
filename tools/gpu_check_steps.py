"""GPU-check steps measured in this process through the plugin's own paths: (2) timing
truth and (3) memory truth. Each returns a JSON-able dict; errors per model are kept."""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import replace
from typing import Any

import torch
from gpu_check_suite import Ctx

from pytest_vidbench.config import VariantConfig
from pytest_vidbench.measure.control import ControlWorkload
from pytest_vidbench.measure.device import DeviceSetup, apply_device_setup, synchronize
from pytest_vidbench.measure.generation import PipelineRunner
from pytest_vidbench.measure.trackers import LatencyTracker, memory_tracker
from pytest_vidbench.models.loading import apply_variant, build_pipeline
from pytest_vidbench.models.registry import ModelEntry, ModelRegistry
from pytest_vidbench.models.spec import GenerationSpec

# Larger sizes tried in turn until a call keeps the GPU busy ≥ 50 ms: (height, width,
# frames); 8k+1 frames suit every built-in VAE's temporal compression.
LADDER = ((128, 128, 9), (192, 192, 17), (256, 256, 17), (384, 384, 25), (512, 512, 33))
BUSY_S = 0.050


def setup_for(ctx: Ctx) -> DeviceSetup:
    return apply_device_setup("cpu" if ctx.cpu else "cuda", 1, False, True)


def entries(ctx: Ctx) -> list[ModelEntry]:
    found = list(ModelRegistry.with_builtins())
    return found[:2] if ctx.cpu else found


def sized(entry: ModelEntry, height: int, width: int, frames: int) -> ModelEntry:
    spec: GenerationSpec = entry.spec.with_overrides(height=height, width=width,
                                                     num_frames=frames)
    return replace(entry, spec=spec)


def runner_for(entry: ModelEntry, setup: DeviceSetup) -> PipelineRunner:
    variant = VariantConfig()
    pipe = apply_variant(build_pipeline(entry, variant), variant, setup.torch_device)
    return PipelineRunner(pipe, entry.spec, setup)


def generate(runner: PipelineRunner) -> Any:
    return runner.generate(runner.spec.prompts[0], runner.spec.seeds[0])


def free(setup: DeviceSetup) -> None:
    gc.collect()
    if setup.is_cuda:
        torch.cuda.empty_cache()


def mib(value: float | None) -> float | None:
    return None if value is None else round(value / 2**20, 3)


def _kernel_seconds(runner: PipelineRunner, setup: DeviceSetup) -> dict[str, float]:
    """One profiled call: CUDA kernel time summed, and as the union of busy intervals."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    latency = LatencyTracker(setup)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        latency.start()
        generate(runner)
        event_s = latency.stop()
    spans = sorted((e.time_range.start, e.time_range.end) for e in prof.events()
                   if e.device_type == DeviceType.CUDA)
    busy, end = 0.0, float("-inf")
    for start, stop in spans:  # overlapping kernels (several streams) count once
        if stop > end:
            busy += stop - max(start, end)
            end = stop
    total = sum(stop - start for start, stop in spans)
    return {"kernel_sum_s": total / 1e6, "kernel_busy_s": busy / 1e6, "kernels": len(spans),
            "event_s_profiled": event_s}


def time_model(runner: PipelineRunner, setup: DeviceSetup, calls: int) -> dict[str, Any]:
    """Event latency vs wall after synchronize (median of `calls`), vs kernel time."""
    latency = LatencyTracker(setup)
    generate(runner)  # warm-up: lazy init and autotuning stay out of the figures
    events, walls = [], []
    for _ in range(calls):
        synchronize(setup)
        began = time.perf_counter()
        latency.start()
        generate(runner)
        events.append(latency.stop())  # stop() synchronizes before reading the events
        walls.append(time.perf_counter() - began)
    row: dict[str, Any] = {"size": runner.spec.describe().split(",")[0],
                           "event_s": statistics.median(events),
                           "wall_s": statistics.median(walls)}
    row["wall_over_event"] = row["wall_s"] / row["event_s"]
    if setup.is_cuda:
        kernels = _kernel_seconds(runner, setup)
        row.update(kernels)
        row["busy_over_event"] = kernels["kernel_busy_s"] / kernels["event_s_profiled"]
    return row


def step_timing(ctx: Ctx) -> dict[str, Any]:
    setup = setup_for(ctx)
    calls = 3 if ctx.cpu else 5
    rows: list[dict[str, Any]] = []
    for entry in entries(ctx):
        if ctx.remaining() < 5:
            rows.append({"model": entry.name, "error": "budget spent"})
            continue
        try:
            runner = runner_for(entry, setup)
            rows.append({"model": entry.name, "which": "default", **time_model(runner, setup,
                                                                                calls)})
            del runner
            ladder = LADDER[:1] if ctx.cpu else LADDER
            for height, width, frames in ladder:
                runner = runner_for(sized(entry, height, width, frames), setup)
                row = time_model(runner, setup, calls)
                del runner
                free(setup)
                if ctx.cpu or row["event_s"] >= BUSY_S or ctx.remaining() < 10:
                    rows.append({"model": entry.name, "which": "larger",
                                 "busy_enough": row["event_s"] >= BUSY_S, **row})
                    break
        except Exception as error:  # one model's failure is recorded, the others run
            rows.append({"model": entry.name, "error": f"{type(error).__name__}: {error}"})
        free(setup)
    return {"device": setup.device, "calls_per_figure": calls, "models": rows}


def _memory_row(tracker: Any, runner: PipelineRunner, setup: DeviceSetup) -> dict[str, Any]:
    generate(runner)  # warm-up, as the campaign does
    tracker.start()
    generate(runner)
    value = tracker.stop()
    details = tracker.details()
    row = {"call_mib": mib(value), "resident_before_mib": mib(details.get(
        "resident_before_bytes"))}
    if setup.is_cuda:
        row.update({
            "max_allocated_mib": mib(details.get("process_peak_allocated_bytes")),
            "max_reserved_mib": mib(details.get("process_peak_reserved_bytes")),
            "nvml_process_mib": mib(details.get("nvml_process_bytes")),
            "nvml_device_mib": mib(details.get("nvml_device_used_bytes")),
            "nvml_scope": details.get("nvml_scope", details.get("nvml_unavailable"))})
    return row


def agree(alone: float | None, other: float | None) -> bool:
    """The per-model figure must not move with what else is resident (2% or 1 MiB)."""
    if alone is None or other is None:
        return False
    return abs(alone - other) <= max(0.02 * alone, 1.0)


def step_memory(ctx: Ctx) -> dict[str, Any]:
    """Each model's call figure alone on the device, then with every other model (and the
    control workload's tensors) resident."""
    setup = setup_for(ctx)
    tracker = memory_tracker(setup)
    alone: dict[str, dict[str, Any]] = {}
    for entry in entries(ctx):
        try:
            runner = runner_for(entry, setup)
            alone[entry.name] = _memory_row(tracker, runner, setup)
            del runner
        except Exception as error:
            alone[entry.name] = {"error": f"{type(error).__name__}: {error}"}
        free(setup)
    runners = {e.name: runner_for(e, setup) for e in entries(ctx) if "error" not in
               alone[e.name]}
    control = ControlWorkload(setup)
    rows = []
    for name, runner in runners.items():
        together = _memory_row(tracker, runner, setup)
        rows.append({"model": name, **{f"alone_{k}": v for k, v in alone[name].items()},
                     **{f"resident_{k}": v for k, v in together.items()},
                     "agree": agree(alone[name]["call_mib"], together["call_mib"])})
    rows += [{"model": name, **row} for name, row in alone.items() if "error" in row]
    del control, runners
    free(setup)
    return {"device": setup.device, "tracker": type(tracker).__name__,
            "all_agree": all(r.get("agree") for r in rows), "models": rows}
