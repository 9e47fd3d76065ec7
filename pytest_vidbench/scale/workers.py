"""Scale-out over pytest-xdist: `pytest benchmarks/ --vidbench -n N`.

Workers measure; the controller decides. Each worker owns one device (worker i: GPU i mod G
through CUDA_VISIBLE_DEVICES, set before CUDA starts; on CPU its own share of the cores) and
measures a fixed group of models, split like `--vidbench-shard`; a scheduler sends each
group to one worker whole (make_scheduler), so a pipeline is built and called on one worker
only. A worker hands its records, control samples and clips to the controller
(handover.py); it writes no results, reports or baselines. The controller judges every
result as one family (one Holm correction over all of them), re-measures suspects, updates
the store and writes the reports, as a serial run does.

The layout is part of the environment key (`-workers2`): N processes sharing one machine do
not run at a serial run's speed, so a `-n 2` run is judged against `-n 2` baselines only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

GROUP_PREFIX = "vidbench-"
OUTPUT_KEY = "vidbench"  # in workeroutput
SCRATCH_KEY = "vidbench_scratch"  # in workerinput: where workers leave their clips


@dataclass(frozen=True)
class Role:
    """This process's part in the run: the only one, an xdist worker, or its controller."""

    kind: Literal["serial", "worker", "controller"] = "serial"
    index: int = 0  # the worker's number (gw<index>)
    count: int = 1  # workers in the run

    @property
    def workers(self) -> int:
        return 1 if self.kind == "serial" else self.count


class Scratch:
    """The controller's directory where the workers leave their clips; removed at the end."""

    def __init__(self) -> None:
        self.path: str | None = None

    def give(self, workerinput: dict[str, Any]) -> None:
        if self.path is None:
            import tempfile

            self.path = tempfile.mkdtemp(prefix="vidbench-workers-")
        workerinput[SCRATCH_KEY] = self.path

    def remove(self) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None


def role_of(config: pytest.Config) -> Role:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        index = str(workerinput.get("workerid", "gw0")).removeprefix("gw")
        return Role("worker", int(index) if index.isdigit() else 0,
                    int(workerinput.get("workercount", 1)))
    # Set by pytest-xdist's cmdline_main, before any plugin's configure (its DSession
    # plugin may register after ours); workers are told dist "no".
    tx = getattr(config.option, "tx", None) or []
    if getattr(config.option, "dist", "no") != "no" and tx:
        return Role("controller", 0, sum(_multiplicity(t) for t in tx))
    return Role()


def _multiplicity(spec: str) -> int:  # "3*popen" is three workers
    head, star, _ = spec.partition("*")
    return int(head) if star and head.isdigit() else 1


def choose_dist(config: pytest.Config) -> None:
    """With --vidbench and -n, distribute by model group (make_scheduler) unless the user
    chose another mode, which would split one model's tests over workers and measure it
    twice. Runs before every plain cmdline_main (a hook wrapper), so before pytest-xdist
    turns a bare -n into --dist load."""
    option = config.option
    if hasattr(config, "workerinput"):
        return
    if not getattr(option, "vidbench", False) or not getattr(option, "numprocesses", None):
        return
    dist = getattr(option, "dist", "no")
    if dist == "no":
        option.dist = "loadgroup"
    elif dist != "loadgroup":
        raise pytest.UsageError(
            f"pytest-vidbench: --dist {dist} would split a model's tests over several workers;"
            " use --dist loadgroup (the default with --vidbench and -n)")


# -- the worker's device ------------------------------------------------------------------

def visible_gpus() -> list[str]:
    """The GPUs this process may use: CUDA_VISIBLE_DEVICES if set, else what nvidia-smi lists."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [d.strip() for d in listed.split(",") if d.strip() and d.strip() != "-1"]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30,
                             check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if out.returncode != 0:
        return []
    return [str(i) for i, line in enumerate(out.stdout.splitlines()) if line.startswith("GPU ")]


def cores_for(index: int, count: int, cores: list[int]) -> list[int]:
    """Worker `index` of `count`: every count-th core, or one shared core when there are
    fewer cores than workers."""
    mine = cores[index::count]
    return mine or [cores[index % len(cores)]]


GPU_ENV = "PYTEST_VIDBENCH_WORKER_GPU"  # set with CUDA_VISIBLE_DEVICES by the controller


def assign_gpus(specs: list[Any], device: str) -> None:
    """Controller, before the workers start: worker i gets GPU i mod G, in its process
    environment from the very start, so no conftest or plugin can touch CUDA before."""
    gpus = visible_gpus() if not device.startswith("cpu") else []
    if not gpus:
        return
    for i, spec in enumerate(specs):
        spec.env["CUDA_VISIBLE_DEVICES"] = gpus[i % len(gpus)]
        spec.env[GPU_ENV] = "1"


def check_layout(role: Role, device: str) -> None:
    """Controller: a fixed device index cannot mean one GPU per worker."""
    if role.kind == "controller" and device.startswith("cuda:") and visible_gpus():
        raise pytest.UsageError(
            f"pytest-vidbench: --vidbench-device {device} with -n: each worker sees its own "
            "GPU as cuda:0; use --vidbench-device cuda (or auto)")


def pin_worker(role: Role) -> None:
    """A worker without a GPU of its own gets its own share of the CPU cores."""
    if role.kind != "worker" or os.environ.get(GPU_ENV) or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, cores_for(role.index, role.count, cores))


# -- the worker's share of the tests -------------------------------------------------------

GROUPS_FILE = "groups.json"


def group_items(items: list[pytest.Item], role: Role, scratch: str | None) -> dict[str, int]:
    """Model name -> group (1-based) of the selected tests (after -k/-m and shards), split
    as --vidbench-shard splits, over the workers; and for the controller's scheduler, node
    id -> group in the scratch directory.

    Every worker computes the same split (xdist checks that all collected the same ids),
    so the file is the same whichever worker writes it last."""
    from pytest_vidbench.scale.shard import assign, model_of

    counts: dict[str, int] = {}
    for item in items:
        if (model := model_of(item)) is not None:
            counts[model] = counts.get(model, 0) + 1
    groups = assign(counts, role.count)
    if scratch:
        by_node = {item.nodeid: groups[m] for item in items
                   if (m := model_of(item)) is not None and m in groups}
        mine = Path(scratch) / f"{GROUPS_FILE}.{role.index}"
        mine.write_text(json.dumps(by_node), encoding="utf-8")
        os.replace(mine, Path(scratch) / GROUPS_FILE)  # atomic: the scheduler reads it whole
    return groups


def make_scheduler(config: pytest.Config, log: Any, scratch: str) -> Any:
    """xdist's load-scope scheduler, with a model's group as the scope: each group goes to
    one worker whole (xdist's own `--dist loadgroup` marks groups by rewriting node ids,
    which pytest ≥ 9 no longer allows)."""
    from xdist.scheduler import LoadScopeScheduling

    class ModelGroupScheduling(LoadScopeScheduling):
        _groups: dict[str, int] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self._groups is None:  # every worker wrote it before sending its collection
                path = Path(scratch) / GROUPS_FILE
                self._groups = json.loads(path.read_text(encoding="utf-8")) \
                    if path.is_file() else {}
            group = self._groups.get(nodeid)
            return f"{GROUP_PREFIX}{group}" if group is not None else nodeid

    return ModelGroupScheduling(config, log)
