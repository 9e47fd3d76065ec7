"""The run's configuration: `[tool.vidbench]` parsed into typed settings (settings.py), each
value checked with an error that names the key and the fix (checks.py)."""

from pytest_vidbench.config.checks import ConfigError, file_stem
from pytest_vidbench.config.settings import (
    DTYPES,
    GENERATION_KEYS,
    ModelConfig,
    Thresholds,
    VariantConfig,
    VidbenchConfig,
    load_pyproject_config,
    parse_config,
    parse_model,
)

__all__ = ["DTYPES", "GENERATION_KEYS", "ConfigError", "ModelConfig", "Thresholds",
           "VariantConfig", "VidbenchConfig", "file_stem", "load_pyproject_config",
           "parse_config", "parse_model"]
