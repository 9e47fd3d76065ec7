"""Building a pipeline for a model entry: built-in from code, checkpoints via from_pretrained.

Load failures name the model and the path or id, and say which of these it was: a local
directory that is missing or incomplete, an offline hub without a cached copy, or an id the
hub does not know.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from pytest_vidbench.config import VariantConfig
from pytest_vidbench.models.registry import ModelEntry

TORCH_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class ModelLoadError(RuntimeError):
    """A model could not be built or loaded; the message names it and says why."""


class VariantUnsupported(RuntimeError):
    """A variant cannot run on this device or with this diffusers (e.g. offload on CPU)."""


def _looks_like_path(source: str) -> bool:
    # Hub ids are "org/name"; anything that exists on disk or is spelled as a path is local.
    return source.startswith((".", "/", "~")) or Path(source).expanduser().exists()


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _pipeline_class(entry: ModelEntry) -> Any:
    import diffusers

    if entry.pipeline_class is None:
        return diffusers.DiffusionPipeline
    cls = getattr(diffusers, entry.pipeline_class, None)
    if cls is None or not isinstance(cls, type):
        raise ModelLoadError(
            f"model {entry.name!r}: diffusers {diffusers.__version__} has no pipeline class "
            f"{entry.pipeline_class!r}; check `pipeline` in [tool.vidbench]"
        )
    return cls


def load_pretrained(entry: ModelEntry, dtype: str) -> Any:
    """`from_pretrained` on a hub id or a local directory, with errors that say what to fix."""
    source = entry.source
    cls = _pipeline_class(entry)
    if _looks_like_path(source):
        path = Path(source).expanduser()
        if not path.is_dir():
            raise ModelLoadError(
                f"model {entry.name!r}: local directory {path} does not exist; fix `source` in "
                "[tool.vidbench] or save the pipeline there with save_pretrained()"
            )
        if not (path / "model_index.json").is_file():
            raise ModelLoadError(
                f"model {entry.name!r}: {path} has no model_index.json, so it is not a saved "
                "diffusers pipeline (missing file); point `source` at the pipeline's root folder"
            )
    kwargs: dict[str, Any] = {"torch_dtype": TORCH_DTYPES[dtype]}
    if entry.revision:
        kwargs["revision"] = entry.revision
    location = os.fspath(Path(source).expanduser()) if _looks_like_path(source) else source
    try:
        pipe = cls.from_pretrained(location, **kwargs)
    except (OSError, ValueError) as error:
        raise ModelLoadError(_explain(entry, error)) from error
    return own_weights(pipe)


# The CPU allocator's alignment (c10::alignment on x86). Weights that safetensors maps from a
# file sit at 8 + header + offset bytes, i.e. only 4- or 8-byte aligned.
ALIGNMENT = 64


def own_weights(pipe: Any) -> Any:
    """Give a loaded pipeline the module state a built one has: weights in fresh, contiguous,
    64-byte-aligned memory, eval mode, no grad.

    MKL's sgemm sums in an order that depends on the operands' alignment on its non-AVX-512
    code paths (AMD CPUs; MKL_ENABLE_INSTRUCTIONS=SSE4_2 on an Intel one): file-mapped weights
    then give frames that differ in the last bits from the same weights built in code. Copying
    also keeps page faults on a mapped file out of the first measured call.
    """
    for module in pipe.components.values():
        if not isinstance(module, torch.nn.Module):
            continue
        module.eval().requires_grad_(False)
        for tensor in (*module.parameters(), *module.buffers()):
            if tensor.device.type == "cpu" and (
                tensor.data_ptr() % ALIGNMENT or not tensor.is_contiguous()
            ):
                tensor.data = tensor.data.contiguous().clone()
    return pipe


def _explain(entry: ModelEntry, error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    where = f"model {entry.name!r} ({entry.source})"
    if _looks_like_path(entry.source):
        return f"{where}: a file of the saved pipeline is missing or unreadable: {text}"
    if _offline() or "offline" in text.lower() or "connect" in text.lower():
        return (
            f"{where}: the hub is offline (HF_HUB_OFFLINE or no network) and no complete copy "
            f"is in the local cache ({text}); download it first with "
            f"`huggingface-cli download {entry.source}` or point `source` at a local folder"
        )
    return f"{where}: could not load from the hub: {text}"


def build_pipeline(entry: ModelEntry, variant: VariantConfig, seed: int = 0) -> Any:
    """The entry's pipeline at the variant's dtype, still on the CPU."""
    dtype = variant.dtype or entry.dtype
    if entry.origin == "builtin":
        assert entry.build is not None
        try:
            pipe = entry.build(seed)
        except Exception as error:  # a failing build must not take the session down
            raise ModelLoadError(f"model {entry.name!r}: building the tiny pipeline failed: "
                                 f"{type(error).__name__}: {error}") from error
        return pipe.to(dtype=TORCH_DTYPES[dtype]) if dtype != "float32" else pipe
    return load_pretrained(entry, dtype)


def denoiser_of(pipe: Any) -> torch.nn.Module | None:
    for name in ("transformer", "unet"):
        module = getattr(pipe, name, None)
        if isinstance(module, torch.nn.Module):
            return module
    return None


def apply_variant(pipe: Any, variant: VariantConfig, device: torch.device) -> Any:
    """Place the pipeline on the device and apply compile / attention backend / offload."""
    denoiser = denoiser_of(pipe)
    if variant.attention_backend:
        if denoiser is None or not hasattr(denoiser, "set_attention_backend"):
            raise VariantUnsupported(
                f"attention_backend={variant.attention_backend!r} needs a diffusers denoiser "
                "with set_attention_backend (diffusers ≥ 0.35)"
            )
        from diffusers.models.attention_dispatch import AttentionBackendName

        allowed = [b.value for b in AttentionBackendName]
        if variant.attention_backend not in allowed:
            raise VariantUnsupported(
                f"unknown attention_backend {variant.attention_backend!r}; "
                f"diffusers offers: {', '.join(allowed)}"
            )
        try:
            denoiser.set_attention_backend(variant.attention_backend)
        except (RuntimeError, ValueError, ImportError) as error:
            raise VariantUnsupported(
                f"attention_backend={variant.attention_backend!r}: {error}"
            ) from error
    if variant.cpu_offload:
        if device.type != "cuda":
            raise VariantUnsupported("cpu_offload moves weights between CPU and GPU; "
                                     "it needs --vidbench-device cuda")
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    if variant.compile:
        if denoiser is None:
            raise VariantUnsupported("compile=true needs a pipeline with a transformer or unet")
        denoiser.compile()
    return pipe
