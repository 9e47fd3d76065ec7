"""Formatting shared by every renderer: values per unit, changes, bounds, verdict labels, text.

Everything here returns plain text. Escaping for Markdown or HTML is the renderer's job; the
`clean_text` helper only removes what no output should carry (control and format characters,
line breaks) so that every renderer starts from the same single-line string.
"""

from __future__ import annotations

import math
import unicodedata

from pytest_vidbench.records import ResultRecord, Verdict

MISSING = "—"  # shown for any value that does not exist (no baseline, no verdict, value None)
EN_DASH = "\u2013"  # for ranges; written as an escape because ruff flags the literal
TIMES = "\u00d7"  # the multiplication sign, same reason

# Display statuses: the seven verdicts plus two for records that have no verdict.
DISPLAY_ORDER: tuple[str, ...] = (
    "regression", "suspicious", "error", "improvement", "new", "incomparable", "unchanged",
    "skipped", "none",
)
# Order of the counts sentence ("2 regressions, 1 suspicious, 14 unchanged, ...").
COUNT_ORDER: tuple[str, ...] = (
    "regression", "suspicious", "unchanged", "improvement", "new", "incomparable", "error",
    "skipped", "none",
)
ICONS: dict[str, str] = {
    "regression": "🔴",
    "suspicious": "🟡",
    "unchanged": "✅",
    "improvement": "🟢",
    "new": "🆕",
    "incomparable": "⚪",
    "error": "❌",
    "skipped": "⏭️",
    "none": MISSING,
}
# (singular, plural) nouns for the counts sentence.
_NOUNS: dict[str, tuple[str, str]] = {
    "regression": ("regression", "regressions"),
    "suspicious": ("suspicious", "suspicious"),
    "unchanged": ("unchanged", "unchanged"),
    "improvement": ("improvement", "improvements"),
    "new": ("new", "new"),
    "incomparable": ("incomparable", "incomparable"),
    "error": ("error", "errors"),
    "skipped": ("skipped", "skipped"),
    "none": ("without verdict", "without verdict"),
}


def verdict_label(status: str, icon: bool = True) -> str:
    """'🔴 regression' (icon=True, for GitHub and HTML) or 'regression' (for terminals)."""
    if status == "none":
        return MISSING
    return f"{ICONS[status]} {status}" if icon else status


def count_phrase(status: str, n: int) -> str:
    singular, plural = _NOUNS[status]
    return f"{n} {singular if n == 1 else plural}"


def counts_sentence(counts: dict[str, int]) -> str:
    """'2 regressions, 1 suspicious, 14 unchanged': zero counts left out."""
    parts = [count_phrase(s, counts[s]) for s in COUNT_ORDER if counts.get(s)]
    return ", ".join(parts) if parts else "no results"


# ---------------------------------------------------------------- numbers


def significant(x: float, digits: int = 3) -> str:
    """`x` with `digits` significant figures, never in exponent notation.

    Values of 10**digits and above keep all their integer digits (1234 s, not 1230 s).
    """
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(x)))
    decimals = max(digits - 1 - magnitude, 0)
    rounded = round(x, decimals)
    # 9.996 rounds up to 10.00: one decimal fewer keeps three figures.
    if rounded != 0 and math.floor(math.log10(abs(rounded))) > magnitude and decimals > 0:
        decimals -= 1
    text = f"{x:.{decimals}f}"
    return "0" if text in ("-0", "-0.0") else text


_PLAIN_QUALITY_UNITS = {"score", "", "x", "ratio"}  # shown as bare numbers


def unit_scale(unit: str, magnitude: float) -> tuple[float, str]:
    """(divisor, suffix) that shows values near `magnitude` in `unit` readably."""
    m = abs(magnitude) if math.isfinite(magnitude) else 0.0
    if unit == "s":
        if m >= 1 or m == 0:
            return 1.0, " s"
        if m >= 1e-3:
            return 1e-3, " ms"
        return 1e-6, " µs"
    if unit == "B":
        for power, suffix in ((4, " TiB"), (3, " GiB"), (2, " MiB"), (1, " KiB")):
            if m >= 1024**power:
                return float(1024**power), suffix
        return 1.0, " B"
    if unit == "J":
        if m >= 1e6:
            return 1e6, " MJ"
        if m >= 1e3:
            return 1e3, " kJ"
        if 0 < m < 1:
            return 1e-3, " mJ"
        return 1.0, " J"
    if unit in _PLAIN_QUALITY_UNITS:
        return 1.0, ""
    if unit == "%":
        return 1.0, "%"
    return 1.0, f" {unit}"


def format_value(value: float | None, unit: str) -> str:
    """'123 ms', '1.50 s', '3.25 GiB', '12.4 kJ', '31.2 dB', '0.873' (score)."""
    if value is None:
        return MISSING
    divisor, suffix = unit_scale(unit, value)
    return significant(value / divisor) + suffix


