"""`vidbench env`: the fingerprint a run here would record, and a measurement health check."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from pytest_vidbench.cli._common import project_config
from pytest_vidbench.cli.health import (
    Check,
    cpu_checks,
    cuda_driver_text,
    gpu_device_checks,
    nvml_text,
    nvml_try,
)
from pytest_vidbench.measure import huge_pages


def gpu_checks() -> tuple[list[Check], list[dict[str, Any]]]:
    import torch

    from pytest_vidbench.measure.trackers.nvml import NvmlUnavailable, match_device, nvml_module

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    checks = [Check("info", "gpus", f"GPUs visible to torch: {count} (torch CUDA build: "
                    f"{torch.version.cuda or 'none'}"
                    + (f", CUDA_VISIBLE_DEVICES={visible}" if visible is not None else "") + ")")]
    try:
        nvml = nvml_module()
    except NvmlUnavailable as error:
        # On a CUDA machine this loses per-process VRAM, energy and the checks below.
        checks.append(Check("warn" if count else "info", "nvml", f"NVML unavailable: {error}"))
        return checks, []
    nvml_count = nvml_try(nvml, lambda: int(nvml.nvmlDeviceGetCount()))
    driver = nvml_try(nvml, lambda: nvml_text(nvml.nvmlSystemGetDriverVersion()))
    cuda = cuda_driver_text(nvml_try(nvml, lambda: int(nvml.nvmlSystemGetCudaDriverVersion())))
    checks.append(Check("info", "driver", f"NVIDIA driver {driver or 'n/a'}, driver CUDA "
                        f"{cuda or 'n/a'}, torch CUDA {torch.version.cuda or 'none'}"))
    checks.append(Check("info", "gpus", f"GPUs visible to NVML: "
                        f"{'n/a' if nvml_count is None else nvml_count}"))
    if count == 0 and nvml_count:
        checks.append(Check("warn", "gpus", f"NVML sees {nvml_count} GPU(s) but torch sees "
                            "none: a CPU-only torch build, or CUDA_VISIBLE_DEVICES hides them"))
    gpus: list[dict[str, Any]] = []
    for index in range(count):
        label = f"cuda:{index}"
        try:
            device = match_device(index)
        except NvmlUnavailable as error:
            checks.append(Check("warn", "match", f"{label}: {error}: NVML memory, energy and "
                                "clock figures are unavailable for it"))
            gpus.append({"torch_device": label, "nvml": None})
            continue
        checks.append(Check("ok", "match", f"{label} is NVML {device.name} {device.uuid} (PCI "
                            f"{device.pci_bus_id}), matched by {device.matched_by}"))
        device_checks, info = gpu_device_checks(nvml, label, device.handle, os.getpid())
        checks += device_checks
        gpus.append({"torch_device": label, "nvml": {
            "name": device.name, "uuid": device.uuid, "pci_bus_id": device.pci_bus_id,
            "matched_by": device.matched_by, **info}})
    return checks, gpus


def energy_check(setup: Any) -> Check:
    from pytest_vidbench.measure.trackers.base import TrackerUnavailable
    from pytest_vidbench.measure.trackers.energy import EnergyTracker

    try:
        tracker = EnergyTracker(setup)
    except TrackerUnavailable as error:
        return Check("info", "energy", f"energy unavailable: {error}")
    return Check("ok", "energy", f"energy: NVML energy counter of {tracker.nvml.name}")


def _setup(config: Any, checks: list[Check]) -> Any:
    """The DeviceSetup a run would apply, worked out without applying it: pinning torch's
    threads or numerics flags is a run's business, not a report's."""
    import torch

    from pytest_vidbench.measure.device import DeviceSetup, DeviceUnavailable, resolve_device

    try:
        device = resolve_device(config.device)
    except DeviceUnavailable as error:
        checks.append(Check("warn", "device", f"{error}; checking the 'auto' device instead"))
        device = resolve_device("auto")
    # apply_device_setup pins the thread count on CPU only.
    threads = config.threads if device == "cpu" else torch.get_num_threads()
    # What a run would ask for before its torch starts (measure/huge_pages.py): an exported
    # THP_MEM_ALLOC_ENABLE wins over the config.
    exported = os.environ.get(huge_pages.VARIABLE)
    thp = exported.strip() == "1" if exported is not None else config.cpu_huge_pages
    return DeviceSetup(device=device, threads=threads, tf32=config.tf32,
                       deterministic=config.deterministic, cpu_allocator=config.cpu_allocator,
                       cpu_huge_pages=thp)


def collect(config: Any) -> dict[str, Any]:
    import torch

    from pytest_vidbench.measure.environment import collect_environment, environment_key

    checks: list[Check] = []
    setup = _setup(config, checks)
    environment = collect_environment(setup, Path.cwd())
    key = environment_key(environment)
    baseline = Path(config.baselines) / f"{key}.json"
    checks += cpu_checks(setup.is_cuda, setup.threads, torch.get_num_threads())
    more, gpus = gpu_checks()
    checks += more
    checks.append(energy_check(setup))
    return {
        "first_run": baseline_advice(Path(config.baselines), key),
        "device": setup.device, "configured_device": config.device,
        "environment_key": key, "baseline_file": str(baseline),
        "baseline_exists": baseline.is_file(), "environment": environment,
        "checks": [c.to_json() for c in checks], "gpus": gpus,
        "warnings": sum(c.level == "warn" for c in checks),
    }


def baseline_advice(directory: Path, key: str) -> list[str]:
    """What a first run here would say: no baselines or too few runs, and the command."""
    from pytest_vidbench.report.first_run import first_run_lines
    from pytest_vidbench.store.baselines import BaselineStore
    from pytest_vidbench.store.schema import InputError

    store = BaselineStore(directory, key)
    try:
        baseline = store.load() if store.path.is_file() else None
    except InputError as error:
        return [f"vidbench: {error}"]
    history = {k: len(t.history) for k, t in baseline.tests.items()} if baseline else {}
    return first_run_lines(key, store.other_environments(), history or {"(every test)": 0})


def _print_text(data: dict[str, Any]) -> None:
    print("vidbench env: what a benchmark run here would record, and what could disturb it")
    print()
    print("environment")
    exists = "present" if data["baseline_exists"] else "none yet"
    rows = [("environment key", data["environment_key"]),
            ("baseline file", f"{data['baseline_file']} ({exists})"),
            ("configured device", f"{data['configured_device']} (resolved: {data['device']})"),
            *data["environment"].items()]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {'-' if value is None else value}")
    print()
    print("baselines")
    for line in data["first_run"] or ["  deep enough for the gate on every test"]:
        print(f"  {line.removeprefix('vidbench: ')}")
    print()
    print("health")
    for check in data["checks"]:
        print(f"  {check['level'].upper():<4}  {check['message']}")
    n = data["warnings"]
    print()
    print(f"{n} warning(s): measurements here may be unreliable" if n else
          "no warnings: nothing found that would disturb measurements")


def run_env(args: argparse.Namespace) -> int:
    data = collect(project_config())
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        _print_text(data)
    return 1 if args.strict and data["warnings"] else 0
