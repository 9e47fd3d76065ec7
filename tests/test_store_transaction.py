"""Baseline updates: locked read-modify-write, JSON and reference clips switched as one set,
pinned references, refused duplicates and colliding file names."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest
import torch

from pytest_vidbench.records import ResultRecord
from pytest_vidbench.store import transaction
from pytest_vidbench.store.baselines import BaselineStore
from pytest_vidbench.store.schema import DuplicateKeyError, InputError
from pytest_vidbench.store.transaction import update_baselines as update

ENV = {"device_kind": "cpu", "device_name": "cpu", "torch": "2.13.0", "git_commit": "c" * 40}


def record(value: float, model: str = "m", variant: str = "fp32", metric: str = "latency",
           test_id: str = "t::a") -> ResultRecord:
    return ResultRecord(test_id=test_id, model=model, variant=variant, metric=metric,
                        kind="latency", unit="s", value=value, samples=[value])


def clip(seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {"p0/s0": torch.rand(4, 3, 16, 16, generator=generator)}


def _append_many(directory: str, n: int, start: float) -> None:
    store = BaselineStore(Path(directory), "k")
    for i in range(n):
        update(store, [record(start + i)], ENV, history_limit=1000, prune=False)


def test_concurrent_updates_lose_no_history_entry(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")  # real, separate processes
    workers = [context.Process(target=_append_many, args=(str(tmp_path), 15, 100.0 * w + 1))
               for w in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    history = BaselineStore(tmp_path, "k").load().tests["m[fp32]::latency"].history
    assert len(history) == 45
    assert sorted(h.value for h in history) == sorted(
        100.0 * w + 1 + i for w in range(3) for i in range(15))
    assert not (tmp_path / ".lock").exists() and transaction.lock_path(tmp_path).parent == \
        tmp_path.parent.absolute()  # the lock lies beside baselines/, never inside it


def test_duplicate_record_keys_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path, "k")
    with pytest.raises(DuplicateKeyError, match=r"m\[fp32\]::latency by t::a, t::b") as error:
        update(store, [record(1.0), record(2.0, test_id="t::b")], ENV, 10, False)
    assert "distinct models=/metrics=" in str(error.value)
    assert not store.path.exists()


def test_colliding_reference_file_names_are_refused(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path, "k")
    records = [record(1.0, model="a__b", variant="c"), record(1.0, model="a", variant="b__c")]
    with pytest.raises(InputError, match=r"a\[b__c\] and a__b\[c\] would share .*a__b__c\.npz"):
        update(store, records, ENV, 10, False)
    assert not store.path.exists()


def _reference_index(store: BaselineStore) -> dict[str, str]:
    return json.loads(store.path.read_text()).get("references", {})


def test_references_are_versioned_pinned_and_reblessed(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path, "k")
    outcome = update(store, [record(1.0)], ENV, 10, False, references={("m", "fp32"): clip(1)})
    assert outcome.written == ["m[fp32]"]
    first = _reference_index(store)["m[fp32]"]
    assert first.startswith("references/m__fp32.") and (store.frames_dir / first).is_file()
    # A second update keeps the pinned clips, whatever this run generated.
    outcome = update(store, [record(2.0)], ENV, 10, False, references={("m", "fp32"): clip(2)})
    assert outcome.pinned == ["m[fp32]"] and _reference_index(store)["m[fp32]"] == first
    # Re-blessing replaces them, and the replaced file goes.
    outcome = update(store, [record(3.0)], ENV, 10, False, references={("m", "fp32"): clip(3)},
                           rebless=True)
    second = _reference_index(store)["m[fp32]"]
    assert outcome.written == ["m[fp32]"] and second != first
    assert sorted(p.name for p in (store.frames_dir / "references").iterdir()) == [
        Path(second).name]
    loaded = store.load_references(store.load(), "m", "fp32")
    assert list(loaded) == ["p0/s0"]


def test_a_pinned_legacy_file_is_named_in_the_json(tmp_path: Path) -> None:
    from pytest_vidbench.store.references import reference_path, save_references

    store = BaselineStore(tmp_path, "k")
    legacy = reference_path(store.frames_dir, "m", "fp32")
    save_references(legacy, clip(1))
    update(store, [record(1.0)], ENV, 10, False, references={("m", "fp32"): clip(2)})
    assert _reference_index(store) == {"m[fp32]": "references/m__fp32.npz"}
    assert legacy.is_file()


def _snapshot(store: BaselineStore) -> tuple[float, dict[str, int]]:
    baseline = store.load()
    clips = store.load_references(baseline, "m", "fp32")
    return baseline.tests["m[fp32]::latency"].history[-1].value, {
        label: int(c.frames.sum()) for label, c in clips.items()}


@pytest.mark.parametrize("crash_at", [1, 2, 3])
def test_a_crash_at_any_rename_leaves_the_old_or_the_new_set(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_at: int) -> None:
    """Renames: 1 the new clip file, 2 the JSON; 3 is the removal of the old clip file."""
    store = BaselineStore(tmp_path, "k")
    update(store, [record(1.0)], ENV, 10, False, references={("m", "fp32"): clip(1)})
    old = _snapshot(store)
    update(store, [record(2.0)], ENV, 10, False, references={("m", "fp32"): clip(2)},
                 rebless=True)
    new = _snapshot(store)
    update(store, [record(1.0)], ENV, 10, False, references={("m", "fp32"): clip(1)},
                 rebless=True)
    assert _snapshot(store) == old and old != new
    real_replace, real_unlink, calls = os.replace, Path.unlink, []

    def replace(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == crash_at:
            raise OSError("power cut")
        real_replace(src, dst)

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if crash_at == 3 and self.suffix == ".npz":
            raise OSError("power cut")
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(Path, "unlink", unlink)
    with pytest.raises(OSError, match="power cut"):
        update(store, [record(2.0)], ENV, 10, False, references={("m", "fp32"): clip(2)},
                     rebless=True)
    monkeypatch.undo()
    assert _snapshot(store) == (old if crash_at < 3 else new)
    # The next update cleans up whatever the crash left behind.
    update(store, [record(5.0)], ENV, 10, False)
    names = [p.name for p in (store.frames_dir / "references").iterdir()]
    assert names == [Path(_reference_index(store)["m[fp32]"]).name]
