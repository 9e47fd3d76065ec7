"""The built-in model zoo: real tiny diffusers pipelines, built offline, deterministic, loadable."""

from __future__ import annotations

import inspect
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch

from pytest_vidbench.models.loading import load_pretrained
from pytest_vidbench.models.registry import ModelEntry
from pytest_vidbench.models.spec import BuiltinModel, GenerationSpec
from pytest_vidbench.models.tokenizer import (
    EOS_ID,
    PAD_ID,
    UNK_ID,
    VOCAB,
    VOCAB_SIZE,
    build_tokenizer,
    in_vocabulary,
)
from pytest_vidbench.models.zoo import BUILTIN_MODELS, get_builtin

NAMES = sorted(BUILTIN_MODELS)
FAMILIES_REQUIRED = 4


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test here may reach the network: the zoo must build and reload from code and disk."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    def refuse(self: socket.socket, address: Any) -> None:
        raise AssertionError(f"the model zoo tried to open a network connection to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    # Bit-identity comparisons need no cross-thread reduction-order differences, and the
    # machine is shared: one thread keeps this file light.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@dataclass
class Calls:
    """What the plugin's stage timers would see: call counts on the wrapped stages."""

    encode_prompt: int = 0
    vae_decode: int = 0
    denoiser_forward: int = 0
    step_callbacks: list[int] = field(default_factory=list)


def generate(
    pipe: Any,
    spec: GenerationSpec,
    prompt: str,
    seed: int,
    on_step: Callable[[Any, int, Any, dict[str, Any]], dict[str, Any]] | None = None,
) -> torch.Tensor:
    """Call a pipeline exactly the way the plugin does, and return ``out.frames[0]``."""
    params = inspect.signature(pipe.__call__).parameters
    kwargs: dict[str, Any] = {
        "prompt": prompt,
        "height": spec.height,
        "width": spec.width,
        "num_frames": spec.num_frames,
        "num_inference_steps": spec.num_inference_steps,
        "guidance_scale": spec.guidance_scale,
        "generator": torch.Generator("cpu").manual_seed(seed),
        "output_type": "pt",
    }
    if "negative_prompt" in params:
        kwargs["negative_prompt"] = "blurry low quality video"
    if on_step is not None and "callback_on_step_end" in params:
        kwargs["callback_on_step_end"] = on_step
    return pipe(**kwargs, **dict(spec.extra)).frames[0]


def state_dicts(pipe: Any) -> dict[str, torch.Tensor]:
    return {
        f"{name}.{key}": tensor
        for name, module in pipe.components.items()
        if isinstance(module, torch.nn.Module)
        for key, tensor in module.state_dict().items()
    }


_PIPES: dict[str, Any] = {}


def built(name: str) -> Any:
    """One shared seed-0 build per model (building is cheap, but this file should stay fast)."""
    if name not in _PIPES:
        pipe = BUILTIN_MODELS[name].build(0)
        pipe.set_progress_bar_config(disable=True)
        _PIPES[name] = pipe
    return _PIPES[name]


def test_zoo_covers_enough_families() -> None:
    families = {model.family for model in BUILTIN_MODELS.values()}
    assert len(families) >= FAMILIES_REQUIRED, families
    assert all(name.endswith("-tiny") for name in BUILTIN_MODELS)


def test_get_builtin_names_the_known_models() -> None:
    assert get_builtin("wan-tiny") is BUILTIN_MODELS["wan-tiny"]
    with pytest.raises(KeyError, match=r"known: .*wan-tiny"):
        get_builtin("sora-huge")


@pytest.mark.parametrize("name", NAMES)
def test_entry_is_well_formed(name: str) -> None:
    model = BUILTIN_MODELS[name]
    assert isinstance(model, BuiltinModel)
    assert model.name == name
    spec = model.spec
    hash(spec)  # frozen spec, including any dict-valued extra kwargs
    assert len(spec.prompts) >= 2 and len(spec.seeds) >= 1
    assert spec.num_frames >= 5 and spec.height >= 32 and spec.width >= 32
    for prompt in spec.prompts:
        assert in_vocabulary(prompt), f"{name}: {prompt!r} has words outside the zoo vocabulary"


@pytest.mark.parametrize("name", NAMES)
def test_builds_the_named_real_pipeline_in_fp32(name: str) -> None:
    import diffusers

    model = BUILTIN_MODELS[name]
    pipe = built(name)
    assert type(pipe) is getattr(diffusers, model.pipeline_class)
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            assert not component.training, "dropout in train mode would break determinism"
            assert {p.dtype for p in component.parameters()} == {torch.float32}
            assert {p.device.type for p in component.parameters()} == {"cpu"}


@pytest.mark.parametrize("name", NAMES)
def test_building_leaves_the_global_rng_alone(name: str) -> None:
    torch.manual_seed(1234)
    expected = torch.rand(4)
    torch.manual_seed(1234)
    BUILTIN_MODELS[name].build(0)
    assert torch.equal(torch.rand(4), expected)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_weights_and_frames(name: str) -> None:
    model = BUILTIN_MODELS[name]
    first, second = built(name), model.build(0)
    second.set_progress_bar_config(disable=True)
    a, b = state_dicts(first), state_dicts(second)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[key], b[key]) for key in a)
    prompt, seed = model.spec.prompts[0], model.spec.seeds[0]
    assert torch.equal(
        generate(first, model.spec, prompt, seed), generate(second, model.spec, prompt, seed)
    )


