"""Heavy modules are imported once, in the test process itself.

pytester's in-process runs drop every module first imported inside a run; torch (and the
libraries that register operators with it) cannot be imported a second time in one process:
it crashes. The plugin imports them lazily, so the tests import them up front. transformers'
submodules load lazily too: a CLIP image processor first imported inside a run comes back
as a second class, which its processor then refuses (seen under xdist's test order), and
diffusers' classes likewise.
"""

import contextlib
import os

# This process's torch starts below without huge pages (pytest_vidbench/measure/huge_pages.py);
# its subprocess runs are told so, as a run tells its fresh processes.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "0")

import cv2  # noqa: F401
import diffusers  # noqa: F401
import scipy.stats  # noqa: F401
import torch  # noqa: F401
import torchmetrics.functional.image  # noqa: F401
import transformers.image_processing_utils
import transformers.models.clip.processing_clip
from hypothesis import settings

import pytest_vidbench.gate.judge
import pytest_vidbench.measure.campaign
import pytest_vidbench.measure.environment
import pytest_vidbench.quality.metrics
import pytest_vidbench.report.html
import pytest_vidbench.report.markdown
import pytest_vidbench.report.outputs
import pytest_vidbench.report.terminal  # noqa: F401

with contextlib.suppress(ImportError):  # transformers ≥ 5: the PIL backend's own module
    import transformers.models.clip.image_processing_pil_clip  # noqa: F401

# The built-in families' classes (models/families/), which diffusers also loads lazily:
# from_pretrained skips a component whose class it sees twice (under xdist's test order).
from diffusers import (  # noqa: F401
    AnimateDiffPipeline,
    AutoencoderKL,
    AutoencoderKLCogVideoX,
    AutoencoderKLHunyuanVideo,
    AutoencoderKLLTXVideo,
    AutoencoderKLWan,
    CogVideoXDDIMScheduler,
    CogVideoXPipeline,
    CogVideoXTransformer3DModel,
    DDIMScheduler,
    FlowMatchEulerDiscreteScheduler,
    HunyuanVideoPipeline,
    HunyuanVideoTransformer3DModel,
    LTXPipeline,
    LTXVideoTransformer3DModel,
    MotionAdapter,
    TextToVideoSDPipeline,
    UNet2DConditionModel,
    UNet3DConditionModel,
    UNetMotionModel,
    WanPipeline,
    WanTransformer3DModel,
)

# `./vb test` runs on two workers and CI runners share their cores: a per-example deadline
# would time the machine, not the code (no test asserts a duration).
settings.register_profile("vidbench", deadline=None)
settings.load_profile("vidbench")
