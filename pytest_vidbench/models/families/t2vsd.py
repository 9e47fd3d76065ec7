"""ModelScope text-to-video (TextToVideoSDPipeline): UNet3D, CLIP text encoder, 2D VAE, DDIM."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_vidbench.models.families._common import (
    clip_text_encoder,
    image_vae,
    quiet_build,
    seeded,
)
from pytest_vidbench.models.spec import BuiltinModel, GenerationSpec
from pytest_vidbench.models.tokenizer import build_tokenizer

if TYPE_CHECKING:
    from diffusers import DiffusionPipeline

CLIP_DIM = 32
MAX_LEN = 16  # tokenizer.model_max_length == CLIP max_position_embeddings


def build_t2vsd(seed: int = 0) -> DiffusionPipeline:
    # Imported here: the zoo's names and specs must load without diffusers.
    from diffusers import (
        DDIMScheduler,
        TextToVideoSDPipeline,
        UNet3DConditionModel,
    )

    with quiet_build():
        text_encoder = clip_text_encoder(seed, CLIP_DIM, max_positions=MAX_LEN)
        unet = seeded(
            seed,
            UNet3DConditionModel,
            block_out_channels=(16, 32),
            layers_per_block=1,
            sample_size=8,
            in_channels=4,
            out_channels=4,
            down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
            up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
            cross_attention_dim=CLIP_DIM,
            attention_head_dim=8,
            norm_num_groups=4,
        )
        # Two downsamplings: x4 spatial, so sizes divisible by 8 with the UNet's own halving;
        # the UNet sees all frames at once, the VAE decodes them as a batch of images.
        vae = image_vae(seed)
        return TextToVideoSDPipeline(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=build_tokenizer("clip", MAX_LEN),
            unet=unet,
            scheduler=DDIMScheduler(
                beta_start=0.00085,
                beta_end=0.012,
                beta_schedule="scaled_linear",
                clip_sample=False,
                set_alpha_to_one=False,
                timestep_spacing="leading",
                steps_offset=1,
            ),
        )


T2VSD_TINY = BuiltinModel(
    name="t2vsd-tiny",
    family="ModelScope T2V (TextToVideoSD)",
    pipeline_class="TextToVideoSDPipeline",
    spec=GenerationSpec(
        prompts=("a tiger walking through tall grass", "snow falling on an old wooden house"),
        seeds=(0,),
        height=64,
        width=64,
        num_frames=8,
        num_inference_steps=4,
        guidance_scale=9.0,
    ),
    build=build_t2vsd,
    description="UNet3D (16, 32) + CLIP + SD-style VAE, random weights",
)
