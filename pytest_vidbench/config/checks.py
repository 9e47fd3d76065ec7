"""The small checks behind config.py: each raises ConfigError naming the key and the fix."""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

from pytest_vidbench.store.schema import InputError, is_number

DTYPES = ("float32", "bfloat16", "float16")
MAX_COUNT = 2**31 - 1  # sizes, steps, rounds: beyond this a typo, never a workload
MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed's range
VARIANT_NAME = re.compile(r"[A-Za-z0-9._+-]+")
_UNSAFE_FILE = re.compile(r"[^A-Za-z0-9._-]+")


class ConfigError(InputError):
    """A bad key or value in [tool.vidbench] (or on the command line)."""


def file_stem(model: str, variant: str) -> str:
    """The file name a (model, variant) gets on disk, e.g. reference clips: wan-tiny__fp32."""

    def safe(part: str) -> str:
        return _UNSAFE_FILE.sub("_", part).strip("._") or "_"

    return f"{safe(model)}__{safe(variant)}"


def allowed_fields(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def check_keys(table: dict[str, Any], allowed: list[str] | tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(
                f"unknown key {where}.{key}; allowed keys: {', '.join(sorted(allowed))}"
            )


def expect(value: Any, types: type | tuple[type, ...], where: str, what: str) -> Any:
    # bool is an int in Python; refuse it where a number is meant.
    numeric = types in (int, float, (int, float))
    if not isinstance(value, types) or (numeric and isinstance(value, bool)):
        raise ConfigError(f"{where} must be {what}, got {value!r}")
    return value


def positive_int(value: Any, where: str, minimum: int = 1, maximum: int = MAX_COUNT) -> int:
    expect(value, int, where, f"an integer ≥ {minimum}")
    if value < minimum:
        raise ConfigError(f"{where} must be an integer ≥ {minimum}, got {value!r}")
    if value > maximum:
        shown = value if len(str(value)) <= 30 else f"an integer of {len(str(value))} digits"
        raise ConfigError(f"{where} must be an integer ≤ {maximum}, got {shown}")
    return int(value)


def finite(value: Any, where: str, what: str) -> float:
    # TOML has nan and inf literals; either would silently switch a comparison off.
    if not is_number(value):
        raise ConfigError(f"{where} must be {what}, got {value!r}")
    return float(value)


def fraction(value: Any, where: str, low: float = 0.0, high: float = 1.0,
             low_included: bool = False) -> float:
    span = f"{'[' if low_included else '('}{low}, {high})"
    expect(value, (int, float), where, f"a number in {span}")
    x = float(value)
    if not ((low <= x) if low_included else (low < x)) or not x < high:
        raise ConfigError(f"{where} must be a number in {span}, got {value!r}")
    return x


def check_dtype(value: Any, where: str) -> str:
    if value not in DTYPES:
        raise ConfigError(f"{where} must be one of {', '.join(DTYPES)}, got {value!r}")
    return str(value)


def str_list(value: Any, where: str) -> tuple[str, ...]:
    expect(value, list, where, "a list of strings")
    for item in value:
        expect(item, str, where, "a list of strings")
    return tuple(value)


def check_variant_name(name: str, where: str) -> None:
    if not VARIANT_NAME.fullmatch(name):
        raise ConfigError(f"{where} {name!r} may use only letters, digits and . _ + -; "
                          "rename it (it becomes part of result keys and file names)")


def check_file_names(pairs: list[tuple[str, str]], where: str) -> None:
    """Refuse two (model, variant) pairs that would share one file on disk."""
    seen: dict[str, str] = {}
    for model, variant in pairs:
        stem, pair = file_stem(model, variant), f"{model}[{variant}]"
        if stem in seen and seen[stem] != pair:
            raise ConfigError(f"{where}: {seen[stem]} and {pair} would share the reference file "
                              f"{stem}.npz; rename a model or a variant so they differ")
        seen[stem] = pair


def validate_device(device: str, where: str) -> str:
    if device in ("auto", "cpu", "cuda"):
        return device
    if device.startswith("cuda:") and device[5:].isdigit():
        return device
    raise ConfigError(f"{where} must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")


CPU_ALLOCATORS = ("default", "fresh-pages")  # applied by measure/cpu_allocator.py


def validate_cpu_allocator(setting: str, where: str) -> str:
    if setting not in CPU_ALLOCATORS:
        raise ConfigError(f"{where} must be one of {', '.join(map(repr, CPU_ALLOCATORS))}, "
                          f"got {setting!r}")
    return setting