@pytest.mark.parametrize("name", NAMES)
def test_other_seed_other_weights(name: str) -> None:
    a, b = state_dicts(built(name)), state_dicts(BUILTIN_MODELS[name].build(1))
    assert any(not torch.equal(a[key], b[key]) for key in a)


@pytest.mark.parametrize("name", NAMES)
def test_frames_have_the_spec_shape_and_range(name: str) -> None:
    spec = BUILTIN_MODELS[name].spec
    pipe = built(name)
    frames = [generate(pipe, spec, prompt, seed) for _, prompt, seed in spec.cases]
    for video in frames:
        assert isinstance(video, torch.Tensor)
        assert video.shape == (spec.num_frames, 3, spec.height, spec.width)
        assert video.dtype == torch.float32
        assert torch.isfinite(video).all()
        assert video.min() >= 0.0 and video.max() <= 1.0
        # Something for SSIM / optical flow to measure: not flat in space, not frozen in time.
        assert video.std() > 0.01
        assert (video[1:] - video[:-1]).abs().mean() > 1e-3
    # The prompt reaches the denoiser: different prompts, different videos.
    assert not torch.equal(frames[0], frames[1])


@pytest.mark.parametrize("name", NAMES)
def test_stages_the_plugin_times_exist_and_run(name: str) -> None:
    """The plugin wraps pipe.encode_prompt and pipe.vae.decode and hooks the denoiser."""
    spec = BUILTIN_MODELS[name].spec
    pipe = BUILTIN_MODELS[name].build(0)
    pipe.set_progress_bar_config(disable=True)
    calls = Calls()
    encode, decode = pipe.encode_prompt, pipe.vae.decode

    def counted_encode(*args: Any, **kwargs: Any) -> Any:
        calls.encode_prompt += 1
        return encode(*args, **kwargs)

    def counted_decode(*args: Any, **kwargs: Any) -> Any:
        calls.vae_decode += 1
        return decode(*args, **kwargs)

    def on_step(_pipe: Any, step: int, _t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        calls.step_callbacks.append(step)
        return tensors

    pipe.encode_prompt, pipe.vae.decode = counted_encode, counted_decode
    denoisers = [getattr(pipe, n, None) for n in ("transformer", "unet")]
    denoiser = next(m for m in denoisers if isinstance(m, torch.nn.Module))
    handle = denoiser.register_forward_hook(
        lambda *_: setattr(calls, "denoiser_forward", calls.denoiser_forward + 1)
    )
    try:
        generate(pipe, spec, spec.prompts[0], spec.seeds[0], on_step=on_step)
    finally:
        handle.remove()
    assert calls.encode_prompt >= 1
    assert calls.vae_decode >= 1
    assert calls.denoiser_forward >= spec.num_inference_steps
    if "callback_on_step_end" in inspect.signature(pipe.__call__).parameters:
        assert calls.step_callbacks == list(range(spec.num_inference_steps))


@pytest.mark.parametrize("name", NAMES)
def test_save_and_reload_gives_identical_frames(name: str, tmp_path: Path) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    model = BUILTIN_MODELS[name]
    pipe = built(name)
    pipe.save_pretrained(tmp_path)
    # The plugin's by-path route, which re-homes the file-mapped weights (see own_weights).
    entry = ModelEntry(name="saved", origin="pretrained", source=str(tmp_path),
                       family=model.family, spec=model.spec)
    loaded = load_pretrained(entry, "float32")
    loaded.set_progress_bar_config(disable=True)
    assert type(loaded) is type(pipe)
    prompt, seed = model.spec.prompts[-1], model.spec.seeds[0]
    # Exact: same process, same thread count, same weights at the same alignment, so the same
    # kernels sum in the same order (test_pipelines checks MKL's alignment-sensitive path).
    assert torch.equal(
        generate(loaded, model.spec, prompt, seed), generate(pipe, model.spec, prompt, seed)
    )


@pytest.mark.parametrize("style", ["t5", "clip", "llama"])
def test_tokenizer_pads_and_round_trips(style: str, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = build_tokenizer(style, model_max_length=12)  # type: ignore[arg-type]
    assert tokenizer.model_max_length == 12
    assert tokenizer.pad_token_id == PAD_ID and tokenizer.eos_token_id == EOS_ID
    assert len(VOCAB) == len(set(VOCAB)) <= VOCAB_SIZE
    texts = ["A red fox running through fresh snow.", "zebra"]
    batch = tokenizer(texts, padding="max_length", max_length=12, truncation=True)
    assert [len(ids) for ids in batch.input_ids] == [12, 12]
    assert UNK_ID not in batch.input_ids[0] and UNK_ID in batch.input_ids[1]
    assert tokenizer.decode(batch.input_ids[0], skip_special_tokens=True) == (
        "a red fox running through fresh snow."
    )
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded.model_max_length == 12
    again = reloaded(texts, padding="max_length", max_length=12, truncation=True)
    assert again.input_ids == batch.input_ids
