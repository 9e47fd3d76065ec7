"""The C allocator setting of a run: `cpu_allocator = "fresh-pages"` (opt-in).

PyTorch's CPU tensors come straight from the C library's malloc. With glibc's default, a
model's activations land in heap chunks that the process's earlier allocations left behind,
so each process gives each model its own speed: the per-model, per-process offset that
bounds the gate's power on CPU (docs/noise.md point 7). "fresh-pages" sets glibc's mmap
threshold to 128 KiB (mallopt(3), M_MMAP_THRESHOLD), so every allocation that large gets
freshly mapped pages, the same in every process. docs/noise.md point 7 measures the effect
with the threshold set at process start (`calibrate.allocator`); this module sets it when
the run sets up its device, after the imports, which is what the fresh-pages series of
docs/calibration.md measures. The page faults are timed with the model, so runs take longer, and it
changes what is timed: it is part of the environment key, and baselines recorded with one
setting are never compared with the other.

CUDA tensors come from PyTorch's caching allocator, which this does not touch.
"""

from __future__ import annotations

import ctypes
import ctypes.util

from pytest_vidbench.config.checks import CPU_ALLOCATORS

M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
FRESH_PAGES_THRESHOLD = 131072  # bytes: 128 KiB, glibc's own starting threshold


class AllocatorUnavailable(RuntimeError):
    """The C library cannot take the requested setting; the message says what to do."""


def _mallopt() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else ctypes.CDLL(None)
    except (OSError, TypeError):  # no C library to load (TypeError: Windows' CDLL(None))
        return None
    return getattr(libc, "mallopt", None)


def apply_cpu_allocator(setting: str) -> str:
    """Apply `setting` to this process's C allocator from now on; returns it. The run calls
    this before it builds any model, so every timed allocation follows it; fresh processes
    get the same option and apply it themselves."""
    if setting not in CPU_ALLOCATORS:
        raise AllocatorUnavailable(f"cpu_allocator {setting!r}: use one of "
                                   f"{', '.join(map(repr, CPU_ALLOCATORS))}")
    if setting == "default":
        return setting
    mallopt = _mallopt()
    if mallopt is None:
        raise AllocatorUnavailable("cpu_allocator 'fresh-pages' needs glibc's mallopt(3), "
                                   "which this C library lacks: remove the setting")
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    if mallopt(M_MMAP_THRESHOLD, FRESH_PAGES_THRESHOLD) != 1:
        raise AllocatorUnavailable("cpu_allocator 'fresh-pages': mallopt(M_MMAP_THRESHOLD) "
                                   "was refused by the C library: remove the setting")
    return setting


def key_suffix(setting: str) -> str:
    """The environment key's part for this setting: none for the default, so existing
    baseline files keep their names."""
    return "" if setting == "default" else f"-malloc-{setting}"
