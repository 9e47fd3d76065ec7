"""Where real pipeline changes land on the default quality metrics, per built-in model.

For each built-in model and each (prompt, seed) of its default spec, the fp32 clip is the
reference; clips made under a change (a rebuild, bf16, another scheduler, noisy attention, another
seed) are scored against it through the plugin's own path: `make_reference_clip` stores the
reference, `metric.compute(frames, reference=clip)` scores, and a change counts as flagged the
way `verdicts.judge_quality` decides (fidelity: the worst pair below the floor; the others: mean
paired worsening above the tolerance).

    python -m pytest_vidbench.calibrate.fidelity [model ...]

prints Markdown tables. CPU, one torch thread, deterministic: the numbers are reproducible.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from pytest_vidbench.measure.device import apply_device_setup
from pytest_vidbench.measure.generation import PipelineRunner, check_frames
from pytest_vidbench.models.families._common import quiet_build
from pytest_vidbench.models.loading import denoiser_of
from pytest_vidbench.models.spec import GenerationSpec, case_label
from pytest_vidbench.models.zoo import get_builtin
from pytest_vidbench.quality.metrics import default_quality_metrics
from pytest_vidbench.quality.reference import make_reference_clip
from pytest_vidbench.quality.registry import QualityRegistry

BUILD_SEED = 0  # the plugin builds built-in models with seed 0 (`build_pipeline`)
PERTURB_SEED = 1234  # attention noise is drawn from its own generator: same noise every run
OTHER_SEED_OFFSET = 1000  # "another seed": far from the spec's seeds


@dataclass(frozen=True)
class Change:
    """One change to the fp32 pipeline; the default (all fields unset) is a plain rebuild."""

    name: str
    dtype: torch.dtype | None = None
    scheduler: bool = False
    eps: float = 0.0  # attention-output noise, in units of that output's std
    seed_offset: int = 0


UNCHANGED = Change("unchanged")
CHANGES: tuple[Change, ...] = (
    UNCHANGED,
    Change("bf16", dtype=torch.bfloat16),
    Change("scheduler", scheduler=True),
    Change("attn eps=0.01", eps=0.01),
    Change("attn eps=0.05", eps=0.05),
    Change("attn eps=0.2", eps=0.2),
    Change("other seed", seed_offset=OTHER_SEED_OFFSET),
)


@dataclass
class ChangeResult:
    model: str
    change: str
    labels: list[str]
    values: dict[str, list[float]]  # metric → one value per (prompt, seed), in `labels` order
    worsening: dict[str, float] = field(default_factory=dict)  # no-reference metrics only
    flagged: list[str] = field(default_factory=list)  # metrics whose verdict is a regression
    note: str = ""  # e.g. which scheduler replaced the model's own


# -- changes applied to a freshly built pipeline ----------------------------------------------


def _scheduler_candidates(pipe: Any) -> list[tuple[str, Callable[[], Any]]]:
    """Compatible replacements, most different solver first; the pipeline call decides."""
    import diffusers as d

    config = pipe.scheduler.config
    kind = type(pipe.scheduler).__name__
    if kind == "FlowMatchEulerDiscreteScheduler":
        shift = float(config.get("shift", 1.0))
        other = 1.0 if shift != 1.0 else 3.0
        return [
            (f"UniPC (flow, shift {shift:g})", lambda: d.UniPCMultistepScheduler.from_config(
                config, prediction_type="flow_prediction", use_flow_sigmas=True,
                flow_shift=shift)),
            ("FlowMatchHeun", lambda: d.FlowMatchHeunDiscreteScheduler.from_config(config)),
            (f"FlowMatchEuler shift {shift:g}→{other:g}",
             lambda: d.FlowMatchEulerDiscreteScheduler.from_config(config, shift=other)),
        ]
    if kind == "CogVideoXDDIMScheduler":
        # Deterministic DPM-Solver++ first: CogVideoXDPM injects fresh noise every step (an
        # SDE sampler), which changes the video as much as another seed does.
        return [("DPMSolver++", lambda: d.DPMSolverMultistepScheduler.from_config(config)),
                ("CogVideoXDPM", lambda: d.CogVideoXDPMScheduler.from_config(config))]
    return [("DPMSolver++", lambda: d.DPMSolverMultistepScheduler.from_config(config)),
            ("EulerDiscrete", lambda: d.EulerDiscreteScheduler.from_config(config))]


def perturb_attention(pipe: Any, eps: float) -> Callable[[], None]:
    """Add eps·std·N(0, 1) to every attention output of the denoiser; returns a re-seeder.

    Call the re-seeder before each generation so every clip gets the same noise sequence.
    """
    generator = torch.Generator("cpu")

    def noisy(t: Any) -> Any:
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            return t
        noise = torch.randn(t.shape, generator=generator, dtype=t.dtype)
        return t + eps * t.detach().std() * noise

    def hook(_module: Any, _args: Any, output: Any) -> Any:
        # Joint-attention processors (CogVideoX, Hunyuan) return (video, text) tuples.
        return tuple(noisy(o) for o in output) if isinstance(output, tuple) else noisy(output)

    denoiser = denoiser_of(pipe)
    assert denoiser is not None, "every built-in model has a transformer or unet"
    for module in denoiser.modules():
        if "Attention" in type(module).__name__:
            module.register_forward_hook(hook)

    def reseed() -> None:
        generator.manual_seed(PERTURB_SEED)

    return reseed


def _spec(model: str, overrides: Mapping[str, Any] | None) -> GenerationSpec:
    spec = get_builtin(model).spec
    return spec.with_overrides(**overrides) if overrides else spec


def generate_all(
    model: str,
    change: Change,
    scheduler: Callable[[], Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, torch.Tensor]:
    """Build the model from scratch, apply `change`, and generate every (prompt, seed).

    `overrides` go to `GenerationSpec.with_overrides` (e.g. more steps, fewer prompts).
    """
    spec = _spec(model, overrides)
    with quiet_build():  # the fp32-pinned-module and ignored-config notices are expected here
        pipe = get_builtin(model).build(BUILD_SEED)
        if change.dtype is not None:
            pipe = pipe.to(dtype=change.dtype)
        if scheduler is not None:
            pipe.scheduler = scheduler()
    reseed = perturb_attention(pipe, change.eps) if change.eps else (lambda: None)
    setup = apply_device_setup("cpu", 1, False, True)
    runner = PipelineRunner(pipe, spec, setup)
    clips = {}
    for index, prompt, seed in spec.cases:
        reseed()
        raw = runner.generate(prompt, seed + change.seed_offset)
        # The plugin's own check: bf16 frames come back as float32 in [0, 1].
        clips[case_label(index, seed)] = check_frames(raw, f"{model} [{change.name}]")
    return clips


def _generate_change(
    model: str, change: Change, overrides: Mapping[str, Any] | None
) -> tuple[dict[str, torch.Tensor], str]:
    if not change.scheduler:
        return generate_all(model, change, overrides=overrides), ""
    tried = []
    with quiet_build():
        pipe = get_builtin(model).build(BUILD_SEED)
    for name, factory in _scheduler_candidates(pipe):
        try:
            return generate_all(model, change, factory, overrides), name
        except Exception as error:  # an incompatible pairing shows up only at call time
            tried.append(f"{name}: {type(error).__name__}")
    raise RuntimeError(f"{model}: no compatible scheduler ({'; '.join(tried)})")


# -- scoring ----------------------------------------------------------------------------------


def score(
    reference: dict[str, torch.Tensor], clips: dict[str, torch.Tensor], metrics: QualityRegistry
) -> dict[str, list[float]]:
    """Every metric on every clip, fidelity ones against the stored (reduced) reference."""
    stored = {label: make_reference_clip(label, frames, max_side=64, max_frames=8)
              for label, frames in reference.items()}
    return {
        m.name: [m.compute(clips[label], reference=stored[label] if m.needs_reference else None)
                 for label in reference]
        for m in metrics
    }


def study_model(
    model: str,
    changes: Sequence[Change] = CHANGES,
    metrics: QualityRegistry | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> list[ChangeResult]:
    """One `ChangeResult` per change, after a first one ("fp32") holding the reference's own
    values; no-reference metrics are paired with those values, as the verdict pairs them."""
    metrics = metrics if metrics is not None else default_quality_metrics()
    reference = generate_all(model, UNCHANGED, overrides=overrides)
    base = score(reference, reference, metrics)
    results = [ChangeResult(model, "fp32", list(reference), base)]
    for change in changes:
        clips, note = _generate_change(model, change, overrides)
        values = score(reference, clips, metrics)
        result = ChangeResult(model, change.name, list(reference), values, note=note)
        for m in metrics:
            if m.floor is not None:  # as judge_quality: the worst pair against the floor
                worst = min(values[m.name]) if m.direction == "higher" else max(values[m.name])
                if m.below_floor(worst):
                    result.flagged.append(m.name)
            else:
                result.worsening[m.name] = m.mean_paired_worsening(values[m.name], base[m.name])
                if result.worsening[m.name] > m.tolerance:
                    result.flagged.append(m.name)
        results.append(result)
    return results


# -- Markdown ---------------------------------------------------------------------------------


def _span(xs: Iterable[float], fmt: str) -> str:
    xs = sorted(xs)
    lo, hi = format(xs[0], fmt), format(xs[-1], fmt)
    return lo if lo == hi else f"{lo}–{hi}"


def markdown(results: list[ChangeResult], metrics: QualityRegistry, workload: str) -> str:
    fidelity = [m for m in metrics if m.floor is not None]
    temporal = [m for m in metrics if m.floor is None]
    fmt = {"psnr": ".1f", "ssim": ".3f", "vmaf": ".1f"}
    changes = [r for r in results if r.change != "fp32"]
    lines = [f"fp32 clips' own no-reference values (mean over pairs; {workload}):", "",
             "| model | " + " | ".join(m.name for m in temporal) + " |",
             "|" + "---|" * (len(temporal) + 1)]
    for r in results:
        if r.change == "fp32":
            means = [sum(r.values[m.name]) / len(r.labels) for m in temporal]
            lines.append(f"| {r.model} | " + " | ".join(f"{v:.4g}" for v in means) + " |")
    head = (["change", "model", "scheduler"] + [f"{m.name} (floor {m.floor:g})" for m in fidelity]
            + [f"Δ{m.name} (tol {m.tolerance:g})" for m in temporal] + ["flagged by"])
    lines += ["", "Fidelity: range over (prompt, seed) pairs vs the fp32 reference. Δ: mean",
              "paired worsening vs the fp32 clips (positive = worse). Flagged as `judge_quality`.",
              "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in changes:
        cells = [r.change, r.model, r.note or "–"]
        cells += [_span(r.values[m.name], fmt.get(m.name, ".3g")) for m in fidelity]
        cells += [f"{r.worsening[m.name]:+.4f}" for m in temporal]
        cells.append(", ".join(r.flagged) or "**none**")
        lines.append("| " + " | ".join(cells) + " |")
    # The summary the floors are set from: each change's range over all models and pairs.
    lines += ["", "| change | " + " | ".join(m.name for m in fidelity)
              + " | models flagged |", "|" + "---|" * (len(fidelity) + 2)]
    for change in dict.fromkeys(r.change for r in changes):
        rows = [r for r in changes if r.change == change]
        spans = [_span((v for r in rows for v in r.values[m.name]), fmt.get(m.name, ".3g"))
                 for m in fidelity]
        flagged = sum(bool(r.flagged) for r in rows)
        lines.append(f"| {change} | " + " | ".join(spans) + f" | {flagged}/{len(rows)} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from pytest_vidbench.models.zoo import BUILTIN_MODELS

    parser = argparse.ArgumentParser(prog="python -m pytest_vidbench.calibrate.fidelity")
    parser.add_argument("models", nargs="*", default=list(BUILTIN_MODELS))
    parser.add_argument("--steps", type=int, help="override the spec's denoising steps")
    args = parser.parse_args(argv)
    metrics = default_quality_metrics()
    results: list[ChangeResult] = []
    overrides = {"num_inference_steps": args.steps} if args.steps else None
    for model in args.models:
        results += study_model(model, CHANGES, metrics, overrides)
        print(f"{model} done", file=sys.stderr, flush=True)
    order = ["fp32", *(c.name for c in CHANGES)]
    results.sort(key=lambda r: order.index(r.change))  # stable: models keep their order
    workload = f"{args.steps} denoising steps" if args.steps else "the specs' own steps"
    print(markdown(results, metrics, workload))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
