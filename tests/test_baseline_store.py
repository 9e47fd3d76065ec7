"""Baseline files: strict loading, git-friendly and atomic writing, history handling."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_vidbench.records import ResultRecord
from pytest_vidbench.store.baselines import BaselineError, BaselineStore, parse_baseline


def record(value: float, metric: str = "latency") -> ResultRecord:
    return ResultRecord(test_id="t", model="m", variant="fp32", metric=metric, kind="latency",
                        unit="s", value=value, samples=[value, value * 1.01])


ENV = {"device_kind": "cpu", "device_name": "cpu", "torch": "2.13.0", "git_commit": "abc" * 8}


def test_history_appends_and_keeps_the_last_k(tmp_path: Path):
    store = BaselineStore(tmp_path, "cpu-x-torch2.13")
    current = None
    for value in (1.0, 2.0, 3.0):
        current = store.updated(current, [record(value)], ENV, history_limit=2, prune=False,
                                control=[0.02])
        store.write(current)
        current = store.load()
    entry = current.tests["m[fp32]::latency"]
    assert [h.value for h in entry.history] == [2.0, 3.0]
    assert entry.history[-1].normalized == pytest.approx(150.0)
    assert entry.samples == [3.0, 3.0 * 1.01] and entry.control == [0.02]


def test_the_file_is_stable_sorted_and_ends_with_a_newline(tmp_path: Path):
    store = BaselineStore(tmp_path, "k")
    baseline = store.updated(None, [record(1.0), record(2.0, "latency2")], ENV, 10, False)
    store.write(baseline)
    first = store.path.read_bytes()
    store.write(store.load())  # a round trip changes nothing
    assert store.path.read_bytes() == first
    assert first.endswith(b"}\n")
    document = json.loads(first)
    assert list(document) == sorted(document)


def test_a_crash_while_writing_leaves_the_old_file(tmp_path: Path, monkeypatch):
    store = BaselineStore(tmp_path, "k")
    store.write(store.updated(None, [record(1.0)], ENV, 10, False))
    before = store.path.read_bytes()

    def crash(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.write(store.updated(store.load(), [record(5.0)], ENV, 10, False))
    assert store.path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["k.json"]  # no temp file left behind


def test_a_new_file_gets_the_umask_mode_and_a_rewrite_keeps_its_mode(tmp_path: Path):
    # Baselines are committed: a 0600 file from mkstemp would be unreadable to teammates.
    store = BaselineStore(tmp_path, "k")
    old = os.umask(0o022)
    try:
        store.write(store.updated(None, [record(1.0)], ENV, 10, False))
    finally:
        os.umask(old)
    assert store.path.stat().st_mode & 0o777 == 0o644
    store.path.chmod(0o664)
    store.write(store.updated(store.load(), [record(2.0)], ENV, 10, False))
    assert store.path.stat().st_mode & 0o777 == 0o664


def test_errors_name_the_file_and_the_fix(tmp_path: Path):
    path = tmp_path / "k.json"
    with pytest.raises(BaselineError, match=rf"{path}: has schema_version 7.*--vidbench-update"):
        parse_baseline('{"schema_version": 7}', path)
    with pytest.raises(BaselineError, match="history\\[0\\] needs a numeric `value`"):
        parse_baseline(json.dumps({
            "schema_version": 1, "environment_key": "k", "environment": {},
            "tests": {"a": {"model": "m", "variant": "v", "metric": "latency",
                            "kind": "latency", "unit": "s", "direction": "lower",
                            "history": [{"value": "fast", "date": "d"}]}}}), path)


def test_a_file_named_for_another_environment_is_refused(tmp_path: Path):
    BaselineStore(tmp_path, "a").write(BaselineStore(tmp_path, "a").updated(
        None, [record(1.0)], ENV, 10, False))
    (tmp_path / "a.json").rename(tmp_path / "b.json")
    with pytest.raises(BaselineError, match="says environment_key 'a' but is named for 'b'"):
        BaselineStore(tmp_path, "b").load()
    assert BaselineStore(tmp_path, "c").other_environments() == ["b"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=3),
    max_leaves=20,
)
test_entries = st.fixed_dictionaries(
    {}, optional={"model": json_values, "variant": st.just("v"), "metric": st.just("m"),
                  "kind": st.sampled_from(["latency", "memory", "x"]), "unit": st.just("s"),
                  "direction": st.sampled_from(["lower", "higher", 3]), "history": json_values,
                  "samples": json_values, "control": json_values, "stages": json_values,
                  "sample_labels": json_values, "anchor": json_values,
                  "anchor_label": json_values})


@given(st.one_of(json_values, st.fixed_dictionaries({
    "schema_version": st.sampled_from([1, 2, "1"]), "environment_key": json_values,
    "environment": json_values, "tests": st.dictionaries(st.text(max_size=4), test_entries,
                                                         max_size=2)})))
def test_any_document_loads_or_raises_baseline_error(document):
    try:
        baseline = parse_baseline(json.dumps(document), Path("x.json"))
    except BaselineError as error:
        assert "x.json" in str(error)
    else:
        for entry in baseline.tests.values():
            assert all(isinstance(h.value, float) for h in [*entry.history, *entry.anchor])
            assert entry.anchor_label is None or isinstance(entry.anchor_label, str)


@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_crash_the_loader(data):
    with contextlib.suppress(BaselineError):
        parse_baseline(data.decode("utf-8", errors="replace"), Path("x.json"))
