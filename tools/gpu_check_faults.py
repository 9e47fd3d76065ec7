"""GPU-check steps (4) energy truth and (6) faults, measured through the plugin's paths."""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from typing import Any

import torch
from gpu_check_steps import (
    agree,
    entries,
    free,
    generate,
    mib,
    runner_for,
    setup_for,
    sized,
    time_model,
)
from gpu_check_suite import Ctx, run_process, suite_cmd

from pytest_vidbench.config import Thresholds, VariantConfig, VidbenchConfig
from pytest_vidbench.measure.campaign import MeasurementCampaign
from pytest_vidbench.measure.device import synchronize
from pytest_vidbench.measure.progress import Progress
from pytest_vidbench.measure.trackers import EnergyTracker, memory_tracker
from pytest_vidbench.measure.trackers.nvml import match_device, nvml_module, total_energy_mj


def _sample(read: Any, seconds: float, every: float = 0.001) -> list[tuple[float, int]]:
    out, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        out.append((time.monotonic(), int(read())))
        time.sleep(every)
    return out


def step_energy(ctx: Ctx) -> dict[str, Any]:
    """Counter delta per video vs mean sampled power × time, vs idle power."""
    setup = setup_for(ctx)
    device = match_device(setup.cuda_index or 0)
    nvml = nvml_module()
    power_mw = lambda: nvml.nvmlDeviceGetPowerUsage(device.parent_handle)  # noqa: E731
    idle = [w for _, w in _sample(power_mw, 2.0, 0.02)]
    runner = runner_for(sized(entries(ctx)[0], 256, 256, 17), setup)
    generate(runner)
    samples: list[tuple[float, int]] = []
    counter: list[tuple[float, int]] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            now = time.monotonic()
            samples.append((now, int(power_mw())))
            counter.append((now, total_energy_mj(device)))
            time.sleep(0.005)

    synchronize(setup)
    thread = threading.Thread(target=watch, daemon=True)
    start_mj, began, calls = total_energy_mj(device), time.monotonic(), 0
    thread.start()
    while time.monotonic() - began < 2.5 or calls < 3:  # ≥ 2 s window, ≥ 3 videos
        generate(runner)
        calls += 1
    synchronize(setup)
    window = time.monotonic() - began
    end_mj = total_energy_mj(device)
    stop.set()
    thread.join()
    changes = [t for (t, a), (_, b) in itertools.pairwise(counter) if b != a]
    period = statistics.median(b - a for a, b in itertools.pairwise(changes)) \
        if len(changes) > 2 else None
    mean_w = statistics.fmean(w for _, w in samples) / 1e3
    idle_w = statistics.fmean(idle) / 1e3
    per_call = EnergyTracker(setup)
    per_call.start()
    generate(runner)
    one_call_j = per_call.stop()
    return {
        "scope": per_call.details()["scope"], "videos": calls, "window_s": window,
        "counter_j_per_video": (end_mj - start_mj) / 1e3 / calls,
        "power_x_time_j_per_video": mean_w * window / calls,
        "idle_power_x_time_j_per_video": idle_w * window / calls,
        "mean_power_w": mean_w, "idle_power_w": idle_w,
        "counter_update_period_s": period,
        # A delta is off by up to one update: a 1% figure needs ~100 updates in the window.
        "window_for_1pct_s": None if period is None else 100 * period,
        "single_call_counter_j": one_call_j, "single_call_event_s": time_model(
            runner, setup, 1)["event_s"],
    }


