"""[tool.vidbench] parsing: every bad key or value is a ConfigError that names it."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_vidbench.config import (
    ConfigError,
    VariantConfig,
    load_pyproject_config,
    parse_config,
)

GOOD = """
[tool.vidbench]
metrics = ["latency", "psnr"]
device = "cuda:1"
threads = 2
rounds = 6
prompts = ["a cat"]
seeds = [1, 2]

[tool.vidbench.thresholds]
latency_min_effect = 0.05
memory_abs_tolerance_mib = 64

[[tool.vidbench.models]]
name = "wan-14b"
source = "Wan-AI/Wan2.1-T2V-14B-Diffusers"
pipeline = "WanPipeline"
dtype = "bfloat16"
generation = { height = 480, width = 832, num_frames = 33, num_inference_steps = 30 }
variants = [{ compile = true }, { name = "sage", attention_backend = "sage" }]
"""


def test_a_full_config_parses(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text(GOOD)
    config = load_pyproject_config(tmp_path / "pyproject.toml")
    assert config.device == "cuda:1" and config.rounds == 6 and config.seeds == (1, 2)
    assert config.thresholds.latency_min_effect == 0.05
    (model,) = config.models
    assert model.source == "Wan-AI/Wan2.1-T2V-14B-Diffusers" and model.dtype == "bfloat16"
    assert model.generation["num_frames"] == 33
    assert [v.resolved_name("bfloat16") for v in model.variants] == ["bf16-compile", "sage"]


def test_a_missing_file_or_table_gives_defaults(tmp_path: Path):
    assert load_pyproject_config(tmp_path / "nope.toml").rounds == 10
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert load_pyproject_config(tmp_path / "pyproject.toml").models == ()


@pytest.mark.parametrize(("table", "message"), [
    ({"roundz": 3}, "unknown key tool.vidbench.roundz; allowed keys: *"),
    ({"rounds": 0}, "tool.vidbench.rounds must be an integer ≥ 1, got 0"),
    ({"rounds": True}, "tool.vidbench.rounds must be an integer ≥ 1, got True"),
    ({"device": "tpu"}, "tool.vidbench.device must be 'auto', 'cpu', 'cuda' or 'cuda:N'*"),
    ({"models": [{"name": "x", "dtype": "int8"}]},
     "tool.vidbench.models[[]0[]].dtype must be one of float32, bfloat16, float16*"),
    ({"models": [{"name": "x", "variants": [{"compiled": True}]}]},
     "unknown key tool.vidbench.models[[]0[]].variants[[]0[]].compiled; allowed keys: *compile*"),
    ({"models": [{"name": "x", "variants": [{"dtype": "float32"}]}]},
     "*duplicate variant name(s) [[]'fp32'[]]*"),
    ({"models": [{"name": "x", "generation": {"frames": 9}}]},
     "unknown key tool.vidbench.models[[]0[]].generation.frames; allowed keys: *num_frames*"),
    ({"thresholds": {"alpha": 2}},
     "tool.vidbench.thresholds.alpha must be a number in (0.0, 1.0)*"),
    ({"models": ["a", "a"]}, "*duplicate model names*"),
])
def test_bad_input_names_the_key_and_the_allowed_values(table, message):
    with pytest.raises(ConfigError) as error:
        parse_config(table)
    from fnmatch import fnmatch

    assert fnmatch(str(error.value), message), str(error.value)


def test_invalid_toml_names_the_file(tmp_path: Path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.vidbench\n")
    with pytest.raises(ConfigError, match=f"{path} is not valid TOML"):
        load_pyproject_config(path)


def test_variant_names_default_to_what_they_change():
    assert VariantConfig().resolved_name("float32") == "fp32"
    offloaded = VariantConfig(dtype="float16", cpu_offload=True)
    assert offloaded.resolved_name("float32") == "fp16-offload"
    assert VariantConfig(attention_backend="_native_math").resolved_name("bfloat16") == \
        "bf16-native-math"


toml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 50) | st.floats(-1, 2) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=12,
)
keys = st.sampled_from(["models", "metrics", "device", "threads", "warmup", "rounds", "seeds",
                        "prompts", "thresholds", "history", "tf32", "interleave", "bogus"])


@given(st.dictionaries(keys, toml_values, max_size=5))
def test_any_table_parses_or_raises_config_error(table):
    with contextlib.suppress(ConfigError):
        parse_config(table)


@given(st.lists(st.dictionaries(st.sampled_from(
    ["name", "source", "dtype", "generation", "variants", "pipeline", "x"]), toml_values,
    max_size=4), max_size=3))
def test_any_models_list_parses_or_raises_config_error(models):
    with contextlib.suppress(ConfigError):
        parse_config({"models": models})


@pytest.mark.parametrize(("text", "message"), [
    ("tool = 1\n", "`tool` must be a table"),
    ('tool = "x"\n', "`tool` must be a table"),
    ("[tool]\nvidbench = 3\n", "tool.vidbench must be a table, got 3"),
    ("[tool.vidbench.thresholds]\nmemory_abs_tolerance_mib = nan\n",
     "tool.vidbench.thresholds.memory_abs_tolerance_mib must be a finite number"),
    ("[tool.vidbench.thresholds]\nmemory_rel_tolerance = nan\n",
     "tool.vidbench.thresholds.memory_rel_tolerance must be a number in"),
    ("[tool.vidbench.thresholds]\nmemory_abs_tolerance_mib = inf\n", "must be a finite number"),
    ("[[tool.vidbench.models]]\nname = 'm'\ngeneration = {guidance_scale = nan}\n",
     "tool.vidbench.models[0].generation.guidance_scale must be a finite number, got nan"),
    ("[[tool.vidbench.models]]\nname = 'm'\ngeneration = {guidance_scale = -inf}\n",
     "guidance_scale must be a finite number, got -inf"),
    ("[tool.vidbench]\nseeds = [" + "9" * 400 + "]\n", "an integer of 400 digits"),
    ("[tool.vidbench]\nrounds = 99999999999\n", "tool.vidbench.rounds must be an integer ≤"),
])
def test_bad_pyproject_is_a_config_error_naming_the_key(tmp_path: Path, text: str,
                                                        message: str) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_pyproject_config(path)
    assert str(path) in str(error.value) and message in str(error.value), str(error.value)


@pytest.mark.parametrize("name", ["a b", "x/y", "fp32[1]", "a:b", "../up", "é", "a\nb"])
def test_variant_names_use_safe_characters(name: str) -> None:
    with pytest.raises(ConfigError, match=r"variants\[0\]\.name .* letters, digits and \. _ \+ -"):
        parse_config({"models": [{"name": "m", "variants": [{"name": name}]}]})


def test_an_attention_backend_cannot_smuggle_a_bad_variant_name() -> None:
    with pytest.raises(ConfigError, match=r"variants\[0\] resolves to the name 'fp32-a/b'"):
        parse_config({"models": [{"name": "m", "variants": [{"attention_backend": "a/b"}]}]})


def test_safe_variant_names_pass() -> None:
    config = parse_config({"models": [{"name": "m", "variants": [
        {"name": "fp16+sdpa", "dtype": "float16"}, {"name": "v1.2_x-y", "compile": True}]}]})
    assert [v.name for v in config.models[0].variants] == ["fp16+sdpa", "v1.2_x-y"]


def test_pairs_sharing_a_file_name_are_refused() -> None:
    # a__b / c and a / b__c both become a__b__c.npz: one would overwrite the other's clips.
    with pytest.raises(ConfigError, match=r"a__b\[c\] and a\[b__c\] would share the reference "
                                          r"file a__b__c\.npz; rename"):
        parse_config({"models": [{"name": "a__b", "variants": [{"name": "c"}]},
                                 {"name": "a", "variants": [{"name": "b__c"}]}]})
    with pytest.raises(ConfigError, match="would share"):  # '+' is sanitised to '_' too
        parse_config({"models": [{"name": "m", "variants": [{"name": "x+y"}, {"name": "x_y"}]}]})


def test_config_error_is_an_input_error() -> None:
    from pytest_vidbench.store.schema import InputError

    assert issubclass(ConfigError, InputError) and issubclass(ConfigError, ValueError)


def test_the_documented_configuration_parses_with_the_defaults_it_states():
    import tomllib

    from pytest_vidbench.config import Thresholds, VidbenchConfig

    doc = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()
    block = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    config = parse_config(tomllib.loads(block)["tool"]["vidbench"])
    defaults, limits = VidbenchConfig(), Thresholds()
    for name in ("cpu_allocator", "remeasure_runs", "remeasure_rounds", "remeasure_calls",
                 "remeasure_references", "rounds", "calls_per_round", "warmup", "history"):
        assert getattr(config, name) == getattr(defaults, name), name
    for name in ("alpha", "fdr", "noise_floor", "drift", "memory_rel_tolerance"):
        assert getattr(config.thresholds, name) == getattr(limits, name), name
