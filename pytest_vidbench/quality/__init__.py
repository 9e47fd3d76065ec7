"""Quality metrics for generated clips: a registry, offline defaults, reference clips, opt-ins.

Model-based opt-in metrics live in `pytest_vidbench.quality.optin` (imported on demand, since
it pulls in transformers).
"""

from pytest_vidbench.quality.errors import (
    MetricUnavailable,
    QualityInputError,
    ReferenceBudgetError,
    ReferenceFileError,
)
from pytest_vidbench.quality.frames import check_frames, downscale, temporal_indices
from pytest_vidbench.quality.metrics import (
    MS_SSIM,
    PSNR_CAP_DB,
    default_quality_metrics,
    vmaf_status,
)
from pytest_vidbench.quality.reference import ReferenceClip, ReferenceConfig, align_to_reference
from pytest_vidbench.quality.registry import (
    QualityMetric,
    QualityRegistry,
    metric_from_function,
)

__all__ = [
    "MS_SSIM",
    "PSNR_CAP_DB",
    "MetricUnavailable",
    "QualityInputError",
    "QualityMetric",
    "QualityRegistry",
    "ReferenceBudgetError",
    "ReferenceClip",
    "ReferenceConfig",
    "ReferenceFileError",
    "align_to_reference",
    "check_frames",
    "default_quality_metrics",
    "downscale",
    "metric_from_function",
    "temporal_indices",
    "vmaf_status",
]

