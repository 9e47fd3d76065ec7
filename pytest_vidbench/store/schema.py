"""One validation layer for every file the project reads: bounded JSON and shared checks.

Every loader raises a subclass of `InputError`, with one line that names the file, the
field and the fix. The plugin turns it into a usage error (exit 4), `vidbench` into exit 2.
Hand-written rather than pydantic: the plugin loads on every `pytest` run, and pydantic
alone would add ~55 ms to an import of ~130 ms (measured, see docs/exit-codes.md).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MAX_DEPTH = 64  # the deepest real document (results: details.remeasured.runs[i]) is 5
MAX_INT_DIGITS = 20  # 2**64 has 20 digits; byte counts and seeds fit
_SAFE_PATH = re.compile(r"references/[A-Za-z0-9._-]+\.npz")


class InputError(ValueError):
    """A file or setting the user gave that cannot be used; the message says how to fix it."""


class DuplicateKeyError(InputError):
    """Two results with one identity (model[variant]::metric) where only one may exist."""


class _Refused(Exception):
    """Raised from inside json.loads' hooks; turned into the caller's own InputError."""


def _parse_int(digits: str) -> int:
    # int() of a 5,000-digit string raises ValueError (not a JSONDecodeError), and
    # math.isfinite of a 400-digit int raises OverflowError: refuse both up front.
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {len(digits.lstrip('-'))} digits (at most "
                       f"{MAX_INT_DIGITS} are allowed)")
    return int(digits)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses to inf
        raise _Refused(f"the number {text[:24]}{'…' if len(text) > 24 else ''} overflows")
    return value


def _parse_constant(name: str) -> float:
    raise _Refused(f"{name} is not a number JSON allows (write a finite number or null)")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:  # json.loads would silently keep the last one
            raise _Refused(f"the key {key[:60]!r} appears twice in one object (keep one)")
        out[key] = value
    return out


def _depth_ok(document: Any) -> bool:
    stack = [(document, 1)]
    while stack:  # iterative: a recursive walk would fail where json.loads just succeeded
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        children = value.values() if isinstance(value, dict) else value \
            if isinstance(value, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return True


def parse_json(text: str) -> Any:
    """Strict, bounded JSON. Raises InputError with the problem (the caller adds the file)."""
    try:
        document = json.loads(text, parse_int=_parse_int, parse_float=_parse_float,
                              parse_constant=_parse_constant, object_pairs_hook=_pairs)
    except _Refused as error:
        raise InputError(f"is not accepted: {error}") from None
    except RecursionError:
        raise InputError(f"is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:  # JSONDecodeError, and whatever else the parser refuses
        raise InputError(f"is not valid JSON ({error})") from None
    if not _depth_ok(document):
        raise InputError(f"is nested deeper than {MAX_DEPTH} levels")
    return document


def read_text(path: Path) -> str:
    """The file as UTF-8 text. Raises FileNotFoundError, else InputError (bad bytes, I/O)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot be read ({error})") from None


# -- the small checks every loader shares ---------------------------------------------


def is_number(value: Any) -> bool:
    """A finite real number; bool is an int in Python but never a measurement."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float (only from Python, not from JSON)
        return False


def is_positive(value: Any) -> bool:
    return is_number(value) and value > 0


def is_non_negative(value: Any) -> bool:
    return is_number(value) and value >= 0


def numbers(value: Any, minimum: float | None = None, strict: bool = False) -> bool:
    """A list of finite numbers, each ≥ `minimum` (> with `strict`) when given."""
    if not isinstance(value, list) or not all(is_number(v) for v in value):
        return False
    if minimum is None:
        return True
    return all(v > minimum if strict else v >= minimum for v in value)


def kind_floor(kind: str) -> tuple[float | None, bool]:
    """(minimum, strict) of a kind's values: times and energies > 0, memory ≥ 0."""
    if kind in ("latency", "energy"):
        return 0.0, True
    if kind == "memory":
        return 0.0, False
    return None, False


def range_text(kind: str) -> str:
    minimum, strict = kind_floor(kind)
    return "any finite number" if minimum is None else f"{'>' if strict else '≥'} 0"


def in_range(value: Any, kind: str) -> bool:
    minimum, strict = kind_floor(kind)
    return is_number(value) and (minimum is None or (value > minimum if strict
                                                     else value >= minimum))


def is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def is_reference_path(value: Any) -> bool:
    """A clip file inside the environment's directory: no '..', no absolute path."""
    return isinstance(value, str) and _SAFE_PATH.fullmatch(value) is not None \
        and ".." not in value


def duplicates(keys: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    twice: set[str] = set()
    for key in keys:
        (twice if key in seen else seen).add(key)
    return sorted(twice)
