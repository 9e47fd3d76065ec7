"""Reference clips on disk: one compressed `.npz` per (model, variant) under baselines/<key>/.

Each file holds one uint8 clip per (prompt index, seed), labelled "p<i>/s<seed>". Layout
(format 1), chosen so labels need no key sanitising:
    format_version  int64 scalar
    labels          unicode array, labels[i] is clip i's label
    clip_<i>        uint8 TxCxHxW, the reduced clip
    source_<i>      int64 [T, H, W] of the clip it was reduced from
The baseline JSON names each file (`references`), versioned by content hash, so the JSON
and its clips change as one set (store/transaction.py). Files of older baselines have the
unversioned name `reference_path` gives.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pytest_vidbench.config import file_stem
from pytest_vidbench.quality import errors as quality_errors
from pytest_vidbench.quality.frames import check_frames, reduced_size
from pytest_vidbench.quality.reference import (
    ReferenceClip,
    ReferenceConfig,
    _plan,
    make_reference_clip,
)
from pytest_vidbench.store.atomic import write_bytes_atomic
from pytest_vidbench.store.schema import InputError

if TYPE_CHECKING:
    import torch

FORMAT_VERSION = 1
MAX_UNPACKED_BYTES = 64 * 1024 * 1024  # 300x the default budget: more is a zip bomb


class ReferenceFileError(InputError, quality_errors.ReferenceFileError):
    """A reference clip file that cannot be read back (still the quality package's error,
    which the quality fixture turns into an errored test)."""

    def __init__(self, path: str | Path, problem: str) -> None:
        quality_errors.ReferenceFileError.__init__(self, path, problem)


def encode_references(
    clips: Mapping[str, torch.Tensor], config: ReferenceConfig | None = None
) -> tuple[bytes, dict[str, ReferenceClip]]:
    """Reduce `clips` (label → full clip) to fit the budget: the file's bytes, the clips."""
    config = config or ReferenceConfig()
    if not clips:
        raise ValueError("no reference clips to save")
    for label in clips:
        # numpy string arrays drop trailing NULs, so such a label would not round-trip.
        if not isinstance(label, str) or not label or "\x00" in label:
            raise ValueError(f"labels must be non-empty strings without NUL, got {label!r}")
    checked = {label: check_frames(c, name=f"clip {label!r}") for label, c in clips.items()}
    shapes = [(c.shape[0], c.shape[2], c.shape[3]) for c in checked.values()]
    side, n = _plan(shapes, config)
    stored = {
        label: make_reference_clip(label, c, max_side=side, max_frames=n)
        for label, c in checked.items()
    }
    arrays: dict[str, np.ndarray] = {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "labels": np.array(list(stored), dtype=np.str_),
    }
    for i, clip in enumerate(stored.values()):
        arrays[f"clip_{i}"] = clip.frames
        arrays[f"source_{i}"] = np.array([clip.source_frames, *clip.source_size], dtype=np.int64)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue(), stored


def save_references(
    path: str | Path,
    clips: Mapping[str, torch.Tensor],
    config: ReferenceConfig | None = None,
) -> dict[str, ReferenceClip]:
    """Reduce `clips` and write them atomically (temp file, fsync, rename). Returns them."""
    data, stored = encode_references(clips, config)
    write_bytes_atomic(Path(path), data)
    return stored


def _read(path: Path) -> dict[str, np.ndarray]:
    try:
        with open(path, "rb") as handle:  # FileNotFoundError, IsADirectoryError, ... first
            is_zip = zipfile.is_zipfile(handle)
        if not is_zip:
            raise ValueError("not an .npz archive (a bare .npy array, or no archive at all)")
        with zipfile.ZipFile(path) as archive:  # sizes from the directory, before inflating
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_UNPACKED_BYTES:
            raise ValueError(f"{unpacked} bytes unpacked, over {MAX_UNPACKED_BYTES}")
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive (a bare .npy array)")
        with data:
            return {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise
    except Exception as exc:  # any parse failure of untrusted bytes is the same user problem
        raise ReferenceFileError(path, f"cannot be read ({type(exc).__name__}: {exc})") from None


def load_references(path: str | Path) -> dict[str, ReferenceClip]:
    """Read a reference file; raises FileNotFoundError if absent, ReferenceFileError if bad."""
    path = Path(path)
    arrays = _read(path)

    def fail(problem: str) -> ReferenceFileError:
        return ReferenceFileError(path, problem)

    version = arrays.get("format_version")
    if version is None or version.shape != () or version.dtype.kind not in "iu":
        raise fail("no integer format_version")
    if int(version) != FORMAT_VERSION:
        raise fail(f"format version {int(version)}, expected {FORMAT_VERSION}")
    labels = arrays.get("labels")
    if labels is None or labels.ndim != 1 or labels.dtype.kind != "U":
        raise fail("no 1-D string array of labels")
    if len(set(labels.tolist())) != len(labels):
        raise fail("duplicate labels")
    clips: dict[str, ReferenceClip] = {}
    for i, label in enumerate(labels.tolist()):
        frames, source = arrays.get(f"clip_{i}"), arrays.get(f"source_{i}")
        if frames is None or source is None:
            raise fail(f"clip {label!r} (index {i}) is missing its arrays")
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1] != 3:
            raise fail(
                f"clip {label!r} is {frames.dtype} {frames.shape}, expected uint8 Tx3xHxW"
            )
        if min(frames.shape) < 1:
            raise fail(f"clip {label!r} is empty {frames.shape}")
        if source.dtype.kind not in "iu" or source.shape != (3,):
            raise fail(f"clip {label!r} has a bad source shape record {source!r}")
        st, sh, sw = (int(v) for v in source)
        t, _, h, w = frames.shape
        if min(st, sh, sw) < 1 or st < t or (h, w) != reduced_size(sh, sw, max(h, w)):
            raise fail(f"clip {label!r} ({t}x{h}x{w}) cannot come from a {st}x{sh}x{sw} clip")
        clips[label] = ReferenceClip(label, frames, st, (sh, sw))
    return clips


def reference_path(directory: str | Path, model: str, variant: str) -> Path:
    """The unversioned file of older baselines, e.g. references/wan-tiny__fp32.npz."""
    return Path(directory) / "references" / f"{file_stem(model, variant)}.npz"


def reference_key(model: str, variant: str) -> str:
    return f"{model}[{variant}]"


class ReferenceStore:
    """The reference files under baselines/<key>/, one per (model, variant).

    `index` is the baseline file's `references` map; a (model, variant) it does not name
    falls back to the unversioned file name.
    """

    def __init__(self, directory: str | Path, config: ReferenceConfig | None = None,
                 index: Mapping[str, str] | None = None) -> None:
        self.directory = Path(directory)
        self.config = config or ReferenceConfig()
        self.index = dict(index or {})

    def path(self, model: str, variant: str) -> Path:
        named = self.index.get(reference_key(model, variant))
        return self.directory / named if named else reference_path(self.directory, model,
                                                                   variant)

    def save(
        self, model: str, variant: str, clips: Mapping[str, torch.Tensor]
    ) -> dict[str, ReferenceClip]:
        return save_references(self.path(model, variant), clips, self.config)

    def load(self, model: str, variant: str) -> dict[str, ReferenceClip] | None:
        """The stored clips, or None when this (model, variant) has no reference file yet."""
        try:
            return load_references(self.path(model, variant))
        except FileNotFoundError:
            return None
