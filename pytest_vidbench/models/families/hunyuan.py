"""HunyuanVideo: Llama + CLIP text encoders, Hunyuan causal 3D VAE, dual/single-stream DiT."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_vidbench.models.families._common import (
    FrozenDict,
    clip_text_encoder,
    llama_encoder,
    quiet_build,
    seeded,
)
from pytest_vidbench.models.spec import BuiltinModel, GenerationSpec
from pytest_vidbench.models.tokenizer import build_tokenizer

if TYPE_CHECKING:
    from diffusers import DiffusionPipeline

LLAMA_DIM = 16
CLIP_DIM = 8
MAX_SEQ = 16
# The pipeline pads CLIP prompts to a hard-coded 77 tokens.
CLIP_MAX_LEN = 77
# The default template is a long Llama-3 chat preamble cropped at a *token* offset (95) that only
# holds for the real Llama tokenizer; with the zoo tokenizer the bare prompt is the right input.
PROMPT_TEMPLATE = FrozenDict(template="{}", crop_start=0)


def build_hunyuan(seed: int = 0) -> DiffusionPipeline:
    # Imported here: the zoo's names and specs must load without diffusers.
    from diffusers import (
        AutoencoderKLHunyuanVideo,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideoPipeline,
        HunyuanVideoTransformer3DModel,
    )

    with quiet_build():
        text_encoder = llama_encoder(seed, LLAMA_DIM)
        text_encoder_2 = clip_text_encoder(seed, CLIP_DIM, max_positions=CLIP_MAX_LEN)
        # x8 spatial, x4 temporal: frames 4k+1; the pipeline asks for sizes divisible by 16.
        vae = seeded(
            seed,
            AutoencoderKLHunyuanVideo,
            latent_channels=4,
            block_out_channels=(8, 8, 8, 8),
            layers_per_block=1,
            norm_num_groups=4,
            spatial_compression_ratio=8,
            temporal_compression_ratio=4,
            mid_block_add_attention=True,
        )
        transformer = seeded(
            seed,
            HunyuanVideoTransformer3DModel,
            in_channels=4,
            out_channels=4,
            num_attention_heads=2,
            attention_head_dim=10,
            num_layers=1,
            num_single_layers=1,
            num_refiner_layers=1,
            patch_size=1,
            patch_size_t=1,
            # Guidance-distilled: cfg is an embedded input, not a doubled batch.
            guidance_embeds=True,
            text_embed_dim=LLAMA_DIM,
            pooled_projection_dim=CLIP_DIM,
            rope_axes_dim=(2, 4, 4),  # sums to attention_head_dim
        )
        return HunyuanVideoPipeline(
            tokenizer=build_tokenizer("llama", MAX_SEQ),
            text_encoder=text_encoder,
            tokenizer_2=build_tokenizer("clip", CLIP_MAX_LEN),
            text_encoder_2=text_encoder_2,
            vae=vae,
            transformer=transformer,
            scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        )


HUNYUAN_TINY = BuiltinModel(
    name="hunyuan-tiny",
    family="HunyuanVideo",
    pipeline_class="HunyuanVideoPipeline",
    spec=GenerationSpec(
        prompts=(
            "an astronaut riding a horse on the moon",
            "a panda eating leaves in a green forest",
        ),
        seeds=(0,),
        height=64,
        width=64,
        num_frames=9,
        num_inference_steps=4,
        guidance_scale=6.0,
        extra=(("max_sequence_length", MAX_SEQ), ("prompt_template", PROMPT_TEMPLATE)),
    ),
    build=build_hunyuan,
    description="1+1-layer HunyuanVideo DiT + Llama + CLIP + Hunyuan VAE, random weights",
)
