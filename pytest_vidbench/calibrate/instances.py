"""Is a model's per-process offset a property of the process, or of the pipeline instance?

    python -m pytest_vidbench.calibrate.instances --processes 8 --log F.jsonl   (~10 min)
    python -m pytest_vidbench.calibrate.instances --summarize F.jsonl

Each process builds the models once, then times blocks of calls (every model, interleaved).
Between blocks it does nothing, rebuilds every pipeline, or moves every weight to new memory
(a clone of each parameter and buffer), in a shuffled order. If the offset belonged to the
instance or to where its weights sit, a rebuild or a clone would redraw it and its blocks
would differ more than untouched ones; then a rebuild would be a replicate far cheaper than a
fresh process. The summary gives, per model and kind, the block-to-block SD of the model's
log median ÷ the block's mean over models, and the SD across processes of each process's
mean: the process's own share.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

KINDS = ("same", "rebuild", "clone")
DEFAULT_MODELS = "ltx-tiny,wan-tiny,animatediff-tiny,t2vsd-tiny"


def _process(index: int, names: list[str], calls: int, log: Path) -> None:
    import torch

    from pytest_vidbench.measure.device import apply_device_setup
    from pytest_vidbench.measure.generation import PipelineRunner
    from pytest_vidbench.models.loading import apply_variant, build_pipeline
    from pytest_vidbench.models.registry import ModelRegistry

    setup = apply_device_setup("cpu", 1, False, False)
    entries = {n: ModelRegistry.with_builtins().get(n) for n in names}

    def build(name: str) -> PipelineRunner:
        entry = entries[name]
        variant = entry.all_variants[0]
        pipe = apply_variant(build_pipeline(entry, variant), variant, setup.torch_device)
        return PipelineRunner(pipe, entry.spec, setup)

    def call(runner: PipelineRunner, name: str) -> float:
        _, prompt, seed = entries[name].spec.cases[0]
        started = time.perf_counter()
        runner.generate(prompt, seed)
        return time.perf_counter() - started

    def move_weights(runner: PipelineRunner) -> None:
        for part in runner.pipe.components.values():
            if isinstance(part, torch.nn.Module):
                with torch.no_grad():
                    for p in part.parameters():
                        p.data = p.data.clone()
                    for module in part.modules():
                        for key, buffer in list(module._buffers.items()):
                            if buffer is not None:
                                module._buffers[key] = buffer.clone()

    runners = {n: build(n) for n in names}
    plan = list(KINDS) * 3
    random.Random(index).shuffle(plan)
    with log.open("a", encoding="utf-8") as out:
        for block, kind in enumerate(["start", *plan]):
            if kind == "rebuild":
                runners = {n: build(n) for n in names}
            elif kind == "clone":
                for runner in runners.values():
                    move_weights(runner)
            for name, runner in runners.items():  # one untimed call after any change
                call(runner, name)
            times: dict[str, list[float]] = {n: [] for n in names}
            for c in range(calls):
                for name in names[c % len(names):] + names[:c % len(names)]:
                    times[name].append(call(runners[name], name))
            out.write(json.dumps({"process": index, "block": block, "kind": kind,
                                  "times": times}) + "\n")


def summarize(path: Path) -> str:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    processes: dict[int, list[dict]] = {}
    for row in rows:
        processes.setdefault(row["process"], []).append(row)
    models = list(rows[0]["times"])
    steps: dict[tuple[str, str], list[float]] = {}
    means: dict[str, list[float]] = {m: [] for m in models}
    for blocks in processes.values():
        blocks.sort(key=lambda r: r["block"])
        norm = []
        for row in blocks:
            logs = {m: math.log(statistics.median(row["times"][m])) for m in models}
            centre = statistics.fmean(logs.values())
            norm.append({m: logs[m] - centre for m in models})
        for before, after, row in zip(norm, norm[1:], blocks[1:], strict=False):
            for m in models:
                steps.setdefault((row["kind"], m), []).append(after[m] - before[m])
        for m in models:
            means[m].append(statistics.fmean(n[m] for n in norm))
    lines = [f"{len(processes)} processes; SD of a model's log median ÷ the block's mean",
             "", "| model | " + " | ".join(f"after '{k}'" for k in KINDS) +
             " | across processes (mean of the blocks) |", "|---" * (len(KINDS) + 2) + "|"]
    for m in models:
        # The SD of a difference of two blocks is √2 times a block's own.
        cells = [f"{math.sqrt(statistics.fmean(d * d for d in steps[(k, m)]) / 2):.1%}"
                 for k in KINDS]
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {statistics.stdev(means[m]):.1%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--calls", type=int, default=4, help="calls per model per block")
    parser.add_argument("--log", type=Path, default=Path("instances.jsonl"))
    parser.add_argument("--summarize", type=Path, default=None)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.summarize:
        print(summarize(args.summarize))
        return 0
    if args.child is not None:
        _process(args.child, args.models.split(","), args.calls, args.log)
        return 0
    for i in range(args.processes):  # one fresh interpreter each: the process is the point
        subprocess.run([sys.executable, "-m", "pytest_vidbench.calibrate.instances",
                        "--child", str(i), "--models", args.models, "--calls", str(args.calls),
                        "--log", str(args.log)], check=True)
    print(summarize(args.log))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
