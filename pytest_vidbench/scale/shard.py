"""`--vidbench-shard K/N`: run one of N disjoint slices of the benchmark tests.

A separate plugin (its own pytest11 entry point, or `-p pytest_vidbench.shard`), so the
split can be used, or left out, independently of the benchmark plugin.

The unit is a model: all of a model's tests (every variant and metric) land on one shard, so
each pipeline is built on one machine only. Models are placed greedily, the largest first, on
the shard with the fewest models (then the fewest tests), with ties between equal models
broken by a hash of the name: the split depends only on which tests are selected, never on
collection order, and shards differ by at most one model. Tests that are not vidbench
benchmarks are kept on every shard.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping

import pytest

from pytest_vidbench.plugin.cases import CASE_FIXTURE

OPTION = "--vidbench-shard"
_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N) with 1 ≤ K ≤ N; a ValueError says what to write instead."""
    match = _SPEC.fullmatch(text)
    if match is None:
        raise ValueError(f"{OPTION} {text!r}: write K/N, e.g. {OPTION} 1/4 for the first of "
                         "four shards")
    index, total = int(match.group(1)), int(match.group(2))
    if total < 1:
        raise ValueError(f"{OPTION} {text}: N must be at least 1, e.g. {OPTION} 1/2")
    if not 1 <= index <= total:
        raise ValueError(f"{OPTION} {text}: K must be between 1 and {total}, e.g. "
                         f"{OPTION} {min(max(index, 1), total)}/{total}")
    return index, total


def stable_hash(key: str) -> int:
    # Python's hash() is salted per process; shards on different machines must agree.
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def assign(counts: Mapping[str, int], total: int) -> dict[str, int]:
    """Model name -> shard (1-based), from each model's number of tests."""
    loads = [[0, 0] for _ in range(total)]  # per shard: models, tests
    placed: dict[str, int] = {}
    for model in sorted(counts, key=lambda m: (-counts[m], stable_hash(m), m)):
        shard = min(range(total), key=lambda s: (loads[s][0], loads[s][1], s))
        loads[shard][0] += 1
        loads[shard][1] += counts[model]
        placed[model] = shard + 1
    return placed


def model_of(item: pytest.Item) -> str | None:
    """The model name of a vidbench benchmark test, None for any other test."""
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get(CASE_FIXTURE) if callspec is not None else None
    model = getattr(case, "model", None)
    return getattr(model, "name", None)


def split(items: Iterable[pytest.Item], index: int, total: int
          ) -> tuple[list[pytest.Item], list[pytest.Item]]:
    """(kept, deselected) for shard `index` of `total`, the items' order kept."""
    items = list(items)
    models = {id(item): model_of(item) for item in items}
    counts = Counter(m for m in models.values() if m is not None)
    placed = assign(counts, total)
    kept, dropped = [], []
    for item in items:
        model = models[id(item)]
        (kept if model is None or placed[model] == index else dropped).append(item)
    return kept, dropped


def pytest_addoption(parser: pytest.Parser) -> None:
    # Same description as the benchmark plugin: whichever registers first names the group.
    parser.getgroup("vidbench", "video-diffusion benchmarks (pytest-vidbench)").addoption(
        OPTION, metavar="K/N", default=None,
        help="run shard K of N: the benchmark tests split by model, stable across runs and "
             "machines (other tests run on every shard)")


def pytest_configure(config: pytest.Config) -> None:
    text = config.getoption(OPTION)
    if text is not None:
        try:
            parse_shard(text)
        except ValueError as error:
            raise pytest.UsageError(f"pytest-vidbench: {error}") from None


@pytest.hookimpl(trylast=True)  # after -k/-m and the benchmark plugin's own bookkeeping
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    text = config.getoption(OPTION)
    if text is None:
        return
    kept, dropped = split(items, *parse_shard(text))
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