def _oom(ctx: Ctx, setup: Any) -> dict[str, Any]:
    """A too-large spec next to a normal model: it errors, the other runs, memory freed."""
    small, other = entries(ctx)[0], entries(ctx)[1]
    probe = memory_tracker(setup)
    runner = runner_for(small, setup)
    generate(runner)
    probe.start()
    generate(runner)
    need = probe.stop()
    del runner
    free(setup)
    # Cap this process's allocator so the big spec fails fast instead of paging the host.
    total = torch.cuda.get_device_properties(setup.cuda_index).total_memory
    cap = torch.cuda.memory_reserved() + 20 * need + 2**28
    torch.cuda.set_per_process_memory_fraction(min(cap / total, 1.0), setup.cuda_index)
    before = torch.cuda.memory_allocated()
    config = VidbenchConfig(rounds=2, calls_per_round=1, warmup=1,
                            thresholds=Thresholds(control=False))
    cases = [(sized(small, 512, 512, 33), VariantConfig()), (other, VariantConfig())]
    campaign = MeasurementCampaign(cases, setup, config, Progress(None, -1))
    results = list(campaign.run().values())
    after_run = torch.cuda.memory_allocated()
    del campaign
    free(setup)
    torch.cuda.set_per_process_memory_fraction(1.0, setup.cuda_index)
    return {"cap_mib": mib(cap), "big_error": results[0].error,
            "oom_reported": "out of memory" in (results[0].error or ""),
            "other_ok": results[1].error is None and bool(results[1].latency),
            "other_memory_mib": mib(max(results[1].memory, default=None)),
            "allocated_before_mib": mib(before), "allocated_after_run_mib": mib(after_run),
            "allocated_after_release_mib": mib(torch.cuda.memory_allocated())}


def _resident(ctx: Ctx, setup: Any) -> dict[str, Any]:
    """Re-measure each model with large ones resident: its figures must not move."""
    tracker = memory_tracker(setup)
    rows, runners = [], {}
    for entry in entries(ctx):
        runner = runner_for(entry, setup)
        alone = time_model(runner, setup, 3)
        generate(runner)
        tracker.start()
        generate(runner)
        rows.append({"model": entry.name, "alone_event_s": alone["event_s"],
                     "alone_mib": mib(tracker.stop())})
        runners[entry.name] = runner
    side = 128 if ctx.cpu else 384
    large = [runner_for(sized(e, side, side, 17), setup) for e in entries(ctx)[:2]]
    for runner in large:
        generate(runner)  # their activations pass through the allocator's cache
    hog = torch.empty(2**24 if ctx.cpu else int(torch.cuda.mem_get_info()[0] * 0.25) // 4,
                      device=setup.torch_device)
    for row in rows:
        runner = runners[row["model"]]
        row["resident_event_s"] = time_model(runner, setup, 3)["event_s"]
        generate(runner)
        tracker.start()
        generate(runner)
        row["resident_mib"] = mib(tracker.stop())
        row["memory_agrees"] = agree(row["alone_mib"], row["resident_mib"])
        row["latency_ratio"] = row["resident_event_s"] / row["alone_event_s"]
    del hog, large, runners
    free(setup)
    return {"models": rows}


def step_faults(ctx: Ctx) -> dict[str, Any]:
    setup = setup_for(ctx)
    out: dict[str, Any] = {}
    parts = [("resident", lambda: _resident(ctx, setup))]
    if not ctx.cpu:
        parts.insert(0, ("oom", lambda: _oom(ctx, setup)))
    for name, part in parts:
        try:
            out[name] = part()
        except Exception as error:  # one fault check failing leaves the others to run
            out[name] = {"error": f"{type(error).__name__}: {error}"}
            free(setup)
    if ctx.cpu:
        out["oom"] = out["explicit_cuda0"] = "skipped: needs CUDA"
        return out
    work = ctx.workdir("faults")
    results = work / "cuda0.json"
    rc = run_process(suite_cmd(ctx, results, "--vidbench-device", "cuda:0",
                               "--vidbench-models", "wan-tiny", "--vidbench-rounds", "2",
                               "--vidbench-baselines", str(work / "none")),
                     max(ctx.remaining() - 2, 5), work / "cuda0.log")
    out["explicit_cuda0"] = {"rc": rc, "results": str(results) if results.exists() else None}
    return out
