"""What a quality metric is (`QualityMetric`) and the set the plugin runs (`QualityRegistry`).

Users add their own metric through the plugin's hook, which hands them the registry:

    registry.add(QualityMetric(name="sharpness", fn=..., direction="higher", unit="score",
                               value_range=(0.0, 1.0), tolerance=0.02))
    registry.add_function(my_fn, direction="lower", unit="px", tolerance=0.5)
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from pytest_vidbench.quality.frames import check_frames

Direction = Literal["higher", "lower"]  # which way is better
# fn(frames, reference=None, prompt=None) -> float; frames TxCxHxW float in [0, 1]. The
# reference is a tensor or a `ReferenceClip` (fidelity metrics bring frames to its size).
MetricFn = Callable[..., float]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # names end up in record keys and file names
_RANGE_SLACK = 1e-6  # float32 SSIM of identical frames can land a hair above 1


@dataclass(frozen=True, kw_only=True)
class QualityMetric:
    """One quality metric with the thresholds the verdict engine applies to it.

    Verdict rules (see `worsening` / `below_floor`):
    - `tolerance`: a regression when the mean over (prompt, seed) pairs of the worsening
      versus the baseline's values exceeds it (in the metric's unit, ≥ 0). Used for metrics
      without a reference; for fidelity metrics the baseline's own values sit at the cap.
    - `floor`: for fidelity metrics against the baseline's reference frames, a value worse
      than the floor is a regression (None: no floor).
    """

    name: str
    fn: MetricFn
    direction: Direction
    unit: str  # "dB", "score", "px", ...
    value_range: tuple[float, float]  # inclusive; math.inf where unbounded
    tolerance: float
    # A fraction of the baseline's mean that caps `tolerance` (0: off), so a metric whose
    # baseline sits near 0 (a nearly static clip's motion) can still flag a freeze.
    relative_tolerance: float = 0.0
    floor: float | None = None
    needs_reference: bool = False
    needs_prompt: bool = False
    min_frames: int = 1  # 2 for temporal metrics
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(
                f"metric name {self.name!r} must start with a letter or digit and use only"
                " letters, digits, '.', '_' and '-'"
            )
        if not callable(self.fn):
            raise TypeError(f"metric {self.name!r}: fn must be callable, got {self.fn!r}")
        if self.direction not in ("higher", "lower"):
            raise ValueError(
                f"metric {self.name!r}: direction must be 'higher' or 'lower',"
                f" got {self.direction!r}"
            )
        low, high = (float(v) for v in self.value_range)
        if math.isnan(low) or math.isnan(high) or low > high:
            raise ValueError(f"metric {self.name!r}: bad value_range {self.value_range!r}")
        object.__setattr__(self, "value_range", (low, high))
        if not (math.isfinite(self.tolerance) and self.tolerance >= 0):
            raise ValueError(f"metric {self.name!r}: tolerance must be finite and ≥ 0")
        if self.floor is not None and not low <= self.floor <= high:
            raise ValueError(f"metric {self.name!r}: floor {self.floor} outside {self.value_range}")
        if self.min_frames < 1:
            raise ValueError(f"metric {self.name!r}: min_frames must be ≥ 1")

    def compute(
        self,
        frames: torch.Tensor,
        reference: Any = None,
        prompt: str | None = None,
    ) -> float:
        """Validate the inputs, run `fn`, and check its result is a finite float in range."""
        x = check_frames(frames, min_frames=self.min_frames)
        if self.needs_reference and reference is None:
            raise ValueError(f"metric {self.name!r} needs a reference clip, got none")
        if self.needs_prompt and not (isinstance(prompt, str) and prompt.strip()):
            raise ValueError(f"metric {self.name!r} needs a non-empty prompt, got {prompt!r}")
        raw = self.fn(x, reference=reference, prompt=prompt)
        value = float(raw.item() if isinstance(raw, torch.Tensor) else raw)
        if not math.isfinite(value):
            raise ValueError(f"metric {self.name!r} returned {value}; it must be finite")
        low, high = self.value_range
        if not low - _RANGE_SLACK <= value <= high + _RANGE_SLACK:
            raise ValueError(f"metric {self.name!r} returned {value}, outside {self.value_range}")
        return min(max(value, low), high)

    def worsening(self, current: float, baseline: float) -> float:
        """How much worse `current` is than `baseline`, in the unit (negative: better)."""
        return baseline - current if self.direction == "higher" else current - baseline

    def mean_paired_worsening(
        self, current: Sequence[float], baseline: Sequence[float]
    ) -> float:
        """Mean worsening over values paired by (prompt, seed), in the same order."""
        if len(current) != len(baseline) or not current:
            raise ValueError(
                f"need equally many paired values, got {len(current)} and {len(baseline)}"
            )
        pairs = zip(current, baseline, strict=True)
        return sum(self.worsening(c, b) for c, b in pairs) / len(current)

    def tolerance_for(self, baseline: Sequence[float]) -> float:
        """The absolute tolerance against these baseline values."""
        if not self.relative_tolerance or not baseline:
            return self.tolerance
        mean = abs(sum(baseline) / len(baseline))
        return min(self.tolerance, self.relative_tolerance * mean)

    def exceeds_tolerance(self, current: Sequence[float], baseline: Sequence[float]) -> bool:
        return self.mean_paired_worsening(current, baseline) > self.tolerance_for(baseline)

    def below_floor(self, value: float) -> bool:
        """True when a fidelity value is worse than the floor (never, without a floor)."""
        if self.floor is None:
            return False
        return value < self.floor if self.direction == "higher" else value > self.floor


def metric_from_function(
    fn: Callable[..., Any],
    *,
    direction: Direction,
    unit: str,
    name: str | None = None,
    value_range: tuple[float, float] = (-math.inf, math.inf),
    tolerance: float = 0.0,
    floor: float | None = None,
    needs_reference: bool | None = None,
    needs_prompt: bool | None = None,
    min_frames: int = 1,
    description: str | None = None,
) -> QualityMetric:
    """Wrap a plain function as a `QualityMetric`.

    `fn` may take just `frames`, or also `reference` and/or `prompt` (or **kwargs); only the
    arguments it accepts are passed. The name defaults to the function's name with '_' → '-';
    `needs_reference` / `needs_prompt` default to whether that parameter lacks a default.
    `tolerance` defaults to 0: any worsening of the mean is a regression - set it.
    """
    params = inspect.signature(fn).parameters
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    accepts = {k for k in ("reference", "prompt") if var_kw or k in params}

    def required(key: str) -> bool:
        p = params.get(key)
        return p is not None and p.default is inspect.Parameter.empty

    def call(frames: torch.Tensor, reference: Any = None, prompt: str | None = None) -> float:
        extra = {"reference": reference, "prompt": prompt}
        return fn(frames, **{k: v for k, v in extra.items() if k in accepts})

    return QualityMetric(
        name=name or getattr(fn, "__name__", "metric").replace("_", "-"),
        fn=call,
        direction=direction,
        unit=unit,
        value_range=value_range,
        tolerance=tolerance,
        floor=floor,
        needs_reference=required("reference") if needs_reference is None else needs_reference,
        needs_prompt=required("prompt") if needs_prompt is None else needs_prompt,
        min_frames=min_frames,
        description=description if description is not None else (inspect.getdoc(fn) or ""),
    )


class QualityRegistry:
    """An ordered set of quality metrics, by unique name."""

    def __init__(self, metrics: Iterable[QualityMetric] = ()) -> None:
        self._metrics: dict[str, QualityMetric] = {}
        for metric in metrics:
            self.add(metric)

    def add(self, metric: QualityMetric, *, replace: bool = False) -> QualityMetric:
        """Register a metric; a second one with the same name needs `replace=True`."""
        if not isinstance(metric, QualityMetric):
            raise TypeError(
                f"expected a QualityMetric, got {type(metric).__name__};"
                " wrap a plain function with registry.add_function(fn, direction=..., unit=...)"
            )
        if metric.name in self._metrics and not replace:
            raise ValueError(
                f"a quality metric named {metric.name!r} is already registered"
                " (pass replace=True to override it)"
            )
        self._metrics[metric.name] = metric
        return metric

    def add_function(
        self, fn: Callable[..., Any], *, direction: Direction, unit: str, **options: Any
    ) -> QualityMetric:
        """Register a plain function; options as for `metric_from_function`."""
        replace = bool(options.pop("replace", False))
        metric = metric_from_function(fn, direction=direction, unit=unit, **options)
        return self.add(metric, replace=replace)

    def get(self, name: str) -> QualityMetric:
        try:
            return self._metrics[name]
        except KeyError:
            known = ", ".join(self._metrics) or "none"
            raise KeyError(f"no quality metric named {name!r}; known metrics: {known}") from None

    __getitem__ = get

    def remove(self, name: str) -> QualityMetric:
        metric = self.get(name)
        del self._metrics[name]
        return metric

    def select(self, names: Iterable[str]) -> QualityRegistry:
        """A new registry holding only `names`, in that order (unknown names raise KeyError)."""
        return QualityRegistry(self.get(n) for n in names)

    @property
    def names(self) -> list[str]:
        return list(self._metrics)

    def __iter__(self) -> Iterator[QualityMetric]:
        return iter(list(self._metrics.values()))

    def __len__(self) -> int:
        return len(self._metrics)

    def __contains__(self, name: object) -> bool:
        return name in self._metrics

    def __repr__(self) -> str:
        return f"QualityRegistry({self.names})"
