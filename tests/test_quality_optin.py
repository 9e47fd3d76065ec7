"""Opt-in model metrics: offline they fail fast with MetricUnavailable; a tiny local CLIP works."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
import torch

from pytest_vidbench.quality import MetricUnavailable
from pytest_vidbench.quality.optin import (
    INCEPTION_WEIGHTS_FILE,
    clip_score_metric,
    fid_from_features,
    frame_fid_metric,
    frame_kid_metric,
    kid_from_features,
    resolve_clip_dir,
)

WORDS = ["a", "red", "fox", "running", "through", "fresh", "snow", "blue", "car", "at", "night"]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Empty caches, offline flags, and any socket connection fails the test loudly."""
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return cache


@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight CLIP with the real architecture, tokenizer and image processor, saved."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        PreTrainedTokenizerFast,
    )

    specials = ["[PAD]", "[UNK]", "<|startoftext|>", "<|endoftext|>"]
    vocab = {w: i for i, w in enumerate(specials + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(  # CLIP pools at the end token
        single="<|startoftext|> $A <|endoftext|>",
        special_tokens=[("<|startoftext|>", 2), ("<|endoftext|>", 3)],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
        bos_token="<|startoftext|>", eos_token="<|endoftext|>",
    )
    small = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
             "num_attention_heads": 2}
    config = CLIPConfig(
        text_config={**small, "vocab_size": len(vocab), "max_position_embeddings": 16,
                     "bos_token_id": 2, "eos_token_id": 3, "pad_token_id": 0},
        vision_config={**small, "image_size": 32, "patch_size": 8},
        projection_dim=8,
    )
    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("tiny-clip")
    CLIPModel(config).save_pretrained(directory)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32},
                                         crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(directory)
    return directory


def clip_frames(seed: int = 0) -> torch.Tensor:
    return torch.rand(4, 3, 40, 56, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------- offline, no weights


def test_clip_hub_id_not_cached_fails_fast(offline: Path) -> None:
    # Fast because nothing is tried: `offline` fails the test on any connection attempt.
    with pytest.raises(MetricUnavailable) as info:
        clip_score_metric("openai/clip-vit-base-patch32")
    reason = info.value.reason
    assert str(offline) in reason and "hf download openai/clip-vit-base-patch32" in reason
    assert "save_pretrained" in reason


def test_clip_directory_missing_or_incomplete(offline: Path, tmp_path: Path) -> None:
    with pytest.raises(MetricUnavailable, match="no model directory at"):
        clip_score_metric(tmp_path / "nowhere")
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "config.json").write_text("{}")
    with pytest.raises(MetricUnavailable) as info:
        clip_score_metric(partial)
    assert "model.safetensors" in info.value.reason and "tokenizer.json" in info.value.reason
    assert "lacks model.safetensors or" in info.value.reason  # config.json is there


def test_clip_incomplete_cache_snapshot(offline: Path) -> None:
    snapshot = offline / "models--openai--clip-vit-base-patch32" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    with pytest.raises(MetricUnavailable, match=r"lacks model\.safetensors"):
        clip_score_metric("openai/clip-vit-base-patch32")


@pytest.mark.parametrize("factory", [frame_fid_metric, frame_kid_metric])
def test_inception_metrics_unavailable_offline(offline: Path, factory: Any) -> None:
    with pytest.raises(MetricUnavailable) as info:  # no connection tried (`offline`)
        factory()
    # Either the packages are missing (this venv: no torchvision) or the weights file is.
    reason = info.value.reason
    assert "torch-fidelity" in reason or INCEPTION_WEIGHTS_FILE in reason


def test_fid_and_kid_from_features() -> None:
    g = torch.Generator().manual_seed(0)
    real = torch.randn(64, 8, generator=g)
    fake_near = real + 0.05 * torch.randn(64, 8, generator=g)
    fake_far = torch.randn(64, 8, generator=g) * 2 + 3
    assert fid_from_features(real, real) == pytest.approx(0.0, abs=1e-6)
    assert fid_from_features(real, fake_near) < fid_from_features(real, fake_far)
    assert kid_from_features(real, real) == pytest.approx(0.0, abs=1e-3)
    assert kid_from_features(real, fake_near) < kid_from_features(real, fake_far)


# ------------------------------------------------------------------ a tiny local CLIP


def test_tiny_local_clip_end_to_end(offline: Path, tiny_clip_dir: Path) -> None:
    metric = clip_score_metric(tiny_clip_dir)
    assert metric.needs_prompt and not metric.needs_reference and metric.direction == "higher"
    frames = clip_frames()
    value = metric.compute(frames, prompt="a red fox running through fresh snow")
    assert 0.0 <= value <= 100.0
    again = metric.compute(frames, prompt="a red fox running through fresh snow")
    assert again == value  # deterministic, and the model is loaded once
    other = metric.compute(frames, prompt="a blue car at night")
    assert other != value
    with pytest.raises(ValueError, match="prompt"):
        metric.compute(frames)


def test_tiny_clip_score_matches_the_definition(offline: Path, tiny_clip_dir: Path) -> None:
    from transformers import CLIPModel, CLIPProcessor

    prompt = "a fox in snow"
    frames = clip_frames(1)
    model = CLIPModel.from_pretrained(tiny_clip_dir).eval()
    processor = CLIPProcessor.from_pretrained(tiny_clip_dir)
    pixels = processor(images=list((frames * 255).round().to(torch.uint8)),
                       return_tensors="pt")["pixel_values"]
    text = processor(text=[prompt], return_tensors="pt")
    with torch.inference_mode():
        image = model.visual_projection(model.vision_model(pixel_values=pixels).pooler_output)
        words = model.text_projection(model.text_model(**text).pooler_output)
    cos = torch.nn.functional.cosine_similarity(image, words)
    expected = float(100 * cos.clamp(min=0).mean())
    value = clip_score_metric(tiny_clip_dir).compute(frames, prompt=prompt)
    assert value == pytest.approx(expected, abs=1e-4)


def test_clip_found_in_the_local_hub_cache(offline: Path, tiny_clip_dir: Path) -> None:
    repo = offline / "models--tiny--clip"
    shutil.copytree(tiny_clip_dir, repo / "snapshots" / "0123abc")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abc")
    assert resolve_clip_dir("tiny/clip") == repo / "snapshots" / "0123abc"
    value = clip_score_metric("tiny/clip").compute(clip_frames(), prompt="a red fox")
    assert 0.0 <= value <= 100.0


@pytest.mark.parametrize("version, safe", [("2.4.1", False), ("2.5.1+cu124", False),
                                           ("2.6.0", True), ("2.13.0+cpu", True)])
def test_frame_fid_refuses_a_torch_whose_load_would_unpickle_the_weights(version, safe):
    from pytest_vidbench.quality.optin import check_safe_unpickling

    if safe:
        check_safe_unpickling(version)
    else:
        with pytest.raises(MetricUnavailable, match=r"torch ≥ 2\.6"):
            check_safe_unpickling(version)
