"""The opt-in C allocator setting: what it does to glibc, and that it keys the baselines."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest
from plugin_project import baseline_files, results, verdicts, write_project

from pytest_vidbench.config import ConfigError, parse_config
from pytest_vidbench.measure.cpu_allocator import AllocatorUnavailable, apply_cpu_allocator
from pytest_vidbench.measure.environment import environment_key

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="needs glibc")

# Count the allocations glibc maps on their own (mallinfo2's hblks) for one 1 MiB block,
# after a freed 16 MiB block has raised glibc's dynamic mmap threshold above 1 MiB.
MAPPED = r"""
import ctypes, sys
from pytest_vidbench.measure.cpu_allocator import apply_cpu_allocator

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
                "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = Info
libc.free(libc.malloc(16 << 20))
apply_cpu_allocator(sys.argv[1])
before = libc.mallinfo2().hblks
block = libc.malloc(1 << 20)
print(libc.mallinfo2().hblks - before)
libc.free(block)
"""


@glibc
@pytest.mark.parametrize(("setting", "mapped"), [("default", "0"), ("fresh-pages", "1")])
def test_fresh_pages_maps_every_large_allocation_on_its_own(setting: str, mapped: str):
    done = subprocess.run([sys.executable, "-c", MAPPED, setting], capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == mapped


def test_an_unknown_setting_is_refused_naming_the_choices():
    with pytest.raises(AllocatorUnavailable, match="'default', 'fresh-pages'"):
        apply_cpu_allocator("jemalloc")
    with pytest.raises(ConfigError, match=r"tool\.vidbench\.cpu_allocator must be one of "
                                          r"'default', 'fresh-pages', got 'jemalloc'"):
        parse_config({"cpu_allocator": "jemalloc"})


def test_the_setting_is_part_of_the_environment_key_and_the_default_adds_nothing():
    env = {"device_kind": "cpu", "device_name": "AMD EPYC", "torch": "2.13.0+cpu"}
    assert environment_key(env) == "cpu-amd-epyc-torch2.13"
    assert environment_key({**env, "cpu_allocator": "default"}) == "cpu-amd-epyc-torch2.13"
    assert environment_key({**env, "cpu_allocator": "fresh-pages"}) == \
        "cpu-amd-epyc-torch2.13-malloc-fresh-pages"


@glibc
def test_baselines_recorded_with_fresh_pages_are_never_compared_with_the_default(
        pytester: pytest.Pytester):
    write_project(pytester, metrics=("memory",), extra='cpu_allocator = "fresh-pages"')
    pytester.runpytest("--vidbench", "--vidbench-update-baselines").assert_outcomes(passed=1)
    (path,) = baseline_files(pytester)
    assert path.stem.endswith("-malloc-fresh-pages")
    document = json.loads(path.read_text())
    assert document["environment"]["cpu_allocator"] == "fresh-pages"
    assert results(pytester)["run"]["device_setup"]["cpu_allocator"] == "fresh-pages"
    pytester.runpytest("--vidbench").assert_outcomes(passed=1)
    assert verdicts(pytester) == {"toy-memory": "unchanged"}
    run = pytester.runpytest("--vidbench", "--vidbench-cpu-allocator=default")
    assert verdicts(pytester) == {"toy-memory": "incomparable"}
    run.stdout.fnmatch_lines([f"note: baselines exist only for {path.stem}; this run is "
                              f"{path.stem.removesuffix('-malloc-fresh-pages')}: not compared*"])


def test_a_bad_command_line_setting_is_a_usage_error(pytester: pytest.Pytester):
    write_project(pytester, metrics=("memory",))
    run = pytester.runpytest("--vidbench", "--vidbench-cpu-allocator=tcmalloc")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines(["*--vidbench-cpu-allocator must be one of 'default', "
                              "'fresh-pages', got 'tcmalloc'*"])
