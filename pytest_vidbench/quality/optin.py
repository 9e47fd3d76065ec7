"""Opt-in model-based metrics: CLIP score, frame FID/KID. They run only when configured.

They never download: each factory first checks that the weights are on disk (a local
directory, or the local Hugging Face cache / torch hub directory) and raises
`MetricUnavailable` saying where to put them otherwise; the plugin turns that into a skip.
Factories are cheap; the model is loaded on the metric's first call and kept.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Any

import torch

from pytest_vidbench.quality.errors import MetricUnavailable
from pytest_vidbench.quality.frames import check_frames
from pytest_vidbench.quality.reference import align_to_reference
from pytest_vidbench.quality.registry import QualityMetric

_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
_IMAGE_PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")
# torch-fidelity's Inception-v3 (the TF FID network), fetched by torch.hub into <hub>/checkpoints.
INCEPTION_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment now (not at import time)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg).expanduser() / "huggingface" / "hub"


def _missing_clip_files(directory: Path) -> list[str]:
    needs = [
        ("config.json",),
        _WEIGHT_FILES,
        ("tokenizer.json", "vocab.json"),  # fast tokenizer, or BPE vocab (+ merges.txt)
        _IMAGE_PROCESSOR_FILES,
    ]
    present = {f for group in needs for f in group if (directory / f).is_file()}
    return [" or ".join(group) for group in needs if not present.intersection(group)]


def _cached_snapshot(repo_id: str, cache_dir: Path) -> Path | None:
    # The hub cache layout: models--<org>--<name>/refs/main names the snapshot to use.
    repo_dir = cache_dir / f"models--{repo_id.replace('/', '--')}"
    ref = repo_dir / "refs" / "main"
    if ref.is_file():
        snapshot = repo_dir / "snapshots" / ref.read_text().strip()
        if snapshot.is_dir():
            return snapshot
    snapshots = sorted((repo_dir / "snapshots").glob("*")) if repo_dir.is_dir() else []
    return snapshots[-1] if snapshots else None


def resolve_clip_dir(model: str | os.PathLike[str], cache_dir: str | Path | None = None) -> Path:
    """The local directory holding a complete CLIP model + processor, or MetricUnavailable.

    `model` is a directory (as written by `save_pretrained`) or a hub id such as
    "openai/clip-vit-base-patch32", looked up only in the local hub cache; no network access.
    """
    local = Path(model).expanduser()
    hint = (
        "save a CLIP model there with CLIPModel.save_pretrained(dir) and"
        " CLIPProcessor.save_pretrained(dir) on a machine with network access, then copy it"
    )
    if local.is_dir():
        directory = local
    elif isinstance(model, str) and model.count("/") == 1 and not local.exists():
        cache = Path(cache_dir).expanduser() if cache_dir else hf_cache_dir()
        snapshot = _cached_snapshot(model, cache)
        if snapshot is None:
            raise MetricUnavailable(
                f"CLIP score: {model!r} is not in the local Hugging Face cache {cache}."
                f" Run `hf download {model}` where there is network access and copy the"
                f" cache to {cache} (or set HF_HUB_CACHE), or point the CLIP model setting at"
                f" a local directory ({hint})"
            )
        directory = snapshot
    else:
        raise MetricUnavailable(f"CLIP score: no model directory at {local}; {hint}")
    missing = _missing_clip_files(directory)
    if missing:
        raise MetricUnavailable(
            f"CLIP score: {directory} lacks {', '.join(missing)}; {hint}"
        )
    return directory


def clip_score_metric(
    model: str | os.PathLike[str],
    *,
    cache_dir: str | Path | None = None,
    name: str = "clip-score",
    tolerance: float = 1.0,
) -> QualityMetric:
    """Prompt alignment: 100 x max(cos(image, text), 0) per frame, averaged over frames.

    The weights must already be local (see `resolve_clip_dir`); raises MetricUnavailable now
    if they are not, before anything is loaded. Higher is better; ViT-B/32 typically gives
    25-35 for matching prompts, so the default tolerance of 1 point is ~3% of a typical value.
    """
    # CLIPScore, Hessel et al. 2021 (w = 100 as torchmetrics). Computed here with transformers'
    # CLIPModel: torchmetrics 1.9's CLIPScore breaks on transformers 5 (get_image_features
    # now returns a ModelOutput) and only accepts known hub names or a loader callable.
    directory = resolve_clip_dir(model, cache_dir)
    loaded: dict[str, Any] = {}

    def load() -> tuple[Any, Any]:
        if not loaded:
            from transformers import CLIPModel, CLIPProcessor

            try:
                clip = CLIPModel.from_pretrained(directory, local_files_only=True)
                processor = CLIPProcessor.from_pretrained(directory, local_files_only=True)
            except (OSError, ValueError) as exc:
                raise MetricUnavailable(
                    f"CLIP score: cannot load the model in {directory}: {exc}"
                ) from exc
            loaded.update(model=clip.eval(), processor=processor)
        return loaded["model"], loaded["processor"]

    def clip_score(
        frames: torch.Tensor, reference: Any = None, prompt: str | None = None
    ) -> float:
        if not prompt:
            raise ValueError("clip-score needs the prompt")
        x = check_frames(frames)
        clip, processor = load()
        # The processor converts via PIL; uint8 avoids its range guessing on float input.
        images = list((x * 255.0).round().to(torch.uint8))
        max_len = int(clip.config.text_config.max_position_embeddings)
        inputs = processor(
            text=[prompt], images=images, return_tensors="pt",
            padding=True, truncation=True, max_length=max_len,
        )
        with torch.inference_mode():
            out = clip(**inputs)  # image_embeds / text_embeds come L2-normalised
        cos = out.image_embeds @ out.text_embeds[0]
        return float(100.0 * cos.clamp(min=0).mean())

    return QualityMetric(
        name=name, fn=clip_score, direction="higher", unit="score", value_range=(0.0, 100.0),
        tolerance=tolerance, needs_prompt=True,
        description=f"CLIP score of each frame against the prompt, model {directory}",
    )


def check_safe_unpickling(torch_version: str) -> None:
    """torch-fidelity reads its weights with a bare `torch.load`: before torch 2.6 that
    unpickles (runs) whatever the file holds; from 2.6 on it loads only tensors."""
    major, minor = (int(part) for part in re.findall(r"\d+", torch_version)[:2])
    if (major, minor) < (2, 6):
        raise MetricUnavailable(
            f"frame FID/KID need torch ≥ 2.6 (this is {torch_version}): older torch.load runs "
            "code from the weights file; upgrade torch to load them safely")


def inception_weights_path(weights: str | Path | None = None) -> Path:
    """torch-fidelity's Inception weights on disk, or MetricUnavailable saying what is missing."""
    check_safe_unpickling(torch.__version__)
    missing = [p for p in ("torch_fidelity", "torchvision") if importlib.util.find_spec(p) is None]
    if missing:
        raise MetricUnavailable(
            f"frame FID/KID need {' and '.join(missing)} (torch-fidelity and a torchvision"
            " built for your torch; a mismatched torchvision breaks `import torchmetrics`)"
        )
    if weights is None:
        path = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILE
    else:
        path = Path(weights).expanduser()
    if not path.is_file():
        raise MetricUnavailable(
            f"frame FID/KID: no Inception weights at {path}. Download {INCEPTION_WEIGHTS_FILE}"
            " from torch-fidelity's GitHub release v0.2.0 and put it there (the torch hub"
            " checkpoints directory, see TORCH_HOME), or pass its path"
        )
    return path


