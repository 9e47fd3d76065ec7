"""Health checks behind `vidbench env`: what would make this machine's measurements unreliable.

Every probe degrades to an `info` line when the machine cannot answer (no cpufreq in a VM,
no NVIDIA driver); only conditions known to disturb measurements are `warn`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

Level = Literal["ok", "info", "warn"]
GOVERNOR = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
CLEAR_REFS = Path("/proc/self/clear_refs")
MIB = 2**20

# NVML's clock event (throttle) reason bits. Idle, application clocks, sync boost and display
# clocks are normal; the others mean the GPU runs slower than it could right now.
THROTTLE_REASONS: dict[int, tuple[str, bool]] = {
    0x1: ("gpu_idle", False),
    0x2: ("applications_clocks_setting", False),
    0x4: ("sw_power_cap", True),
    0x8: ("hw_slowdown", True),
    0x10: ("sync_boost", False),
    0x20: ("sw_thermal_slowdown", True),
    0x40: ("hw_thermal_slowdown", True),
    0x80: ("hw_power_brake_slowdown", True),
    0x100: ("display_clock_setting", False),
}


@dataclass
class Check:
    level: Level
    name: str
    message: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def cpu_checks(device_is_cuda: bool, threads: int, torch_default_threads: int) -> list[Check]:
    checks: list[Check] = []
    cores, total = usable_cores(), os.cpu_count() or 0
    checks.append(Check("info", "cores", f"{cores} usable core(s) of {total}"))
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        checks.append(Check("info", "load", "load average not available on this system"))
    else:
        if load > cores / 2:
            checks.append(Check("warn", "load", f"load average {load:.2f} (1 min) with {cores} "
                                "usable core(s): other work competes for the CPU; timings "
                                "will be noisy"))
        else:
            checks.append(Check("ok", "load", f"load average {load:.2f} (1 min) with {cores} "
                                "usable core(s)"))
    try:
        governor = GOVERNOR.read_text(encoding="ascii").strip()
    except OSError:
        checks.append(Check("info", "governor", "CPU frequency governor not readable "
                            f"({GOVERNOR}; usual in VMs and containers)"))
    else:
        if governor == "performance":
            checks.append(Check("ok", "governor", "CPU frequency governor: performance"))
        else:
            checks.append(Check("warn", "governor", f"CPU frequency governor is {governor!r}, "
                                "not 'performance': clock scaling adds latency noise "
                                "(sudo cpupower frequency-set -g performance)"))
    if not device_is_cuda:
        text = (f"torch threads: {threads} ([tool.vidbench] threads; torch's default here is "
                f"{torch_default_threads})")
        if threads > 1:
            checks.append(Check("warn", "threads", text + ": more than one intra-op thread "
                                "makes CPU timings noisy; set threads = 1"))
        else:
            checks.append(Check("ok", "threads", text))
        checks.append(peak_memory_check())
    return checks


def peak_memory_check() -> Check:
    # The CPU memory tracker resets the peak RSS through clear_refs; without it a call's
    # peak is the process's lifetime peak, an upper bound.
    try:
        CLEAR_REFS.write_text("5", encoding="ascii")
    except OSError as error:
        return Check("warn", "memory", f"cannot reset the peak RSS ({CLEAR_REFS}: "
                     f"{error.strerror or error}): CPU memory figures are lifetime peaks")
    return Check("ok", "memory", "peak RSS can be reset per call (/proc/self/clear_refs)")


def nvml_text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def nvml_try(nvml: Any, call: Callable[[], Any]) -> Any:
    """The NVML answer, or None where this GPU or driver does not support the query."""
    try:
        return call()
    except nvml.NVMLError:
        return None


def throttle_names(mask: int) -> list[tuple[str, bool]]:
    return [(name, bad) for bit, (name, bad) in THROTTLE_REASONS.items() if mask & bit]


def _clock_reasons(nvml: Any, handle: Any) -> int | None:
    # Renamed "clocks event reasons" in newer NVML; the old name stays as an alias for a while.
    for name in ("nvmlDeviceGetCurrentClocksEventReasons",
                 "nvmlDeviceGetCurrentClocksThrottleReasons"):
        function = getattr(nvml, name, None)
        if function is not None:
            return nvml_try(nvml, lambda f=function: int(f(handle)))
    return None


def _processes(nvml: Any, handle: Any) -> list[tuple[int, int | None]] | None:
    found: dict[int, int | None] = {}
    answered = False
    for name in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
        function = getattr(nvml, name, None)
        listed = nvml_try(nvml, lambda f=function: list(f(handle))) if function else None
        if listed is None:
            continue
        answered = True
        for p in listed:
            found[int(p.pid)] = getattr(p, "usedGpuMemory", None)
    return sorted(found.items()) if answered else None


def gpu_device_checks(nvml: Any, label: str, handle: Any, own_pid: int) -> tuple[list[Check],
                                                                                dict[str, Any]]:
    """Clocks, throttle reasons and other processes of one NVML device."""
    checks: list[Check] = []
    info: dict[str, Any] = {}
    sm = nvml_try(nvml, lambda: int(nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM)))
    mem = nvml_try(nvml, lambda: int(nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_MEM)))
    sm_max = nvml_try(nvml, lambda: int(nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_SM)))
    mem_max = nvml_try(nvml,
                   lambda: int(nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_MEM)))
    info.update(sm_clock_mhz=sm, sm_clock_max_mhz=sm_max, mem_clock_mhz=mem,
                mem_clock_max_mhz=mem_max)

    def mhz(now: int | None, top: int | None) -> str:
        return "n/a" if now is None else f"{now} MHz" + (f" (max {top})" if top else "")

    checks.append(Check("info", "clocks", f"{label}: SM clock {mhz(sm, sm_max)}, memory clock "
                        f"{mhz(mem, mem_max)}"))
    mask = _clock_reasons(nvml, handle)
    info["throttle_reasons"] = None if mask is None else [n for n, _ in throttle_names(mask)]
    if mask is None:
        checks.append(Check("info", "throttle", f"{label}: throttle reasons not available"))
    else:
        reasons = throttle_names(mask)
        bad = [name for name, is_bad in reasons if is_bad]
        shown = ", ".join(name for name, _ in reasons) or "none"
        if bad:
            checks.append(Check("warn", "throttle", f"{label}: clocks are held back now "
                                f"({', '.join(bad)}): timings and energy will be off"))
        else:
            checks.append(Check("ok", "throttle", f"{label}: throttle reasons: {shown}"))
    processes = _processes(nvml, handle)
    others = [(pid, used) for pid, used in processes or [] if pid != own_pid]
    info["other_processes"] = None if processes is None else [
        {"pid": pid, "used_bytes": used} for pid, used in others]
    if processes is None:
        checks.append(Check("info", "processes", f"{label}: process list not available"))
    elif others:
        listed = ", ".join(f"pid {pid}" + (f" ({used / MIB:.0f} MiB)" if used else "")
                           for pid, used in others[:5])
        checks.append(Check("warn", "processes", f"{label}: {len(others)} other process(es) on "
                            f"this GPU ({listed}): they share its time, memory and energy "
                            "counter"))
    else:
        checks.append(Check("ok", "processes", f"{label}: no other processes on this GPU"))
    return checks, info


def cuda_driver_text(version: int | None) -> str | None:
    """NVML encodes the driver's CUDA version as 1000 × major + 10 × minor."""
    if version is None:
        return None
    return f"{version // 1000}.{version % 1000 // 10}"
