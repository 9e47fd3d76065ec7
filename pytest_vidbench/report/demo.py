"""A hand-made `RunReport` with every verdict, for previews, docs and renderer tests.

`python -m pytest_vidbench.report.demo OUT_DIR` writes report.md, report.html and
report.txt there (plus the frame strips the HTML shows), so a renderer change can be
looked at without a GPU or a real run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from pytest_vidbench.records import ResultRecord, RunReport, Verdict

_STAGE_SHARE = {"text_encoder": 0.04, "denoise_step": 0.11, "vae_decode": 0.12}


def _latency(
    rng: np.random.Generator, model: str, variant: str, base: float, factor: float,
    status: str, history: int = 12, remeasured: bool = False,
) -> ResultRecord:
    runs = [base * float(np.exp(rng.normal(0, 0.02))) for _ in range(history)]
    baseline_samples = [base * float(np.exp(rng.normal(0, 0.01))) for _ in range(10 * bool(runs))]
    samples = [base * factor * float(np.exp(rng.normal(0, 0.012))) for _ in range(10)]
    value = float(np.median(samples))
    baseline = runs[-1] if runs else None
    stages = {k: [base * factor * v * float(np.exp(rng.normal(0, 0.01))) for _ in range(5)]
              for k, v in _STAGE_SHARE.items()}
    # The regression sits in the denoiser: its baseline share is smaller than today's.
    baseline_stages = {k: [base * v * (0.85 if k == "denoise_step" and factor > 1.1 else 1.0)]
                       for k, v in _STAGE_SHARE.items()}
    verdict = Verdict(status="new", reason="no baseline yet")
    if status != "new":
        verdict = Verdict(
            status=status, baseline=baseline,
            change_pct=(value / baseline - 1) * 100 if baseline else None,
            limit=base * 1.08, interval=(base * 0.95, base * 1.05), p_value=0.0004,
            method="prediction-interval/log",
            reason=f"outside the 99% prediction interval of {history} runs and > 5% slower"
            if status == "regression" else "within the prediction interval",
            remeasured=remeasured,
            extra={"history_n": history, "history_values": runs,
                   "baseline_samples": baseline_samples, "baseline_stages": baseline_stages,
                   "min_effect_pct": 5.0},
        )
    raw = (value / baseline - 1) * 100 if baseline else 0.0
    return ResultRecord(
        test_id=f"benchmarks/test_t2v.py::test_latency[{model}-{variant}]", model=model,
        variant=variant, metric="latency", kind="latency", unit="s", value=value,
        samples=samples, stages=stages, verdict=verdict,
        details={"raw_change_pct": raw, "normalized_change_pct": raw * 0.8,
                 "control_change_pct": raw * 0.2},
    )


def _memory(model: str, variant: str, base: float, current: float, status: str) -> ResultRecord:
    verdict = Verdict(status=status, baseline=base, change_pct=(current / base - 1) * 100,
                      limit=base * 1.02, method="deterministic", reason="peak allocated VRAM",
                      extra={"history_n": 8, "history_values": [base] * 8})
    return ResultRecord(
        test_id=f"benchmarks/test_t2v.py::test_memory[{model}-{variant}]", model=model,
        variant=variant, metric="peak_vram", kind="memory", unit="B", value=current,
        samples=[current], verdict=verdict,
    )


def _quality(
    rng: np.random.Generator, model: str, variant: str, metric: str, unit: str, base: float,
    current: float, status: str, frames: dict[str, str] | None = None,
) -> ResultRecord:
    runs = [base + float(rng.normal(0, abs(base) * 0.01)) for _ in range(6)]
    extra: dict[str, object] = {"history_n": 6, "history_values": runs}
    extra.update(frames or {})
    verdict = Verdict(status=status, baseline=base, change_pct=(current / base - 1) * 100,
                      limit=base * 0.97, method="paired-reference", reason="paired by prompt/seed",
                      extra=extra)
    return ResultRecord(
        test_id=f"benchmarks/test_t2v.py::test_quality[{model}-{variant}-{metric}]", model=model,
        variant=variant, metric=metric, kind="quality", unit=unit, direction="higher",
        value=current, samples=[current + float(rng.normal(0, 0.01)) for _ in range(4)],
        sample_labels=[f"p{i}/s0" for i in range(4)], verdict=verdict,
    )


def write_frames(directory: Path, name: str, shift: int) -> str:
    """A small synthetic T x H x W x 3 uint8 clip: a moving gradient blob."""
    t, h, w = 9, 32, 48
    yy, xx = np.mgrid[0:h, 0:w]
    frames = np.zeros((t, h, w, 3), dtype=np.uint8)
    for i in range(t):
        cx = 8 + i * 3 + shift
        blob = np.exp(-((xx - cx) ** 2 + (yy - 16) ** 2) / 40.0)
        frames[i, ..., 0] = (255 * blob).astype(np.uint8)
        frames[i, ..., 1] = (120 + 100 * yy / h).astype(np.uint8)
        frames[i, ..., 2] = (200 * (1 - blob)).astype(np.uint8)
    path = directory / f"{name}.npz"
    np.savez_compressed(path, frames=frames)
    return str(path)


def demo_report(frames_dir: Path | None = None) -> RunReport:
    """About twenty records covering every verdict, error and skip; frames when given a dir."""
    rng = np.random.default_rng(7)
    frames: dict[str, str] = {}
    if frames_dir is not None:
        frames_dir.mkdir(parents=True, exist_ok=True)
        frames = {"baseline_frames_path": write_frames(frames_dir, "wan-baseline", 0),
                  "frames_path": write_frames(frames_dir, "wan-current", 2)}
    long_name = "stabilityai/stable-video-diffusion-img2vid-xt-1-1-tiny-random-weights"
    records = [
        _latency(rng, "wan-tiny", "bf16", 1.30, 1.24, "regression", remeasured=True),
        _latency(rng, "ltx-tiny", "fp32", 0.42, 1.09, "regression"),
        _latency(rng, "cogvideox-tiny", "bf16", 2.10, 1.04, "suspicious"),
        _latency(rng, "cogvideox-tiny", "fp32", 3.90, 1.00, "unchanged"),
        _latency(rng, long_name, "fp16", 0.088, 0.99, "unchanged"),
        _latency(rng, "ltx-tiny", "bf16", 0.31, 0.86, "improvement"),
        _latency(rng, "hunyuan-tiny", "bf16", 0.75, 1.0, "new", history=0),
        _latency(rng, "wan-tiny", "fp32", 2.2, 1.0, "unchanged"),
        _memory("wan-tiny", "bf16", 1.5 * 2**30, 1.5 * 2**30, "unchanged"),
        _memory("ltx-tiny", "fp32", 820 * 2**20, 1020 * 2**20, "regression"),
        _memory("cogvideox-tiny", "bf16", 2.4 * 2**30, 2.4 * 2**30, "unchanged"),
        _memory(long_name, "fp16", 300 * 2**20, 300 * 2**20, "unchanged"),
        _quality(rng, "wan-tiny", "bf16", "clip_score", "score", 0.312, 0.309, "unchanged",
                 frames),
        _quality(rng, "wan-tiny", "bf16", "psnr_vs_ref", "dB", 31.5, 31.4, "unchanged"),
        _quality(rng, "ltx-tiny", "fp32", "psnr_vs_ref", "dB", 29.0, 30.1, "improvement"),
        _quality(rng, "cogvideox-tiny", "bf16", "clip_score", "score", 0.30, 0.29, "incomparable"),
        ResultRecord(
            test_id="benchmarks/test_t2v.py::test_energy[wan-tiny-bf16]", model="wan-tiny",
            variant="bf16", metric="energy", kind="energy", unit="J", value=1850.0,
            samples=[1830.0, 1850.0, 1875.0],
            verdict=Verdict(status="unchanged", baseline=1800.0, change_pct=2.8,
                            interval=(1650.0, 1960.0),
                            extra={"history_values": [1790.0, 1805.0, 1800.0]}),
        ),
        ResultRecord(
            test_id="benchmarks/test_t2v.py::test_latency[mochi-tiny-bf16]", model="mochi-tiny",
            variant="bf16", metric="latency", kind="latency", unit="s", status="error",
            error="RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB",
            verdict=Verdict(status="error"),
        ),
        ResultRecord(
            test_id="benchmarks/test_t2v.py::test_energy[ltx-tiny-fp32]", model="ltx-tiny",
            variant="fp32", metric="energy", kind="energy", unit="J", status="skipped",
            error="no energy counter on this GPU (NVML total energy unsupported)",
        ),
    ]
    return RunReport(
        records=records,
        environment={"device_name": "NVIDIA H100 80GB HBM3", "device_kind": "cuda",
                     "torch": "2.13.0", "diffusers": "0.36.0"},
        commit="3f9c2e1", baseline_commit="a41b7d0", baseline_date="2026-11-19",
        baseline_environment="cuda-h100-80gb", repeats="2 warm-up, 5 rounds \u00d7 2 calls",
        wall_seconds=742.0, timed_seconds=545.0,
        warnings=["baseline driver 560.35 differs from this run's 565.57; latency compared anyway"],
        frame_roots=(str(frames_dir),) if frames_dir is not None else (),
    )


def main(argv: list[str] | None = None) -> int:
    # Imported here: matplotlib is slow to load and only this entry point needs it.
    from pytest_vidbench.report.html import render_html
    from pytest_vidbench.report.markdown import render_markdown
    from pytest_vidbench.report.terminal import render_gate_section, render_terminal

    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "vidbench-demo")
    out.mkdir(parents=True, exist_ok=True)
    report = demo_report(out / "frames")
    (out / "report.md").write_text(render_markdown(report), encoding="utf-8")
    (out / "report.html").write_text(render_html(report), encoding="utf-8")
    text = [*render_terminal(report), "", *render_gate_section(report)]
    (out / "report.txt").write_text("\n".join(text) + "\n", encoding="utf-8")
    print(f"wrote {out}/report.md, report.html, report.txt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