def fid_from_features(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID (Heusel et al. 2017) between two N x D feature sets; biased when N is small."""
    from torchmetrics.image.fid import _compute_fid

    real, fake = real.double(), fake.double()
    value = _compute_fid(real.mean(0), torch.cov(real.T), fake.mean(0), torch.cov(fake.T))
    return max(float(value), 0.0)


def kid_from_features(real: torch.Tensor, fake: torch.Tensor) -> float:
    """KID (Binkowski et al. 2018): unbiased polynomial-kernel MMD², clamped at 0."""
    from torchmetrics.image.kid import poly_mmd

    return max(float(poly_mmd(real.double(), fake.double())), 0.0)


def _frame_distance_metric(
    kind: str, weights: str | Path | None, floor: float | None
) -> QualityMetric:
    path = inception_weights_path(weights)
    state: dict[str, Any] = {}

    def features(frames: torch.Tensor) -> torch.Tensor:
        if not state:
            from torchmetrics.image.fid import NoTrainInceptionV3

            state["net"] = NoTrainInceptionV3(
                name="inception-v3-compat", features_list=["2048"],
                feature_extractor_weights_path=str(path),
            )
        with torch.inference_mode():
            return state["net"]((frames * 255).round().to(torch.uint8)).reshape(len(frames), -1)

    def distance(frames: torch.Tensor, reference: Any = None, prompt: str | None = None) -> float:
        # Frames of the clip against its reference frames, at the reference's size (Inception
        # resizes to 299 px). With a few frames FID is heavily biased: compare like with like.
        cur, ref = align_to_reference(frames, reference)
        score = fid_from_features if kind == "fid" else kid_from_features
        return score(features(ref), features(cur))

    return QualityMetric(
        name=f"frame-{kind}", fn=distance, direction="lower", unit="score",
        value_range=(0.0, float("inf")), tolerance=0.0, floor=floor, needs_reference=True,
        min_frames=2,
        description=f"Frame {kind.upper()} (Inception-v3, torch-fidelity weights) vs reference",
    )


def frame_fid_metric(
    weights: str | Path | None = None, *, floor: float | None = None
) -> QualityMetric:
    """Frame FID vs the reference clip; raises MetricUnavailable without local weights.

    No default floor: FID's scale depends on frame count and size; set one from your data.
    """
    return _frame_distance_metric("fid", weights, floor)


def frame_kid_metric(
    weights: str | Path | None = None, *, floor: float | None = None
) -> QualityMetric:
    """Frame KID vs the reference clip; raises MetricUnavailable without local weights."""
    return _frame_distance_metric("kid", weights, floor)


OPT_IN_NAMES = ("clip-score", "frame-fid", "frame-kid")


def opt_in_metric(name: str, clip_model: str | None,
                  inception_weights: str | None) -> QualityMetric:
    """The opt-in metric `name` as configured; without local weights, a stand-in whose every
    call raises MetricUnavailable (the plugin's skip, with where to put the weights)."""
    try:
        if name == "clip-score":
            if not clip_model:
                raise MetricUnavailable(
                    "clip-score needs `clip_model` in [tool.vidbench]: a local CLIP directory, "
                    "or a hub id already in the local Hugging Face cache")
            return clip_score_metric(clip_model)
        if name == "frame-fid":
            return frame_fid_metric(inception_weights)
        if name == "frame-kid":
            return frame_kid_metric(inception_weights)
    except MetricUnavailable as error:
        reason = str(error)

        def unavailable(frames: torch.Tensor, reference: Any = None,
                        prompt: str | None = None) -> float:
            raise MetricUnavailable(reason)

        return QualityMetric(
            name=name, fn=unavailable, direction="higher" if name == "clip-score" else "lower",
            unit="score", value_range=(0.0, float("inf")), tolerance=0.0,
            needs_prompt=name == "clip-score", description=f"unavailable: {reason}")
    raise KeyError(f"no opt-in metric {name!r}; opt-in metrics: {', '.join(OPT_IN_NAMES)}")
