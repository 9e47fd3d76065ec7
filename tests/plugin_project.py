"""A small benchmark project for end-to-end plugin tests, written into a pytester dir.

Its models are toy generators whose behaviour the tests steer through environment
variables (TOY_EXTRA_MIB: allocate more memory per call; TOY_NOISE: change the frames;
TOY_SLEEP: a slowdown many times the call's own time; TOY_FLOOR: a sleep in every call,
history included; or the plugin module `toy_slowdown`, when a run loads it with `-p`), so
regressions are deterministic or so large that no test depends on timing noise. The suffix
of a toy model's name picks its behaviour: "-oom", "-nan" and "-crash" fail in those ways,
and "-hang" blocks forever from its second call on; "-term" sends its process SIGTERM
then.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CONFTEST = '''
import os
import signal
import sys
import threading
import time

import torch

from pytest_vidbench import GenerationSpec

SPEC = GenerationSpec(prompts=("a cat on a mat", "a dog in the fog"), seeds=(0,),
                      height=32, width=32, num_frames=6, num_inference_steps=1)


CALLS = {}


def make_generator(kind):
    def generate(prompt, seed):
        if kind == "oom":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        if kind == "crash":
            raise KeyboardInterrupt
        CALLS[kind] = CALLS.get(kind, 0) + 1
        if kind == "hang" and CALLS[kind] > 1:
            threading.Event().wait()
        if kind == "term" and CALLS[kind] > 1:  # the CI job is cancelled mid-run
            os.kill(os.getpid(), signal.SIGTERM)
        if os.environ.get("TOY_FLOOR"):  # a call time that a loaded machine barely moves
            time.sleep(float(os.environ["TOY_FLOOR"]))
        in_child = os.environ.get("PYTEST_VIDBENCH_CHILD")
        if os.environ.get("TOY_SLEEP") and not (os.environ.get("TOY_SLEEP_PARENT_ONLY")
                                                and in_child):
            time.sleep(float(os.environ["TOY_SLEEP"]))  # a slowdown, in this process only or all
        plugin = sys.modules.get("toy_slowdown")  # loaded only by `-p toy_slowdown`
        if plugin is not None:
            time.sleep(plugin.SECONDS)
        g = torch.Generator().manual_seed(seed + len(prompt))
        base = torch.rand(3, 32, 32, generator=g)
        frames = torch.stack([base.roll(t, -1) for t in range(6)])
        if kind == "nan":
            frames[2, 0, 0, 0] = float("nan")
        extra = int(os.environ.get("TOY_EXTRA_MIB", "0"))
        if extra:
            buffer = torch.ones(extra * 2**18)  # 4-byte floats: `extra` MiB, pages touched
            frames = frames + 0 * buffer[0]
        noise = float(os.environ.get("TOY_NOISE", "0"))
        if noise:
            frames = (frames + noise * torch.randn(frames.shape, generator=g)).clamp(0, 1)
        return frames
    return generate


def pytest_vidbench_models(registry):
    for name in ("toy", "toy-oom", "toy-nan", "toy-crash", "toy-hang", "toy-term",
                 "old"):
        registry.add_generator(name, make_generator(name.split("-")[-1]), spec=SPEC)
'''

TEST_FILE = '''
def test_benchmark(vidbench_result):
    vidbench_result.check()
'''

PYPROJECT = '''
[tool.vidbench]
models = {models}
metrics = {metrics}
warmup = 0
rounds = 3
calls_per_round = 1
remeasure = {remeasure}
{extra}
'''


def write_project(pytester: pytest.Pytester, metrics: tuple[str, ...] = (
        "latency", "memory", "psnr", "flicker"), extra: str = "",
        models: tuple[str, ...] | str = ("toy",), remeasure: bool = False) -> None:
    """`models` is a list of names, or TOML text for a list with tables."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_bench=TEST_FILE)
    models_toml = models if isinstance(models, str) else json.dumps(list(models))
    pytester.makefile(".toml", pyproject=PYPROJECT.format(
        models=models_toml, metrics=json.dumps(list(metrics)), extra=extra,
        remeasure=json.dumps(remeasure)))


def results(pytester: pytest.Pytester) -> dict:
    return json.loads((Path(pytester.path) / ".vidbench" / "results.json").read_text())


def verdicts(pytester: pytest.Pytester) -> dict[str, str | None]:
    return {f"{r['model']}-{r['metric']}": (r["verdict"] or {}).get("status")
            for r in results(pytester)["results"]}


def baseline_files(pytester: pytest.Pytester) -> list[Path]:
    return sorted((Path(pytester.path) / "baselines").glob("*.json"))
