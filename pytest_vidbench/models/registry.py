"""The model registry: built-in tiny pipelines, checkpoints named in config, and generators
that users register from their conftest.py through the `pytest_vidbench_models` hook."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal

from pytest_vidbench.config import ConfigError, ModelConfig, VariantConfig, parse_model
from pytest_vidbench.models.spec import BuiltinModel, FrameGenerator, GenerationSpec

Origin = Literal["builtin", "pretrained", "generator"]


@dataclass(frozen=True)
class ModelEntry:
    """A model ready to benchmark: where it comes from, what to generate, which variants."""

    name: str
    origin: Origin
    source: str  # built-in name, hub id or local path, or the generator's qualified name
    family: str
    spec: GenerationSpec
    dtype: str = "float32"
    pipeline_class: str | None = None
    revision: str | None = None
    variants: tuple[VariantConfig, ...] = ()  # besides the plain pipeline
    build: Callable[[int], Any] | None = None  # built-ins: seed -> pipeline
    generator: FrameGenerator | None = None  # custom generators

    @property
    def all_variants(self) -> tuple[VariantConfig, ...]:
        """The plain pipeline first, then the configured optimisations."""
        return (VariantConfig(), *self.variants)

    def variant(self, name: str) -> VariantConfig:
        for variant in self.all_variants:
            if variant.resolved_name(self.dtype) == name:
                return variant
        raise KeyError(name)

    @property
    def variant_names(self) -> list[str]:
        return [v.resolved_name(self.dtype) for v in self.all_variants]


def _builtin_entry(model: BuiltinModel) -> ModelEntry:
    return ModelEntry(
        name=model.name, origin="builtin", source=model.name, family=model.family,
        spec=model.spec, pipeline_class=model.pipeline_class, build=model.build,
    )


class ModelRegistry:
    """Name -> ModelEntry. Users extend it from conftest.py:

    def pytest_vidbench_models(registry):
        registry.add_generator("my-model", generate, spec=GenerationSpec(num_frames=8))
    """

    def __init__(self, entries: Iterable[ModelEntry] = ()) -> None:
        self._entries: dict[str, ModelEntry] = {}
        for entry in entries:
            self._add(entry)

    @classmethod
    def with_builtins(cls) -> ModelRegistry:
        from pytest_vidbench.models.zoo import BUILTIN_MODELS

        return cls(_builtin_entry(model) for model in BUILTIN_MODELS.values())

    def _add(self, entry: ModelEntry) -> ModelEntry:
        if entry.name in self._entries:
            raise ConfigError(f"model {entry.name!r} is registered twice; choose another name")
        self._entries[entry.name] = entry
        return entry

    def add_generator(
        self,
        name: str,
        generator: FrameGenerator,
        spec: GenerationSpec | None = None,
        family: str = "custom",
    ) -> ModelEntry:
        """Register any callable `(prompt, seed) -> T×C×H×W float tensor in [0, 1]`."""
        if not callable(generator):
            raise TypeError(f"generator for model {name!r} must be callable, got {generator!r}")
        qualname = getattr(generator, "__qualname__", type(generator).__name__)
        module = getattr(generator, "__module__", "?")
        return self._add(ModelEntry(
            name=name, origin="generator", source=f"{module}.{qualname}", family=family,
            spec=spec or GenerationSpec(), generator=generator,
        ))

    def add_pretrained(self, name: str, source: str, **options: Any) -> ModelEntry:
        """Register a hub id or local checkpoint directory (options as in [tool.vidbench])."""
        model = parse_model({"name": name, "source": source, **options}, f"model {name!r}")
        return self._add(self.resolve(model))

    def get(self, name: str) -> ModelEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        known = ", ".join(sorted(self._entries)) or "none"
        return (
            f"unknown model {name!r}; known models: {known}. Add it to [tool.vidbench] models "
            "with a `source` (hub id or local path), or register it with the "
            "pytest_vidbench_models hook in conftest.py"
        )

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(self._entries.values())

    def names(self) -> list[str]:
        return list(self._entries)

    def resolve(self, model: ModelConfig) -> ModelEntry:
        """Turn a [tool.vidbench] model entry into a ModelEntry (ConfigError if unknown)."""
        overrides = dict(model.generation)  # validated by config.parse_model
        base_name = model.source if model.source in self._entries else None
        if model.source is None:
            if model.name not in self._entries:
                raise ConfigError(self.unknown_message(model.name))
            base_name = model.name
        if base_name is not None:
            base = self._entries[base_name]
            return replace(
                base, name=model.name, dtype=model.dtype,
                spec=base.spec.with_overrides(**overrides),
                variants=model.variants or base.variants,
            )
        return ModelEntry(
            name=model.name, origin="pretrained", source=str(model.source),
            family=model.pipeline or "checkpoint",
            spec=GenerationSpec().with_overrides(**overrides),
            dtype=model.dtype, pipeline_class=model.pipeline, revision=model.revision,
            variants=model.variants,
        )


def apply_global_overrides(
    entry: ModelEntry, prompts: tuple[str, ...], seeds: tuple[int, ...]
) -> ModelEntry:
    """[tool.vidbench] prompts/seeds replace every model's own."""
    overrides: dict[str, Any] = {}
    if prompts:
        overrides["prompts"] = prompts
    if seeds:
        overrides["seeds"] = seeds
    return replace(entry, spec=entry.spec.with_overrides(**overrides)) if overrides else entry
