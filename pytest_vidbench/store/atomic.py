"""Atomic file writes: a reader never sees half a file, and a crash never truncates one."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any


def _target_mode(path: Path) -> int:
    # mkstemp creates 0600; keep the replaced file's mode, else what open() would give.
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write to a temp file in the same directory, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _target_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename or unlink in `directory` durable: without it a power cut can undo it."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # a platform that cannot open directories (Windows): nothing to sync
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on directories; the rename still holds
        pass
    finally:
        os.close(fd)


def _json_safe(value: Any) -> Any:
    # JSON has no NaN/Infinity; a non-finite number becomes null rather than invalid JSON.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def dumps_stable(document: Any) -> str:
    """Git-friendly JSON: sorted keys, two-space indent, trailing newline, repr-exact floats."""
    return json.dumps(_json_safe(document), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json_atomic(path: Path, document: Any) -> None:
    write_bytes_atomic(Path(path), dumps_stable(document).encode("utf-8"))
