"""`[tool.vidbench]` in pyproject.toml: parsed into typed records, strictly validated.

Every error names the offending key and the allowed values, so a typo never silently falls
back to a default. The plugin turns `ConfigError` into a pytest usage error (exit 4).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_vidbench.config.checks import (
    DTYPES,
    MAX_SEED,
    ConfigError,
    allowed_fields,
    check_dtype,
    check_file_names,
    check_keys,
    check_variant_name,
    expect,
    file_stem,
    finite,
    fraction,
    positive_int,
    str_list,
    validate_cpu_allocator,
    validate_device,
)

__all__ = ["DTYPES", "ConfigError", "VidbenchConfig", "file_stem", "parse_config"]
DTYPE_SHORT = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}
GENERATION_KEYS = ("prompts", "seeds", "height", "width", "num_frames",
                   "num_inference_steps", "guidance_scale", "extra")


@dataclass(frozen=True)
class VariantConfig:
    """One optimisation of a model: a parametrization axis next to the plain pipeline."""

    name: str = ""
    dtype: str | None = None  # None: the model's dtype
    compile: bool = False  # torch.compile the denoiser
    attention_backend: str | None = None  # diffusers attention backend, e.g. "_native_math"
    cpu_offload: bool = False  # enable_model_cpu_offload (needs CUDA)

    def resolved_name(self, model_dtype: str) -> str:
        if self.name:
            return self.name
        parts = [DTYPE_SHORT[self.dtype or model_dtype]]
        if self.compile:
            parts.append("compile")
        if self.attention_backend:
            parts.append(self.attention_backend.strip("_").replace("_", "-"))
        if self.cpu_offload:
            parts.append("offload")
        return "-".join(parts)


@dataclass(frozen=True)
class ModelConfig:
    """A model entry: a built-in name, a hub id, or a local directory."""

    name: str
    source: str | None = None  # hub id or local path; None: the built-in model called `name`
    pipeline: str | None = None  # diffusers pipeline class, when it cannot be inferred
    dtype: str = "float32"
    revision: str | None = None
    generation: dict[str, Any] = field(default_factory=dict)
    variants: tuple[VariantConfig, ...] = ()


@dataclass(frozen=True)
class Thresholds:
    """Verdict policy knobs. Defaults come from the calibration (docs/calibration.md)."""

    alpha: float = 0.01  # family-wise error rate for `regression` (Holm)
    fdr: float = 0.05  # false discovery rate for `suspicious` (Benjamini-Hochberg)
    latency_min_effect: float = 0.10  # a slowdown must also be at least this large
    energy_min_effect: float = 0.15  # no control workload to normalise energy by
    noise_floor: float = 0.03  # lowest run-to-run SD assumed in log space
    drift: float = 0.0  # a model's own drift since its history (log SD; calibrate --drift)
    memory_rel_tolerance: float = 0.01  # of the history's best: scales with the model
    memory_abs_tolerance_mib: float = 16.0
    control: bool = True  # also judge latency normalised by the interleaved control workload
    screen_p: float = 0.05  # unadjusted p that sends a test to fresh-process confirmation
    fail_unconfirmed: bool = True  # a needed confirmation that cannot run fails the gate


@dataclass(frozen=True)
class VidbenchConfig:
    models: tuple[ModelConfig, ...] = ()  # empty: every built-in and registered model
    metrics: tuple[str, ...] = ()  # empty: the default metric set
    device: str = "auto"
    threads: int = 1
    cpu_allocator: str = "default"  # "fresh-pages": measure/cpu_allocator.py
    cpu_huge_pages: bool = True  # torch's THP_MEM_ALLOC_ENABLE: measure/huge_pages.py
    warmup: int = 1
    rounds: int = 10  # rounds buy precision; calls per round barely do (docs/calibration.md)
    calls_per_round: int = 3
    remeasure: bool = True  # confirm a suspected slowdown in fresh processes
    remeasure_runs: int = 6  # most fresh processes per suspect (fewer once it is decided)
    remeasure_rounds: int = 3  # rounds × calls in each fresh process: the process is the
    remeasure_calls: int = 2  # unit of replication, so each one is short (docs/verdicts.md)
    remeasure_references: int = 3  # unsuspected models re-measured as the suspects' peers
    interleave: bool = True  # all pipelines resident, interleaved (false: one at a time)
    model_timeout: int = 1800  # seconds per model, build and calls together (0: no limit)
    prompts: tuple[str, ...] = ()  # override every model's prompts
    seeds: tuple[int, ...] = ()  # override every model's seeds
    tf32: bool = False
    deterministic: bool = True
    history: int = 10  # runs kept per test in a baseline file
    baselines: str = "baselines"
    results: str = ".vidbench/results.json"
    reference_max_side: int = 64  # reference clips are stored at this resolution
    reference_max_frames: int = 8
    clip_model: str | None = None  # opt-in clip-score: a local dir or a cached hub id
    inception_weights: str | None = None  # opt-in frame-fid/kid: torch-fidelity's weights
    thresholds: Thresholds = field(default_factory=Thresholds)


def parse_generation(table: Any, where: str) -> dict[str, Any]:
    """Validate a generation table; returns the overrides for `GenerationSpec`."""
    expect(table, dict, where, "a table")
    check_keys(table, GENERATION_KEYS, where)
    out: dict[str, Any] = {}
    for key, value in table.items():
        here = f"{where}.{key}"
        if key == "prompts":
            out[key] = str_list(value, here)
            if not value:
                raise ConfigError(f"{here} must name at least one prompt")
        elif key == "seeds":
            expect(value, list, here, "a list of integers")
            out[key] = tuple(positive_int(v, here, 0, MAX_SEED) for v in value)
            if not value:
                raise ConfigError(f"{here} must name at least one seed")
        elif key == "guidance_scale":
            out[key] = finite(value, here, "a finite number")
        elif key == "extra":
            out[key] = dict(expect(value, dict, here, "a table of pipeline call arguments"))
        else:
            out[key] = positive_int(value, here)
    return out


def parse_variant(table: Any, where: str) -> VariantConfig:
    expect(table, dict, where, "a table")
    check_keys(table, allowed_fields(VariantConfig), where)
    if table.get("name"):
        check_variant_name(expect(table["name"], str, f"{where}.name", "a string"),
                            f"{where}.name")
    return VariantConfig(
        name=str(expect(table.get("name", ""), str, f"{where}.name", "a string")),
        dtype=check_dtype(table["dtype"], f"{where}.dtype") if "dtype" in table else None,
        compile=expect(table.get("compile", False), bool, f"{where}.compile", "true or false"),
        attention_backend=(
            expect(table["attention_backend"], str, f"{where}.attention_backend", "a string")
            if "attention_backend" in table else None
        ),
        cpu_offload=expect(
            table.get("cpu_offload", False), bool, f"{where}.cpu_offload", "true or false"
        ),
    )


def parse_model(entry: Any, where: str) -> ModelConfig:
    if isinstance(entry, str):
        return ModelConfig(name=entry)
    expect(entry, dict, where, "a model name or a table")
    check_keys(entry, allowed_fields(ModelConfig), where)
    if "name" not in entry:
        raise ConfigError(f"{where} needs a `name`")
    name = expect(entry["name"], str, f"{where}.name", "a string")
    if not name or any(c in name for c in "[]:/ "):
        raise ConfigError(
            f"{where}.name {name!r} must be non-empty, without spaces, '[', ']', ':', '/'")
    variants_raw = expect(entry.get("variants", []), list, f"{where}.variants", "a list of tables")
    model = ModelConfig(
        name=name,
        source=expect(entry["source"], str, f"{where}.source", "a hub id or a path")
        if "source" in entry else None,
        pipeline=expect(entry["pipeline"], str, f"{where}.pipeline", "a class name")
        if "pipeline" in entry else None,
        dtype=check_dtype(entry.get("dtype", "float32"), f"{where}.dtype"),
        revision=expect(entry["revision"], str, f"{where}.revision", "a string")
        if "revision" in entry else None,
        generation=parse_generation(entry.get("generation", {}), f"{where}.generation"),
        variants=tuple(
            parse_variant(v, f"{where}.variants[{i}]") for i, v in enumerate(variants_raw)
        ),
    )
    names = [v.resolved_name(model.dtype) for v in model.variants]
    for i, resolved in enumerate(names):
        check_variant_name(resolved, f"{where}.variants[{i}] resolves to the name")
    plain = VariantConfig().resolved_name(model.dtype)
    duplicates = {n for n in names if names.count(n) > 1 or n == plain}
    if duplicates:
        raise ConfigError(
            f"{where}.variants: duplicate variant name(s) {sorted(duplicates)}; "
            f"the plain pipeline is already '{plain}', give each variant a distinct `name`"
        )
    return model


def parse_thresholds(table: Any, where: str) -> Thresholds:
    expect(table, dict, where, "a table")
    check_keys(table, allowed_fields(Thresholds), where)
    values: dict[str, Any] = {}
    for key, value in table.items():
        here = f"{where}.{key}"
        if key in ("control", "fail_unconfirmed"):
            values[key] = expect(value, bool, here, "true or false")
        elif key == "memory_abs_tolerance_mib":
            values[key] = finite(value, here, "a finite number of MiB ≥ 0")
            if values[key] < 0:
                raise ConfigError(f"{here} must be ≥ 0, got {value!r}")
        else:
            values[key] = fraction(value, here, 0.0, 1.0, low_included=key == "drift")
    return Thresholds(**values)


_SCALARS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "device": (str, "'auto', 'cpu' or 'cuda[:N]'"),
    "cpu_allocator": (str, "'default' or 'fresh-pages'"),
    "cpu_huge_pages": (bool, "true or false"),
    "tf32": (bool, "true or false"),
    "deterministic": (bool, "true or false"),
    "interleave": (bool, "true or false"),
    "remeasure": (bool, "true or false"),
    "baselines": (str, "a directory path"),
    "results": (str, "a file path"),
    "clip_model": (str, "a local CLIP directory or a hub id in the local cache"),
    "inception_weights": (str, "the path of torch-fidelity's Inception weights"),
}
_COUNTS = {
    "threads": 1, "warmup": 0, "rounds": 1, "calls_per_round": 1, "remeasure_runs": 1,
    "remeasure_rounds": 1, "remeasure_calls": 1, "remeasure_references": 0,
    "history": 1, "reference_max_side": 8, "reference_max_frames": 2, "model_timeout": 0,
}


def parse_config(table: Any, where: str = "tool.vidbench") -> VidbenchConfig:
    """Validate the `[tool.vidbench]` table. Raises ConfigError naming the bad key."""
    expect(table, dict, where, "a table")
    check_keys(table, allowed_fields(VidbenchConfig), where)
    values: dict[str, Any] = {}
    for key, value in table.items():
        here = f"{where}.{key}"
        if key == "models":
            expect(value, list, here, "a list of model names or tables")
            values[key] = tuple(parse_model(m, f"{here}[{i}]") for i, m in enumerate(value))
            names = [m.name for m in values[key]]
            if len(set(names)) != len(names):
                raise ConfigError(f"{here}: duplicate model names in {names}")
            check_file_names([(m.name, v.resolved_name(m.dtype)) for m in values[key]
                              for v in (VariantConfig(), *m.variants)], here)
        elif key in ("metrics", "prompts"):
            values[key] = str_list(value, here)
        elif key == "seeds":
            expect(value, list, here, "a list of integers")
            values[key] = tuple(positive_int(v, here, 0, MAX_SEED) for v in value)
        elif key == "thresholds":
            values[key] = parse_thresholds(value, f"{where}.thresholds")
        elif key in _COUNTS:
            values[key] = positive_int(value, here, minimum=_COUNTS[key])
        else:
            types, what = _SCALARS[key]
            values[key] = expect(value, types, here, what)
    config = VidbenchConfig(**values)
    validate_device(config.device, f"{where}.device")
    validate_cpu_allocator(config.cpu_allocator, f"{where}.cpu_allocator")
    return config


def load_pyproject_config(path: Path | None) -> VidbenchConfig:
    """Read `[tool.vidbench]` from a pyproject.toml; a missing file or table gives the defaults."""
    if path is None or not Path(path).is_file():
        return VidbenchConfig()
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    except RecursionError:
        raise ConfigError(f"{path} is not valid TOML: nested too deeply") from None
    except OSError as error:
        raise ConfigError(f"{path} cannot be read: {error}") from None
    tool = document.get("tool")
    if tool is not None and not isinstance(tool, dict):
        raise ConfigError(f"{path}: `tool` must be a table ([tool.vidbench]), got {tool!r}")
    table = (tool or {}).get("vidbench")
    if table is None:
        return VidbenchConfig()
    try:
        return parse_config(table)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
