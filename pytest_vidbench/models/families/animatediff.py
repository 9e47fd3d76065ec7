"""AnimateDiff: an SD-style UNet2D + MotionAdapter (temporal attention), CLIP, 2D VAE."""

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
BLOCKS = (16, 32)


def build_animatediff(seed: int = 0) -> DiffusionPipeline:
    # Imported here: the zoo's names and specs must load without diffusers.
    from diffusers import (
        AnimateDiffPipeline,
        DDIMScheduler,
        MotionAdapter,
        UNet2DConditionModel,
    )

    with quiet_build():
        text_encoder = clip_text_encoder(seed, CLIP_DIM, max_positions=MAX_LEN)
        unet = seeded(
            seed,
            UNet2DConditionModel,
            block_out_channels=BLOCKS,
            layers_per_block=1,
            sample_size=8,
            in_channels=4,
            out_channels=4,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=CLIP_DIM,
            attention_head_dim=8,
            norm_num_groups=4,
        )
        # The adapter's block widths must mirror the UNet's; the pipeline fuses both into a
        # UNetMotionModel in its constructor.
        motion_adapter = seeded(
            seed,
            MotionAdapter,
            block_out_channels=BLOCKS,
            motion_layers_per_block=1,
            motion_norm_num_groups=4,
            motion_num_attention_heads=2,
            motion_max_seq_length=32,
        )
        # Two downsamplings: x4 spatial, so sizes divisible by 8 with the UNet's own halving;
        # no temporal compression (frames are decoded as a batch of images).
        vae = image_vae(seed)
        pipe = AnimateDiffPipeline(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=build_tokenizer("clip", MAX_LEN),
            unet=unet,
            motion_adapter=motion_adapter,
            scheduler=DDIMScheduler(
                beta_start=0.00085,
                beta_end=0.012,
                beta_schedule="linear",
                clip_sample=False,
                timestep_spacing="linspace",
                steps_offset=1,
            ),
            feature_extractor=None,
            image_encoder=None,
        )
        # The fused UNetMotionModel is created in train mode by the pipeline constructor.
        pipe.unet.eval().requires_grad_(False)
        return pipe


ANIMATEDIFF_TINY = BuiltinModel(
    name="animatediff-tiny",
    family="AnimateDiff",
    pipeline_class="AnimateDiffPipeline",
    spec=GenerationSpec(
        prompts=(
            "a cartoon cat dancing in a colorful room",
            "a red kite flying over a sunny beach",
        ),
        seeds=(0,),
        height=64,
        width=64,
        num_frames=8,
        num_inference_steps=4,
        guidance_scale=7.5,
    ),
    build=build_animatediff,
    description="UNet2D (16, 32) + MotionAdapter + CLIP + SD-style VAE, random weights",
)
