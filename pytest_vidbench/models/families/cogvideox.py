"""CogVideoX (5B-style, 3D RoPE): T5 text encoder, CogVideoX 3D VAE, expert-adaLN DiT, DDIM."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_vidbench.models.families._common import quiet_build, seeded, t5_encoder
from pytest_vidbench.models.spec import BuiltinModel, GenerationSpec
from pytest_vidbench.models.tokenizer import build_tokenizer

if TYPE_CHECKING:
    from diffusers import DiffusionPipeline

TEXT_DIM = 32
MAX_SEQ = 16
HEIGHT = WIDTH = 64
NUM_FRAMES = 9


def build_cogvideox(seed: int = 0) -> DiffusionPipeline:
    # Imported here: the zoo's names and specs must load without diffusers.
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXPipeline,
        CogVideoXTransformer3DModel,
    )

    with quiet_build():
        text_encoder = t5_encoder(seed, TEXT_DIM)
        # 4 blocks -> x8 spatial, x4 temporal. 9 frames -> 3 latent frames -> 9 decoded frames;
        # the decoder only returns exactly num_frames for an odd latent count, i.e. 8k+1 frames
        # (13 frames -> 4 latents -> 16 frames).
        vae = seeded(
            seed,
            AutoencoderKLCogVideoX,
            block_out_channels=(8, 8, 8, 8),
            latent_channels=4,
            layers_per_block=1,
            norm_num_groups=2,
            temporal_compression_ratio=4,
            sample_height=HEIGHT,
            sample_width=WIDTH,
        )
        # 3D RoPE (as in CogVideoX-5B) instead of the 2B's fixed sincos table, whose text part
        # only fits exactly max_text_seq_length tokens: any max_sequence_length and size work.
        transformer = seeded(
            seed,
            CogVideoXTransformer3DModel,
            num_attention_heads=2,
            attention_head_dim=16,  # RoPE splits it 1/4 t, 3/8 h, 3/8 w: needs even parts
            in_channels=4,
            out_channels=4,
            time_embed_dim=8,
            text_embed_dim=TEXT_DIM,
            num_layers=2,
            sample_width=WIDTH // 8,
            sample_height=HEIGHT // 8,
            sample_frames=NUM_FRAMES,
            patch_size=2,
            temporal_compression_ratio=4,
            max_text_seq_length=MAX_SEQ,
            use_rotary_positional_embeddings=True,
        )
        return CogVideoXPipeline(
            tokenizer=build_tokenizer("t5", MAX_SEQ),
            text_encoder=text_encoder,
            vae=vae,
            transformer=transformer,
            # The released CogVideoX scheduler settings (v-prediction on a zero-terminal-SNR
            # schedule); the class defaults (epsilon, leading) blow latents up ~25x.
            scheduler=CogVideoXDDIMScheduler(
                prediction_type="v_prediction",
                rescale_betas_zero_snr=True,
                timestep_spacing="trailing",
                clip_sample=False,
                set_alpha_to_one=True,
                snr_shift_scale=3.0,
            ),
        )


COGVIDEOX_TINY = BuiltinModel(
    name="cogvideox-tiny",
    family="CogVideoX",
    pipeline_class="CogVideoXPipeline",
    spec=GenerationSpec(
        prompts=(
            "a golden retriever dog playing in a green field",
            "waves rolling onto a sandy beach at sunset",
        ),
        seeds=(0,),
        height=HEIGHT,
        width=WIDTH,
        num_frames=NUM_FRAMES,
        num_inference_steps=4,
        guidance_scale=6.0,
        extra=(("max_sequence_length", MAX_SEQ),),
    ),
    build=build_cogvideox,
    description="2-layer CogVideoX DiT + T5 + CogVideoX VAE, random weights",
)
