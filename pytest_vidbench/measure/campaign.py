"""The measurement campaign: every model's generations, once per session, in rounds.

Each round times a few calls of every model (rotating order) and the control workload, so
a transient slowdown is spread over all tests; tests only read what the campaign measured.
"""

from __future__ import annotations

import gc
import time
from typing import Any

import torch

from pytest_vidbench.config import VariantConfig, VidbenchConfig
from pytest_vidbench.measure.control import ControlWorkload
from pytest_vidbench.measure.deadline import time_limit
from pytest_vidbench.measure.device import DeviceSetup
from pytest_vidbench.measure.generation import (
    CallableRunner,
    GenerationError,
    PipelineRunner,
    add_stages,
    check_frames,
)
from pytest_vidbench.measure.measurements import Measurements
from pytest_vidbench.measure.progress import Progress
from pytest_vidbench.measure.trackers import (
    EnergyTracker,
    LatencyTracker,
    StageClock,
    Tracker,
    TrackerUnavailable,
    memory_tracker,
)
from pytest_vidbench.models.loading import (
    ModelLoadError,
    VariantUnsupported,
    apply_variant,
    build_pipeline,
)
from pytest_vidbench.models.registry import ModelEntry
from pytest_vidbench.models.spec import case_label
from pytest_vidbench.records import RunCost


def _describe_oom(entry: ModelEntry, variant: VariantConfig) -> str:
    spec = entry.spec
    return (
        f"{entry.name} [{variant.resolved_name(entry.dtype)}]: out of memory at "
        f"{spec.height}×{spec.width}×{spec.num_frames}, {spec.num_inference_steps} steps, "
        f"dtype {variant.dtype or entry.dtype}"
    )

def _free_memory(setup: DeviceSetup) -> None:
    gc.collect()
    if setup.is_cuda:
        torch.cuda.empty_cache()


