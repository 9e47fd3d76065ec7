"""LTX-Video: T5 text encoder, LTX causal video VAE, LTX DiT, flow-matching Euler."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_vidbench.models.families._common import quiet_build, seeded, t5_encoder
from pytest_vidbench.models.spec import BuiltinModel, GenerationSpec
from pytest_vidbench.models.tokenizer import build_tokenizer

if TYPE_CHECKING:
    from diffusers import DiffusionPipeline

TEXT_DIM = 32
MAX_SEQ = 16


def build_ltx(seed: int = 0) -> DiffusionPipeline:
    # Imported here: the zoo's names and specs must load without diffusers.
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    with quiet_build():
        text_encoder = t5_encoder(seed, TEXT_DIM)
        # Two spatio-temporal downsamplings: x4 in space and time, so frames 4k+1 (8k+1 is the
        # real model's rule), sizes divisible by 4 (the pipeline itself asks for /32).
        vae = seeded(
            seed,
            AutoencoderKLLTXVideo,
            latent_channels=8,
            block_out_channels=(8, 8, 8, 8),
            decoder_block_out_channels=(8, 8, 8, 8),
            spatio_temporal_scaling=(True, True, False, False),
            decoder_spatio_temporal_scaling=(True, True, False, False),
            layers_per_block=(1, 1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1, 1),
            patch_size=1,
            patch_size_t=1,
            encoder_causal=True,
            decoder_causal=False,
        )
        # Frame-by-frame decoding is a memory optimisation that changes nothing at this size.
        vae.use_framewise_encoding = False
        vae.use_framewise_decoding = False
        transformer = seeded(
            seed,
            LTXVideoTransformer3DModel,
            in_channels=8,
            out_channels=8,
            patch_size=1,
            patch_size_t=1,
            num_attention_heads=4,
            attention_head_dim=8,
            cross_attention_dim=32,
            num_layers=2,
            caption_channels=TEXT_DIM,
        )
        return LTXPipeline(
            tokenizer=build_tokenizer("t5", MAX_SEQ),
            text_encoder=text_encoder,
            vae=vae,
            transformer=transformer,
            scheduler=FlowMatchEulerDiscreteScheduler(),
        )


LTX_TINY = BuiltinModel(
    name="ltx-tiny",
    family="LTX-Video",
    pipeline_class="LTXPipeline",
    spec=GenerationSpec(
        prompts=(
            "a white swan floating on a quiet river",
            "a busy city street at night in the rain",
        ),
        seeds=(0,),
        height=64,
        width=64,
        num_frames=9,
        num_inference_steps=4,
        guidance_scale=3.0,
        extra=(("max_sequence_length", MAX_SEQ),),
    ),
    build=build_ltx,
    description="2-layer LTX DiT + T5 + LTX video VAE, random weights",
)
