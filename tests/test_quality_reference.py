"""Reference clips on disk: round trips, the size budget, atomic writes, corrupt files."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pytest_vidbench.quality import (
    ReferenceBudgetError,
    ReferenceConfig,
    ReferenceFileError,
    downscale,
    temporal_indices,
)
from pytest_vidbench.quality.frames import from_uint8
from pytest_vidbench.store.references import (
    ReferenceStore,
    load_references,
    reference_path,
    save_references,
)

HYPO = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

uint8_clips = hnp.arrays(
    np.uint8,
    st.tuples(st.integers(1, 5), st.just(3), st.integers(1, 12), st.integers(1, 12)),
)
labels = st.text(st.characters(blacklist_characters="\x00"), min_size=1, max_size=12)


def random_clip(t: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(t, 3, h, w, generator=torch.Generator().manual_seed(seed))


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def valid_arrays() -> dict[str, np.ndarray]:
    return {
        "format_version": np.array(1, dtype=np.int64),
        "labels": np.array(["p0/s0"]),
        "clip_0": np.zeros((2, 3, 4, 4), np.uint8),
        "source_0": np.array([2, 4, 4], dtype=np.int64),
    }


# ------------------------------------------------------------------------- round trips


@HYPO
@given(clips=st.dictionaries(labels, uint8_clips, min_size=1, max_size=4))
def test_round_trip_of_small_clips(tmp_path: Path, clips: dict[str, np.ndarray]) -> None:
    path = tmp_path / "ref.npz"
    save_references(path, {k: from_uint8(v) for k, v in clips.items()})
    loaded = load_references(path)
    assert list(loaded) == list(clips)  # labels kept exactly, in order
    for label, array in clips.items():
        clip = loaded[label]
        assert clip.label == label
        assert np.array_equal(clip.frames, array)  # small clips are stored unreduced
        assert clip.source_frames == array.shape[0]
        assert clip.source_size == array.shape[2:]


def test_store_paths_and_missing_files(tmp_path: Path) -> None:
    store = ReferenceStore(tmp_path)
    assert store.path("wan-tiny", "fp32") == tmp_path / "references" / "wan-tiny__fp32.npz"
    assert reference_path(tmp_path, "a/b c", "../x").name == "a_b_c__x.npz"
    assert store.load("wan-tiny", "fp32") is None
    with pytest.raises(FileNotFoundError):
        load_references(store.path("wan-tiny", "fp32"))
    store.save("wan-tiny", "fp32", {"p0/s0": random_clip(9, 32, 32)})
    assert list(store.load("wan-tiny", "fp32") or {}) == ["p0/s0"]


def test_reduction_keeps_first_and_last_frames(tmp_path: Path) -> None:
    clip = random_clip(16, 128, 96)
    stored = save_references(tmp_path / "r.npz", {"p0/s0": clip})["p0/s0"]
    assert stored.frames.shape == (8, 3, 64, 48)
    assert stored.indices == [0, 2, 4, 6, 9, 11, 13, 15]
    expected = downscale(clip[stored.indices], 64)
    assert torch.equal(stored.as_tensor(), (expected * 255).round() / 255)


@given(n=st.integers(1, 200), m=st.integers(1, 50))
def test_temporal_indices(n: int, m: int) -> None:
    idx = temporal_indices(n, m)
    assert len(idx) == min(n, m)
    assert idx == sorted(set(idx)) and idx[0] == 0
    assert idx[-1] == (n - 1 if m > 1 or n == 1 else 0)


def test_downscale_keeps_aspect_and_never_upscales() -> None:
    assert downscale(random_clip(2, 90, 160), 64).shape == (2, 3, 36, 64)
    assert downscale(random_clip(2, 20, 30), 64).shape == (2, 3, 20, 30)
    small = downscale(random_clip(2, 256, 256), 64)
    assert small.shape == (2, 3, 64, 64) and small.min() >= 0 and small.max() <= 1


# -------------------------------------------------------------------------- the budget


def test_many_clips_fit_the_default_budget(tmp_path: Path) -> None:
    # Noise does not compress: the raw-byte bound alone keeps the file under budget.
    clips = {f"p{i}/s0": random_clip(16, 128, 128, seed=i) for i in range(3)}
    stored = save_references(tmp_path / "r.npz", clips)
    budget = ReferenceConfig().budget_bytes
    assert (tmp_path / "r.npz").stat().st_size <= budget
    assert {c.frames.shape for c in stored.values()} == {(5, 3, 64, 64)}  # frames gave way
    assert sum(c.frames.nbytes for c in stored.values()) > 0.9 * budget  # budget used


def test_resolution_gives_way_after_frames(tmp_path: Path) -> None:
    clips = {f"p{i}/s0": random_clip(4, 64, 64, seed=i) for i in range(12)}
    stored = save_references(tmp_path / "r.npz", clips)
    t, _, h, _ = next(iter(stored.values())).frames.shape
    assert t == ReferenceConfig().min_frames and 24 <= h < 64
    assert (tmp_path / "r.npz").stat().st_size <= ReferenceConfig().budget_bytes


def test_over_budget_raises(tmp_path: Path) -> None:
    config = ReferenceConfig(budget_bytes=5_000)
    with pytest.raises(ReferenceBudgetError, match="fewer prompts"):
        save_references(tmp_path / "r.npz", {"a": random_clip(4, 64, 64)}, config)
    assert not any(tmp_path.iterdir())


def test_configurable_size(tmp_path: Path) -> None:
    config = ReferenceConfig(max_side=32, max_frames=3)
    stored = save_references(tmp_path / "r.npz", {"a": random_clip(9, 64, 48)}, config)
    assert stored["a"].frames.shape == (3, 3, 32, 24)
    with pytest.raises(ValueError, match="inconsistent"):
        ReferenceConfig(max_side=16, min_side=24)


# ------------------------------------------------------------------------ atomic write


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "refs" / "m__v.npz"
    save_references(path, {"a": random_clip(3, 16, 16, seed=1)})
    before = path.read_bytes()
    with pytest.raises(ValueError, match="NaN"):
        save_references(path, {"a": torch.full((3, 3, 16, 16), float("nan"))})
    with pytest.raises(ValueError, match="NUL"):
        save_references(path, {"a\x00": random_clip(3, 16, 16)})
    assert path.read_bytes() == before  # a failed save leaves the old file alone
    save_references(path, {"b": random_clip(3, 16, 16, seed=2)})
    assert list(load_references(path)) == ["b"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["m__v.npz"]


# ---------------------------------------------------------------------- corrupt files


def assert_helpful(error: ReferenceFileError, path: Path) -> None:
    text = str(error)
    assert str(path) in text
    assert "--vidbench-update-baselines" in text and "delete it" in text


@HYPO
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes_raise_the_dedicated_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "junk.npz"
    path.write_bytes(data)
    with pytest.raises(ReferenceFileError) as info:
        load_references(path)
    assert_helpful(info.value, path)


@pytest.fixture(scope="module")
def good_file_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("good") / "ref.npz"
    save_references(path, {"p0/s0": random_clip(4, 16, 16), "p0/s1": random_clip(4, 16, 16, 1)})
    return path.read_bytes()


@HYPO
@given(data=st.data())
def test_truncated_or_flipped_files_never_crash(
    tmp_path: Path, good_file_bytes: bytes, data: st.DataObject
) -> None:
    raw = bytearray(good_file_bytes)
    if data.draw(st.booleans(), label="truncate"):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1), label="cut")]
        expect_error = True
    else:
        pos = data.draw(st.integers(0, len(raw) - 1), label="pos")
        raw[pos] ^= data.draw(st.integers(1, 255), label="mask")
        expect_error = False  # a flip in slack bytes may be harmless
    path = tmp_path / "ref.npz"
    path.write_bytes(bytes(raw))
    try:
        clips = load_references(path)
    except ReferenceFileError as error:
        assert_helpful(error, path)
    else:
        assert not expect_error
        assert all(c.frames.dtype == np.uint8 and c.frames.ndim == 4 for c in clips.values())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"clip_0": np.zeros((2, 3, 4, 4), np.float32)}, "float32"),
        ({"clip_0": np.zeros((2, 3, 4, 4), np.int16)}, "int16"),
        ({"clip_0": np.zeros((2, 4, 4, 3), np.uint8)}, "T.3.H.W"),
        ({"clip_0": np.zeros((3, 4, 4), np.uint8)}, "T.3.H.W"),
        ({"clip_0": np.zeros((0, 3, 4, 4), np.uint8)}, "empty"),
        ({"source_0": np.array([1, 4, 4])}, "cannot come from"),
        ({"source_0": np.array([2, 4, 9])}, "cannot come from"),
        ({"source_0": np.array([2.0, 4.0, 4.0])}, "source shape"),
        ({"format_version": np.array(2)}, "format version 2"),
        ({"format_version": np.array("1")}, "format_version"),
        ({"labels": np.array([0])}, "labels"),
        ({"labels": np.array(["a", "a"])}, "duplicate"),
        ({"labels": np.array(["a", "b"])}, "missing its arrays"),
        ({"labels": np.array([{"a": 1}], dtype=object)}, "cannot be read"),
    ],
)
def test_wrong_contents_raise_the_dedicated_error(
    tmp_path: Path, changes: dict[str, np.ndarray], message: str
) -> None:
    path = write_npz(tmp_path / "ref.npz", **{**valid_arrays(), **changes})
    with pytest.raises(ReferenceFileError, match=message) as info:
        load_references(path)
    assert_helpful(info.value, path)


def test_missing_keys_and_bare_npy(tmp_path: Path) -> None:
    arrays = valid_arrays()
    del arrays["format_version"]
    with pytest.raises(ReferenceFileError, match="format_version"):
        load_references(write_npz(tmp_path / "a.npz", **arrays))
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((2, 3, 4, 4), np.uint8))
    (tmp_path / "b.npz").write_bytes(buffer.getvalue())
    with pytest.raises(ReferenceFileError, match=r"bare \.npy"):
        load_references(tmp_path / "b.npz")
    assert load_references(write_npz(tmp_path / "c.npz", **valid_arrays()))["p0/s0"].size == (4, 4)


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "ref.npz"
    path.mkdir()  # a directory where the file should be
    with pytest.raises(ReferenceFileError, match=str(path)):
        load_references(path)
    assert os.path.isdir(path)


def test_storage_lives_in_the_store_and_either_import_order_works() -> None:
    import subprocess
    import sys

    import pytest_vidbench.quality as quality
    import pytest_vidbench.quality.reference as clip_maths
    from pytest_vidbench.store import references
    from pytest_vidbench.store.schema import InputError

    # The clip maths know nothing of files: storage is the store's (no import circle).
    assert "def save_references" not in Path(clip_maths.__file__).read_text()
    for name in ("ReferenceStore", "load_references", "reference_path", "save_references"):
        assert callable(getattr(references, name))
        assert not hasattr(quality, name) and not hasattr(clip_maths, name)
    # A corrupt file is both errors: a usage error for the plugin, an errored test for the
    # quality fixture, which catches the quality package's class.
    assert issubclass(references.ReferenceFileError, InputError)
    assert issubclass(references.ReferenceFileError, ReferenceFileError)
    # Either import order works (the store imports the quality package).
    for first in ("pytest_vidbench.store.references", "pytest_vidbench.quality"):
        code = (f"import {first}; import pytest_vidbench.quality; "
                "from pytest_vidbench.store.references import ReferenceStore")
        subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