class MeasurementCampaign:
    def __init__(
        self,
        cases: list[tuple[ModelEntry, VariantConfig]],
        setup: DeviceSetup,
        config: VidbenchConfig,
        progress: Progress,
        kinds: frozenset[str] | None = None,  # the kinds of test selected; None: all
        cost: RunCost | None = None,  # the session's, which this campaign's phases add to
    ) -> None:
        self.setup = setup
        self.cost = cost if cost is not None else RunCost()
        self.config = config
        self.progress = progress
        self.results: dict[tuple[str, str], Measurements] = {}
        for entry, variant in cases:
            m = Measurements(entry=entry, variant=variant)
            self.results[m.key] = m
        self.control: list[float] = []
        self.control_rounds: list[int] = []
        self._control = ControlWorkload(setup) if config.thresholds.control else None
        self._latency = LatencyTracker(setup)
        # A tracker nobody reads costs time: the CPU memory probe profiles the warm-up call.
        def wanted(kind: str) -> bool:
            return kinds is None or kind in kinds

        self._energy, self.energy_unavailable = self._optional(
            lambda: EnergyTracker(setup)) if wanted("energy") else (None, "not selected")
        self._memory, self.memory_unavailable = self._optional(
            lambda: memory_tracker(setup)) if wanted("memory") else (None, "not selected")
        self.timed_seconds = 0.0

    @staticmethod
    def _optional(make: Any) -> tuple[Tracker | None, str | None]:
        try:
            return make(), None
        except TrackerUnavailable as error:
            return None, str(error)

    # -- preparation -------------------------------------------------------------------

    def _prepare(self, m: Measurements) -> None:
        """Build, place and warm up one model; errors are kept, never raised."""
        self.progress.update(m.entry.name, f"[{m.variant_name}] loading", 0, 1, None)
        try:
            with time_limit(m, self.config.model_timeout), self.cost.phase("build"):
                if m.entry.origin == "generator":
                    assert m.entry.generator is not None
                    m.runner = CallableRunner(m.entry.generator, m.entry.spec)
                else:
                    pipe = build_pipeline(m.entry, m.variant)
                    pipe = apply_variant(pipe, m.variant, self.setup.torch_device)
                    m.runner = PipelineRunner(pipe, m.entry.spec, self.setup)
            # A tracker that slows its call (the CPU one) watches the first untimed call; the
            # same call in every run, so its figure compares across runs.
            probe = self._memory is not None and self._memory.perturbs_timing
            calls = max(self.config.warmup, 1 if probe else 0)
            with self.cost.phase("warmup"):
                for i in range(calls):
                    self.progress.update(m.entry.name, "warm-up", i + 1, calls, None)
                    self._call(m, timed=False, track_memory=probe and i == 0)
        except (ModelLoadError, VariantUnsupported) as error:
            m.build_failed = True
            self._fail(m, str(error))
        except GenerationError as error:  # a time-out too (ModelTimeout)
            m.build_failed = m.runner is None
            self._fail(m, str(error))
        except Exception as error:  # a broken model must not stop the others
            m.build_failed = m.runner is None
            self._fail(m, f"{m.entry.name} [{m.variant_name}]: {type(error).__name__}: {error}")

    def _fail(self, m: Measurements, message: str) -> None:  # kept, never raised
        m.error = message
        m.runner = None
        _free_memory(self.setup)
        self.progress.note(f"{m.entry.name} [{m.variant_name}] failed: {message}")

    # -- one call ----------------------------------------------------------------------

    def _next_case(self, m: Measurements) -> tuple[str, str, int]:
        cases = m.entry.spec.cases
        index, prompt, seed = cases[m.calls % len(cases)]
        m.calls += 1
        return case_label(index, seed), prompt, seed

    def _call(self, m: Measurements, timed: bool, round_index: int = -1,
              track_memory: bool | None = None) -> float:
        """One generation; timed calls also record latency and stages, and memory where
        tracking it does not disturb the timing (else on dedicated calls)."""
        assert m.runner is not None
        label, prompt, seed = self._next_case(m)
        clock = StageClock(self.setup) if timed else None
        memory = self._memory
        if track_memory is None:
            track_memory = timed and memory is not None and not memory.perturbs_timing
        try:
            # The timer is armed outside the timed window, so arming it is never timed.
            with time_limit(m, self.config.model_timeout):
                if track_memory and memory is not None:
                    memory.start()
                self._latency.start()
                try:
                    raw = m.runner.generate(prompt, seed, clock)
                except BaseException:
                    if track_memory and memory is not None:
                        memory.stop()  # close the window: a profiler left open crashes at exit
                    raise
                seconds = self._latency.stop()
                if track_memory and memory is not None:
                    value = memory.stop()
                    if not m.memory or value >= max(m.memory):
                        m.memory_details = memory.details()  # the figures of the peak call
                    m.memory.append(value)
        except torch.cuda.OutOfMemoryError:
            _free_memory(self.setup)
            raise GenerationError(_describe_oom(m.entry, m.variant)) from None
        try:
            frames = check_frames(raw, f"{m.entry.name} [{m.variant_name}]")
        except GenerationError as error:
            if "NaN" in str(error):
                step = m.runner.first_nonfinite_step(prompt, seed)
                where = f" (first non-finite latents at denoising step {step})" \
                    if step is not None else ""
                raise GenerationError(
                    f"{error} for prompt {label.split('/')[0]} seed {seed}{where}"
                ) from None
            raise
        m.frames.setdefault(label, frames)
        if timed:
            m.latency.append(round(seconds, 9))
            m.latency_rounds.append(round_index)
            self.timed_seconds += seconds
            if clock is not None:
                add_stages(m.stages, clock.resolve(), seconds)
        return seconds

    # -- rounds ------------------------------------------------------------------------

    def _active(self) -> list[Measurements]:
        return [m for m in self.results.values() if m.error is None and m.runner is not None]

    def _timed_round(self, models: list[Measurements], round_index: int) -> None:
        calls = self.config.calls_per_round
        if self._control is not None:
            with self.cost.phase("control"):
                self._control_pair(round_index)
        shift = round_index % max(len(models), 1)
        for m in models[shift:] + models[:shift]:  # rotate so no model always goes first
            if m.error is not None:
                continue
            self.progress.update(m.entry.name, f"[{m.variant_name}] timing round",
                                 round_index + 1, self.config.rounds, self._eta(round_index))
            try:
                if self._energy is not None:
                    self._energy.start()
                for _ in range(calls):
                    self._call(m, timed=True, round_index=round_index)
                if self._energy is not None:
                    joules = self._energy.stop() / calls
                    if joules > 0:
                        m.energy.append(joules)
                        m.energy_details = self._energy.details()
                    else:
                        m.energy_unavailable = (
                            "the NVML energy counter did not advance over the calls "
                            "(calls shorter than its update period)"
                        )
            except GenerationError as error:
                self._fail(m, str(error))
            except Exception as error:
                self._fail(m, f"{m.entry.name} [{m.variant_name}]: {type(error).__name__}: {error}")

    def _control_pair(self, round_index: int) -> None:
        assert self._control is not None
        for _ in range(2):
            self._latency.start()
            self._control.run()
            self.control.append(round(self._latency.stop(), 9))
            self.control_rounds.append(round_index)

    def _eta(self, round_index: int) -> float | None:
        if round_index == 0:
            return None
        elapsed = time.monotonic() - self._rounds_started
        return elapsed / round_index * (self.config.rounds - round_index)

    def _finish_model(self, m: Measurements) -> None:
        """Untimed calls for (prompt, seed) cases the timed calls did not reach."""
        if m.runner is None:
            return
        try:
            while m.error is None and len(m.frames) < len(m.entry.spec.cases):
                self._call(m, timed=False)
        except GenerationError as error:
            self._fail(m, str(error))

    def run(self) -> dict[tuple[str, str], Measurements]:
        config = self.config
        if config.interleave:
            for m in self.results.values():
                self._prepare(m)
            self._rounds_started = time.monotonic()
            with self.cost.phase("rounds"):
                for r in range(config.rounds):
                    self._timed_round(self._active(), r)
            with self.cost.phase("untimed"):
                for m in self._active():
                    self._finish_model(m)
        else:  # one model resident at a time: for checkpoints too large to co-reside
            for m in self.results.values():
                self._prepare(m)
                self._rounds_started = time.monotonic()
                with self.cost.phase("rounds"):
                    for r in range(config.rounds):
                        self._timed_round([m] if m.error is None else [], r)
                with self.cost.phase("untimed"):
                    self._finish_model(m)
                self._release(m)
        for m in self.results.values():
            if self.energy_unavailable and not m.energy_unavailable:
                m.energy_unavailable = self.energy_unavailable
            if self.memory_unavailable:
                m.memory_unavailable = self.memory_unavailable
        return self.results

    def _release(self, m: Measurements) -> None:
        m.runner = None
        _free_memory(self.setup)

    def release_all(self) -> None:  # frames stay; a child process needs the device next
        for m in self.results.values():
            m.runner = None
        self._control = None
        _free_memory(self.setup)