def format_range(low: float, high: float, unit: str) -> str:
    """'1.20<en dash>1.45 s': both ends on one scale, chosen from the larger end."""
    divisor, suffix = unit_scale(unit, max(abs(low), abs(high)))
    return f"{significant(low / divisor)}{EN_DASH}{significant(high / divisor)}{suffix}"


def format_change(pct: float | None) -> str:
    """'+12.3%', '-4.0%', '0.0%', '+250%'."""
    if pct is None or math.isnan(pct):
        return MISSING
    if abs(pct) < 0.05:
        return "0.0%"
    if abs(pct) >= 100:
        return f"{pct:+.0f}%"
    return f"{pct:+.1f}%"


def change_pct(verdict: Verdict | None, value: float | None) -> float | None:
    """The verdict's raw change, or one computed from its baseline when it has none."""
    if verdict is None:
        return None
    if verdict.change_pct is not None:
        return verdict.change_pct
    if verdict.baseline and value is not None:
        return (value / verdict.baseline - 1.0) * 100.0
    return None


def format_bound(record: ResultRecord, unit: str | None = None) -> str:
    """The bar the result was held to: the limit ('≤ 1.45 s') if any, else the interval.

    `unit` overrides the record's (rows pass it cleaned: a results file supplies it).
    """
    verdict = record.verdict
    unit = record.unit if unit is None else unit
    if verdict is None:
        return MISSING
    if verdict.limit is not None:
        sign = "≥" if record.direction == "higher" else "≤"
        return f"{sign} {format_value(verdict.limit, unit)}"
    if verdict.interval is not None:
        return format_range(verdict.interval[0], verdict.interval[1], unit)
    return MISSING


def format_duration(seconds: float) -> str:
    """'45.2 s', '12 min 30 s', '1 h 02 min'."""
    if seconds < 60:
        return f"{significant(seconds)} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def timing_sentence(wall: float | None, timed: float | None) -> str | None:
    """'12 min 30 s wall, 9 min 10 s timed generation (wall/timed 1.36x)', or None."""
    if wall is None and timed is None:
        return None
    parts = []
    if wall is not None:
        parts.append(f"{format_duration(wall)} wall")
    if timed is not None:
        parts.append(f"{format_duration(timed)} timed generation")
    text = ", ".join(parts)
    if wall is not None and timed:
        text += f" (wall/timed {wall / timed:.2f}{TIMES})"
    return text


# ---------------------------------------------------------------- text

_STAGE_NAMES = {
    "text_encoder": "text encoder",
    "denoise_step": "denoising step",
    "vae_decode": "VAE decode",
}
STAGE_ORDER: tuple[str, ...] = tuple(_STAGE_NAMES)


def stage_name(stage: str) -> str:
    return _STAGE_NAMES.get(stage, stage.replace("_", " "))


def clean_text(text: object, max_len: int | None = None) -> str:
    """One line of visible text: control/format characters dropped, whitespace collapsed.

    Format characters (Cf) include bidi overrides, which could make a name read backwards.
    """
    chars = []
    for ch in str(text):
        category = unicodedata.category(ch)
        if category == "Cc" or ch in "\u2028\u2029":
            chars.append(" ")
        elif category not in ("Cf", "Cs", "Co", "Cn"):
            chars.append(ch)
    line = " ".join("".join(chars).split())
    if max_len is not None:
        line = middle_ellipsis(line, max_len)
    return line


def char_width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Columns a terminal uses for `text` (wide East Asian characters count twice)."""
    return sum(char_width(ch) for ch in text)


def _take(text: str, width: int, from_end: bool = False) -> str:
    """The longest prefix (or suffix) of `text` that fits in `width` columns."""
    out: list[str] = []
    used = 0
    for ch in reversed(text) if from_end else text:
        w = char_width(ch)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(reversed(out)) if from_end else "".join(out)


def middle_ellipsis(text: str, width: int) -> str:
    """Shorten to `width` columns keeping both ends: model names differ at the end too."""
    if display_width(text) <= width:
        return text
    if width <= 1:
        return _take(text, width)
    head = (width - 1 + 1) // 2
    tail = width - 1 - head
    return _take(text, head) + "…" + (_take(text, tail, from_end=True) if tail else "")


def end_ellipsis(text: str, width: int) -> str:
    if display_width(text) <= width:
        return text
    return _take(text, max(width - 1, 0)) + "…" if width > 0 else ""


def pad(text: str, width: int, right: bool = False) -> str:
    """Pad to `width` columns (by display width, not len)."""
    gap = " " * max(width - display_width(text), 0)
    return gap + text if right else text + gap
