"""Every file the project reads: a bad one gives one error line (file, field, fix), never a
traceback, and no byte of it changes. Hypothesis throws bytes and JSON at every loader."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_vidbench.config import ConfigError, load_pyproject_config
from pytest_vidbench.records import ResultRecord
from pytest_vidbench.store.baselines import BaselineError, BaselineStore
from pytest_vidbench.store.references import ReferenceFileError, load_references
from pytest_vidbench.store.results import ResultsFileError, load_results, results_document
from pytest_vidbench.store.schema import InputError, is_number, parse_json

ENV = {"device_kind": "cpu", "device_name": "cpu", "torch": "2.13.0", "git_commit": "a" * 40}
SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def good_results() -> dict[str, Any]:
    records = [ResultRecord(test_id="t::a", model="m", variant="fp32", metric="peak-memory",
                            kind="memory", unit="B", value=100.0, samples=[100.0]),
               ResultRecord(test_id="t::b", model="m", variant="fp32", metric="latency",
                            kind="latency", unit="s", value=1.0, samples=[1.0, 1.1])]
    return results_document(records, ENV, {})


def good_baseline() -> dict[str, Any]:
    return {"schema_version": 1, "environment_key": "k", "environment": {}, "tests": {
        "m[fp32]::peak-memory": {"model": "m", "variant": "fp32", "metric": "peak-memory",
                                 "kind": "memory", "unit": "B", "direction": "lower",
                                 "history": [{"value": 100, "date": "d"}], "samples": [100]}}}


def load_results_file(path: Path) -> None:
    load_results(path)


def load_baseline_file(path: Path) -> None:
    BaselineStore(path.parent, path.stem).load()


def load_config_file(path: Path) -> None:
    load_pyproject_config(path)


def load_reference_file(path: Path) -> None:
    load_references(path)


LOADERS: dict[str, tuple[Callable[[Path], None], type[InputError], str]] = {
    "results": (load_results_file, ResultsFileError, "--vidbench-json"),
    "baseline": (load_baseline_file, BaselineError, "--vidbench-update-baselines"),
    "config": (load_config_file, ConfigError, ""),
    "reference": (load_reference_file, ReferenceFileError, "--vidbench-update-baselines"),
}
FILE_NAMES = {"results": "r.json", "baseline": "k.json", "config": "pyproject.toml",
              "reference": "ref.npz"}

# (name, which loader, file text, a phrase the error must contain: the field or problem)
DEEP = "[" * 100_000 + "]" * 100_000
BAD_TEXTS: list[tuple[str, str, str, str]] = [
    ("deep nesting", "results", DEEP, "nested deeper"),
    ("deep nesting", "baseline", DEEP, "nested deeper"),
    ("deep object", "results", '{"a":' * 50_000 + "1" + "}" * 50_000, "nested deeper"),
    ("400-digit integer", "results",
     json.dumps(good_results()).replace('"value": 100.0', '"value": ' + "9" * 400),
     "400 digits"),
    ("400-digit integer", "baseline",
     json.dumps(good_baseline()).replace('"value": 100', '"value": ' + "9" * 400), "400 digits"),
    ("5000-digit integer", "results", '{"schema_version": ' + "1" * 5000 + "}", "5000 digits"),
    ("5000-digit integer", "baseline", "[" + "7" * 5000 + "]", "5000 digits"),
    ("duplicate key", "results",
     json.dumps(good_results())[:-1] + ', "results": []}', "'results' appears twice"),
    ("duplicate key", "baseline",
     json.dumps(good_baseline())[:-1] + ', "tests": {}}', "'tests' appears twice"),
    ("negative memory", "results",
     json.dumps(good_results()).replace('"value": 100.0', '"value": -5.0'),
     "memory value must be ≥ 0"),
    ("negative memory sample", "results",
     json.dumps(good_results()).replace('"samples": [100.0]', '"samples": [-1.0]'),
     "memory samples must be ≥ 0"),
    ("negative memory", "baseline",
     json.dumps(good_baseline()).replace('"value": 100', '"value": -1'),
     "memory value must be ≥ 0"),
    ("negative memory sample", "baseline",
     json.dumps(good_baseline()).replace('"samples": [100]', '"samples": [-1]'), "samples"),
    ("NaN literal", "results",
     json.dumps(good_results()).replace('"value": 100.0', '"value": NaN'), "NaN"),
    ("Infinity literal", "baseline",
     json.dumps(good_baseline()).replace('"value": 100', '"value": Infinity'), "Infinity"),
    ("-Infinity literal", "results",
     json.dumps(good_results()).replace('"value": 1.0', '"value": -Infinity'), "-Infinity"),
    ("overflowing float", "results",
     json.dumps(good_results()).replace('"value": 1.0', '"value": 1e400'), "overflows"),
    ("string verdict number", "results", json.dumps(good_results()).replace(
        '"verdict": null', '"verdict": {"status": "new", "baseline": "x"}', 1),
     "verdict.baseline"),
    ("bad utf-8", "results", "\udcff", "cannot be read"),
    ("path traversal", "baseline", json.dumps({**good_baseline(), "references": {
        "m[fp32]": "../../etc/passwd.npz"}}), "references"),
    ("tool is a number", "config", "tool = 1\n", "`tool` must be a table"),
    ("vidbench is a number", "config", "[tool]\nvidbench = 3\n", "tool.vidbench must be"),
    ("nan tolerance", "config", "[tool.vidbench.thresholds]\nmemory_abs_tolerance_mib = nan\n",
     "memory_abs_tolerance_mib"),
    ("deep TOML", "config", "x = " + "[" * 5000 + "]" * 5000 + "\n", "TOML"),
    ("not a zip", "reference", "PK\x03\x04 not really", "cannot be read"),
]


def _write(path: Path, text: str) -> bytes:
    data = text.encode("utf-8", errors="surrogateescape")
    path.write_bytes(data)
    return data


@pytest.mark.parametrize(("name", "which", "text", "phrase"), BAD_TEXTS,
                         ids=[f"{w}-{n}" for n, w, _, _ in BAD_TEXTS])
def test_bad_input_is_one_line_naming_file_field_and_fix(
        tmp_path: Path, name: str, which: str, text: str, phrase: str) -> None:
    loader, error_type, fix = LOADERS[which]
    path = tmp_path / FILE_NAMES[which]
    data = _write(path, text)
    with pytest.raises(error_type) as caught:
        loader(path)
    message = str(caught.value)
    assert isinstance(caught.value, InputError)
    assert str(path) in message and phrase in message, message
    assert fix in message and "\n" not in message and len(message) < 2000
    assert path.read_bytes() == data  # the loader never writes


def test_good_files_still_load(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text(json.dumps(good_results()))
    records, env, _ = load_results(tmp_path / "r.json")
    assert [r.value for r in records] == [100.0, 1.0] and env == ENV
    (tmp_path / "k.json").write_text(json.dumps(good_baseline()))
    assert BaselineStore(tmp_path, "k").load().tests["m[fp32]::peak-memory"].samples == [100.0]


def test_parse_json_bounds() -> None:
    assert parse_json("[" * 60 + "]" * 60) is not None  # real documents are far shallower
    assert parse_json("12345678901234567890") == 12345678901234567890
    for text in ("1" * 21, "[" * 65 + "]" * 65, "NaN", '{"a": 1, "a": 2}', "1e999"):
        with pytest.raises(InputError):
            parse_json(text)
    assert not is_number(10**400) and not is_number(True) and is_number(-1)


# -- fuzzing ------------------------------------------------------------------------

json_leaves = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
               | st.text(max_size=8) | st.sampled_from([10**400, -(10**30), 1e308]))
json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                           max_leaves=30)
KEYS = ["schema_version", "results", "environment", "run", "environment_key", "tests",
        "references", "model", "variant", "metric", "kind", "unit", "value", "samples",
        "history", "verdict", "status", "details", "stages", "test_id", "date", "n"]
shaped = st.recursive(json_leaves | st.sampled_from(["memory", "latency", "ok", "s", "d"]),
                      lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(KEYS), inner, max_size=6),
                      max_leaves=40)


def _text(document: Any) -> str:
    return json.dumps(document)


def _mutations(doc: str) -> st.SearchStrategy[str]:
    """A good document with one slice replaced: hits the checks deep inside."""
    return st.tuples(st.integers(0, len(doc)), st.integers(0, 12),
                     st.sampled_from(["-", "NaN", "9" * 30, "[", "{", '"', ",", "null", "1e400",
                                      "[" * 3000, '"a":1,"a":2'])).map(
        lambda t: doc[:t[0]] + t[2] + doc[t[0] + t[1]:])


texts = st.one_of(
    st.binary(max_size=200).map(lambda b: b.decode("utf-8", errors="surrogateescape")),
    json_values.map(_text), shaped.map(_text),
    st.integers(1, 20_000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 6000).map(lambda n: "9" * n),
    _mutations(_text(good_results())), _mutations(_text(good_baseline())),
)
FUZZED: dict[str, int] = {}


def fuzz_one(tmp_path: Path, which: str, text: str) -> None:
    loader, error_type, _ = LOADERS[which]
    path = tmp_path / FILE_NAMES[which]
    data = _write(path, text)
    FUZZED[which] = FUZZED.get(which, 0) + 1
    try:
        loader(path)
    except error_type as error:
        assert str(path) in str(error) and "\n" not in str(error)
    assert path.read_bytes() == data


@SETTINGS
@given(text=texts)
def test_fuzz_results_loader(tmp_path: Path, text: str) -> None:
    fuzz_one(tmp_path, "results", text)


@SETTINGS
@given(text=texts)
def test_fuzz_baseline_loader(tmp_path: Path, text: str) -> None:
    fuzz_one(tmp_path, "baseline", text)


toml_texts = st.one_of(
    st.binary(max_size=200).map(lambda b: b.decode("utf-8", errors="surrogateescape")),
    st.sampled_from(["tool = 1", "[tool]\nvidbench = 3", "[tool.vidbench]\nrounds = nan",
                     "[tool.vidbench]\nseeds = [" + "9" * 400 + "]",
                     "[tool.vidbench]\nmodels = [{name = 'a', variants = [{name = 'x y'}]}]",
                     "[[tool.vidbench.models]]\nname = 'm'\ngeneration = {guidance_scale = inf}",
                     "[tool.vidbench.thresholds]\nalpha = nan"]),
    st.lists(st.sampled_from(["[tool.vidbench]", "[tool.vidbench.thresholds]", "rounds = 3",
                              "alpha = -inf", "tool = 'x'", "models = ['a', 'a']",
                              "history = 0", "device = 'tpu'", "x = [[[[1]]]]", "= =",
                              "seeds = [1.5]", "memory_abs_tolerance_mib = nan"]),
             max_size=6).map("\n".join),
)


@SETTINGS
@given(text=toml_texts)
def test_fuzz_config_loader(tmp_path: Path, text: str) -> None:
    fuzz_one(tmp_path, "config", text)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400))
def test_fuzz_reference_loader(tmp_path: Path, data: bytes) -> None:
    fuzz_one(tmp_path, "reference", data.decode("utf-8", errors="surrogateescape"))


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> Any:
    yield
    if FUZZED:  # visible with -s: how many inputs each loader saw
        print(f"\nfuzzed inputs per loader: {FUZZED}; fixed bad inputs: {len(BAD_TEXTS)}")


def test_reference_zip_bomb_is_refused(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("clip_0.npy", b"\0" * (65 * 1024 * 1024))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ReferenceFileError, match="bytes unpacked"):
        load_references(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
