"""The built-in model zoo: tiny, real diffusers text-to-video pipelines with seeded random weights.

Every entry builds offline (no hub access), in fp32 on CPU, and is called the same way::

    pipe(prompt=..., negative_prompt=...,  # only where the signature has it
         height=..., width=..., num_frames=..., num_inference_steps=..., guidance_scale=...,
         generator=torch.Generator("cpu").manual_seed(seed), output_type="pt",
         callback_on_step_end=fn,  # only where the signature has it
         **dict(spec.extra))

and ``out.frames[0]`` is an F x C x H x W float tensor in [0, 1].
"""

from __future__ import annotations

from pytest_vidbench.models.families.animatediff import ANIMATEDIFF_TINY
from pytest_vidbench.models.families.cogvideox import COGVIDEOX_TINY
from pytest_vidbench.models.families.hunyuan import HUNYUAN_TINY
from pytest_vidbench.models.families.ltx import LTX_TINY
from pytest_vidbench.models.families.t2vsd import T2VSD_TINY
from pytest_vidbench.models.families.wan import WAN_TINY
from pytest_vidbench.models.spec import BuiltinModel

BUILTIN_MODELS: dict[str, BuiltinModel] = {
    m.name: m
    for m in (WAN_TINY, COGVIDEOX_TINY, LTX_TINY, HUNYUAN_TINY, ANIMATEDIFF_TINY, T2VSD_TINY)
}


def get_builtin(name: str) -> BuiltinModel:
    """Look a built-in model up by name, with a helpful error listing the known ones."""
    try:
        return BUILTIN_MODELS[name]
    except KeyError:
        known = ", ".join(sorted(BUILTIN_MODELS))
        raise KeyError(f"unknown built-in model {name!r}; known: {known}") from None
