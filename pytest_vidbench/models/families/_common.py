"""Shared pieces of the built-in model families: tiny text encoders and quiet, seeded builds."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, NoReturn

import torch

from pytest_vidbench.models.tokenizer import BOS_ID, EOS_ID, PAD_ID, VOCAB_SIZE

# diffusers/transformers are imported inside the builders: listing the zoo (names, specs)
# must stay cheap, because a plain `pytest` without --vidbench still collects the tests.


@contextlib.contextmanager
def quiet_build() -> Iterator[None]:
    """The context every family builds in: quiet, and without side effects on the global RNG.

    diffusers/transformers logger chatter (e.g. TextToVideoSD's deprecation notice) is silenced
    while a tiny pipeline is assembled, then restored, so warnings at call time still reach the
    user. The global torch RNG is forked because
    ``seeded`` reseeds it: building a model must not change the caller's random stream.
    """
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    old_d = diffusers_logging.get_verbosity()
    old_t = transformers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()
    transformers_logging.set_verbosity_error()
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        diffusers_logging.set_verbosity(old_d)
        transformers_logging.set_verbosity(old_t)


def seeded(seed: int, factory: Any, *args: Any, **kwargs: Any) -> Any:
    """Build one component from a freshly seeded global RNG, so components don't depend on
    how many random numbers the ones before them drew."""
    torch.manual_seed(seed)
    module = factory(*args, **kwargs)
    if isinstance(module, torch.nn.Module):
        # Constructors leave modules in train mode; dropout would break bit-identical frames.
        module.eval().requires_grad_(False)
        # Only cast when needed: diffusers' ``.to(dtype)`` warns about fp32-pinned modules.
        if any(p.dtype != torch.float32 for p in module.parameters()):
            module = module.to(dtype=torch.float32)
    return module


def t5_encoder(seed: int, d_model: int = 32, *, umt5: bool = False) -> torch.nn.Module:
    """A 2-layer (UM)T5 encoder over the zoo vocabulary."""
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    config_cls, model_cls = (UMT5Config, UMT5EncoderModel) if umt5 else (T5Config, T5EncoderModel)
    config = config_cls(
        vocab_size=VOCAB_SIZE,
        d_model=d_model,
        d_kv=d_model // 4,
        d_ff=2 * d_model,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=32,
        dropout_rate=0.0,
        feed_forward_proj="gated-gelu",
        is_encoder_decoder=False,
        use_cache=False,
        pad_token_id=PAD_ID,
        eos_token_id=EOS_ID,
        decoder_start_token_id=PAD_ID,
    )
    return seeded(seed, model_cls, config)


def clip_text_encoder(seed: int, hidden_size: int = 32, max_positions: int = 16
                      ) -> torch.nn.Module:
    """A 2-layer CLIP text tower; ``eos_token_id`` != 2 makes it pool at the first real eos."""
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        projection_dim=hidden_size,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=max_positions,
        hidden_act="gelu",
        attention_dropout=0.0,
        pad_token_id=PAD_ID,
        bos_token_id=BOS_ID,
        eos_token_id=EOS_ID,
    )
    return seeded(seed, CLIPTextModel, config)


def llama_encoder(seed: int, hidden_size: int = 16, max_positions: int = 512
                  ) -> torch.nn.Module:
    """A 2-layer Llama decoder used as a text encoder (HunyuanVideo reads its hidden states).

    RoPE has no position table, so a generous ``max_positions`` costs nothing and keeps the
    pipeline's default template (95 tokens + prompt) in range.
    """
    from transformers import LlamaConfig, LlamaModel

    config = LlamaConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=max_positions,
        hidden_act="silu",
        attention_dropout=0.0,
        pad_token_id=PAD_ID,
        bos_token_id=BOS_ID,
        eos_token_id=EOS_ID,
        use_cache=False,
    )
    return seeded(seed, LlamaModel, config)


def image_vae(seed: int) -> torch.nn.Module:
    """The image VAE of the UNet families (AnimateDiff, TextToVideoSD): frames are decoded as
    a batch of images. Three blocks, two downsamplings: x4 spatial, no temporal compression."""
    from diffusers import AutoencoderKL

    return seeded(
        seed, AutoencoderKL, block_out_channels=(8, 8, 16), in_channels=3, out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
        latent_channels=4, norm_num_groups=4, sample_size=32,
    )


class FrozenDict(dict):  # type: ignore[type-arg]
    """A read-only, hashable dict for call kwargs stored in a frozen ``GenerationSpec``.

    ``GenerationSpec`` is a frozen dataclass, so its ``extra`` must hash; pipelines that take a
    dict kwarg (HunyuanVideo's ``prompt_template``) check ``isinstance(value, dict)``.
    """

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))

    def __reduce__(self) -> tuple[type[FrozenDict], tuple[dict[str, Any]]]:
        # pickle/deepcopy would otherwise rebuild the dict through the blocked __setitem__.
        return (type(self), (dict(self),))

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("FrozenDict is read-only")

    __setitem__ = __delitem__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only  # type: ignore[assignment]
