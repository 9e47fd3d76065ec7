"""Wan 2.1 text-to-video: UMT5 text encoder, causal 3D VAE, Wan DiT, flow-matching Euler."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_vidbench.models.families._common import quiet_build, seeded, t5_encoder
from pytest_vidbench.models.spec import BuiltinModel, GenerationSpec
from pytest_vidbench.models.tokenizer import build_tokenizer

if TYPE_CHECKING:
    from diffusers import DiffusionPipeline

TEXT_DIM = 32
MAX_SEQ = 16


def build_wan(seed: int = 0) -> DiffusionPipeline:
    # Imported here: the zoo's names and specs must load without diffusers.
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanPipeline,
        WanTransformer3DModel,
    )

    with quiet_build():
        text_encoder = t5_encoder(seed, TEXT_DIM, umt5=True)
        # 3 spatial halvings (x8) and 2 temporal ones (x4): frames must be 4k+1, sizes /16.
        vae = seeded(
            seed,
            AutoencoderKLWan,
            base_dim=8,
            z_dim=8,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
            latents_mean=[0.0] * 8,
            latents_std=[1.0] * 8,
        )
        transformer = seeded(
            seed,
            WanTransformer3DModel,
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=16,
            in_channels=8,
            out_channels=8,
            text_dim=TEXT_DIM,
            freq_dim=32,
            ffn_dim=64,
            num_layers=2,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=32,
        )
        return WanPipeline(
            tokenizer=build_tokenizer("t5", MAX_SEQ),
            text_encoder=text_encoder,
            vae=vae,
            transformer=transformer,
            scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        )


WAN_TINY = BuiltinModel(
    name="wan-tiny",
    family="Wan 2.1",
    pipeline_class="WanPipeline",
    spec=GenerationSpec(
        prompts=("a red fox running through fresh snow", "a small boat drifting on a calm lake"),
        seeds=(0,),
        height=64,
        width=64,
        num_frames=9,
        num_inference_steps=4,
        guidance_scale=5.0,
        extra=(("max_sequence_length", MAX_SEQ),),
    ),
    build=build_wan,
    description="2-layer Wan DiT + UMT5 + Wan VAE, random weights",
)
