"""The same results in pytest-benchmark's JSON layout, for `pytest-benchmark compare` and
the tools that read that format (github-action-benchmark, ...). Only timed samples go in:
pytest-benchmark's statistics are computed by its own `Stats` class, so they match exactly.
"""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from pytest_benchmark.stats import Stats

from pytest_vidbench.records import ResultRecord


def machine_info(environment: dict[str, Any]) -> dict[str, Any]:
    uname = platform.uname()
    return {
        "node": uname.node,
        "processor": uname.processor,
        "machine": uname.machine,
        "python_compiler": platform.python_compiler(),
        "python_implementation": platform.python_implementation(),
        "python_implementation_version": platform.python_version(),
        "python_version": platform.python_version(),
        "python_build": list(platform.python_build()),
        "release": uname.release,
        "system": uname.system,
        "cpu": {"brand_raw": environment.get("cpu_model"), "count": environment.get("cpu_count")},
        "vidbench": environment,
    }


def commit_info(environment: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": environment.get("git_commit"),
        "time": None,
        "author_time": None,
        "dirty": environment.get("git_dirty"),
        "project": "pytest-vidbench",
        "branch": environment.get("git_branch"),
    }


def _benchmark(record: ResultRecord) -> dict[str, Any]:
    stats = Stats()
    for sample in record.samples:
        stats.update(sample)
    data = stats.as_dict()
    data["data"] = list(record.samples)
    data["iterations"] = 1
    name = record.test_id.rsplit("::", 1)[-1]
    return {
        "group": f"{record.model}[{record.variant}]",
        "name": name,
        "fullname": record.test_id,
        "params": {"model": record.model, "variant": record.variant, "metric": record.metric},
        "param": f"{record.model}-{record.variant}-{record.metric}",
        "extra_info": {"unit": record.unit, "kind": record.kind,
                       "verdict": record.verdict.status if record.verdict else None},
        "options": {"timer": "cuda-events" if record.details.get("timer") == "cuda-events"
                    else "perf_counter_ns", "warmup": True},
        "stats": data,
    }


def benchmark_document(records: list[ResultRecord], environment: dict[str, Any]) -> dict[str, Any]:
    """Latency records only: pytest-benchmark's stats assume seconds."""
    timed = [r for r in records if r.kind == "latency" and r.status == "ok" and r.samples]
    return {
        "machine_info": machine_info(environment),
        "commit_info": commit_info(environment),
        "benchmarks": [_benchmark(r) for r in timed],
        "datetime": datetime.now(UTC).isoformat(),
        "version": metadata.version("pytest-benchmark"),
    }
