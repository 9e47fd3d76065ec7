"""The measurement campaign: interleaved rounds in rotating order, and one failing model
that never takes the others down."""

from __future__ import annotations

import dataclasses
import threading

import pytest
import torch

from pytest_vidbench.config import Thresholds, VariantConfig, VidbenchConfig
from pytest_vidbench.measure.campaign import MeasurementCampaign
from pytest_vidbench.measure.device import apply_device_setup
from pytest_vidbench.measure.progress import Progress
from pytest_vidbench.models.registry import ModelRegistry
from pytest_vidbench.models.spec import GenerationSpec

CONFIG = VidbenchConfig(warmup=1, rounds=4, calls_per_round=2,
                        thresholds=dataclasses.replace(Thresholds(), control=False))


def campaign(names: list[str], fail: dict[str, int] | None = None,
             config: VidbenchConfig = CONFIG) -> tuple[MeasurementCampaign, list[str]]:
    """Generators that log their calls; model `m` raises on its `fail[m]`-th call."""
    order: list[str] = []
    registry = ModelRegistry()

    def generator(name: str):
        def generate(prompt: str, seed: int) -> torch.Tensor:
            order.append(name)
            if fail and order.count(name) == fail.get(name):
                raise RuntimeError(f"{name} broke")
            return torch.full((2, 3, 8, 8), 0.5)
        return generate

    entries = [registry.add_generator(n, generator(n), spec=GenerationSpec(num_frames=2))
               for n in names]
    setup = apply_device_setup("cpu", 1, False, False)
    run = MeasurementCampaign([(e, VariantConfig()) for e in entries], setup, config,
                              Progress(None, 0))
    run.run()
    return run, order


def test_each_round_starts_with_the_next_model():
    _, order = campaign(["a", "b", "c"])
    timed = order[3:]  # after one warm-up call each
    rounds = [timed[i:i + 6] for i in range(0, len(timed), 6)]
    assert [r[0] for r in rounds] == ["a", "b", "c", "a"]
    assert all(sorted(r) == ["a", "a", "b", "b", "c", "c"] for r in rounds)


def test_a_model_failing_mid_run_keeps_its_error_and_the_others_finish():
    run, order = campaign(["a", "b", "c"], fail={"b": 4})  # warm-up, then round 0's 2 calls
    a, b, c = (run.results[(n, "fp32")] for n in "abc")
    assert b.error is not None and "b broke" in b.error and "RuntimeError" in b.error
    assert len(b.latency) == 2  # the calls before it broke are kept
    assert len(a.latency) == len(c.latency) == CONFIG.rounds * CONFIG.calls_per_round
    assert a.error is None and c.error is None
    assert order.count("b") == 4  # never called again after the failure


def test_a_model_failing_in_its_warm_up_is_never_timed():
    run, order = campaign(["a", "b"], fail={"a": 1})
    a, b = run.results[("a", "fp32")], run.results[("b", "fp32")]
    assert a.error is not None and a.latency == [] and order.count("a") == 1
    assert len(b.latency) == CONFIG.rounds * CONFIG.calls_per_round


@pytest.mark.parametrize("interleave", [True, False])
def test_every_model_gets_the_same_number_of_timed_calls(interleave):
    config = dataclasses.replace(CONFIG, interleave=interleave)
    run, _ = campaign(["a", "b"], config=config)
    assert [len(m.latency) for m in run.results.values()] == [8, 8]
    assert all(m.latency_rounds == [0, 0, 1, 1, 2, 2, 3, 3] for m in run.results.values())


def test_a_hung_model_errors_at_its_time_limit_and_the_others_are_measured():
    order: list[str] = []
    registry = ModelRegistry()

    def hangs(prompt: str, seed: int) -> torch.Tensor:
        order.append("hangs")
        if len(order) > 1:  # the warm-up returns; the first timed call never does
            threading.Event().wait()
        return torch.full((2, 3, 8, 8), 0.5)

    def fine(prompt: str, seed: int) -> torch.Tensor:
        return torch.full((2, 3, 8, 8), 0.5)

    entries = [registry.add_generator("hangs", hangs), registry.add_generator("fine", fine)]
    config = dataclasses.replace(CONFIG, model_timeout=1)
    run = MeasurementCampaign([(e, VariantConfig()) for e in entries],
                              apply_device_setup("cpu", 1, False, False), config,
                              Progress(None, 0))
    run.run()
    hung, ok = run.results[("hangs", "fp32")], run.results[("fine", "fp32")]
    assert hung.error is not None and "per-model time limit of 1 s" in hung.error
    assert "model_timeout" in hung.error and hung.latency == []
    assert ok.error is None and len(ok.latency) == CONFIG.rounds * CONFIG.calls_per_round


def test_a_tracker_no_test_reads_is_not_run():
    registry = ModelRegistry()
    entry = registry.add_generator("a", lambda prompt, seed: torch.full((2, 3, 8, 8), 0.5))
    setup = apply_device_setup("cpu", 1, False, False)
    only_latency = MeasurementCampaign([(entry, VariantConfig())], setup, CONFIG,
                                       Progress(None, 0), frozenset({"latency"}))
    everything = MeasurementCampaign([(entry, VariantConfig())], setup, CONFIG,
                                     Progress(None, 0))
    lean, full = only_latency.run()[("a", "fp32")], everything.run()[("a", "fp32")]
    assert lean.memory == [] and only_latency.memory_unavailable == "not selected"
    assert full.memory and len(lean.latency) == len(full.latency)
