"""Fresh processes of the history mode: a suspect re-measured (gate/confirm.py), and the
extra runs of `--vidbench-runs N`, each in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

from pytest_vidbench.gate.confirm import ConfirmationFailed, Remeasure
from pytest_vidbench.measure.fresh import (
    CHILD_ENV,
    FreshProcessError,
    carried_options,
    in_child_process,
    run_child,
)
from pytest_vidbench.records import FreshRun, RunContext

if TYPE_CHECKING:
    from pytest_vidbench.plugin.session import VidbenchSession


def remeasure_in_fresh_processes(session: VidbenchSession) -> Remeasure:
    c = session.options.config
    setup = session.device_setup()
    ids = {r.key: r.test_id for r in session.records}
    passthrough = [f"--vidbench-device={setup.device}", f"--vidbench-threads={c.threads}",
                   f"--vidbench-cpu-allocator={setup.cpu_allocator}",
                   f"--vidbench-warmup={min(c.warmup, 1)}",
                   f"--vidbench-rounds={c.remeasure_rounds}",
                   f"--vidbench-calls-per-round={c.remeasure_calls}"]
    for name in ("--vidbench-models", "--vidbench-metrics"):
        if (value := session.config.getoption(name)) is not None:
            passthrough.append(f"{name}={value}")
    option = session.config.option
    passthrough += carried_options(getattr(option, "plugins", None) or [],
                                   getattr(option, "override_ini", None) or [])
    timeout = max(300.0, 3 * session.measured.timed_seconds())
    progress = session._progress()

    def remeasure(suspects: list[str], refs: list[str]) -> FreshRun:
        session.release_devices()  # the child needs the device the parent still holds
        progress.note(f"re-measuring in a fresh process: {', '.join(suspects)}"
                      + (f" (references: {', '.join(refs)})" if refs else ""))
        try:
            child = run_child([ids[k] for k in [*suspects, *refs] if k in ids],
                              session.options.rootdir, session.config.inipath, passthrough,
                              timeout)
        except FreshProcessError as error:
            raise ConfirmationFailed(str(error)) from None
        values = {r.key: float(r.value) for r in child.records
                  if r.status == "ok" and r.value and r.kind in ("latency", "energy")}
        missing = [k for k in suspects if k not in values]
        if missing:
            raise ConfirmationFailed(f"the fresh process measured no value for "
                                     f"{', '.join(missing)}")
        samples = child.run.get("control_samples") or []
        control = RunContext(control_samples=[float(x) for x in samples]).control
        return FreshRun(values, control, c.remeasure_rounds * c.remeasure_calls,
                        float(child.run.get("timed_seconds") or 0.0))

    return remeasure


def more_runs(session: VidbenchSession) -> str:
    """--vidbench-runs N: N − 1 more runs, each in its own process, appended in turn."""
    extra = session.options.runs - 1
    if extra <= 0 or in_child_process():
        return ""
    args: list[str] = []
    skip = False
    for a in session.config.invocation_params.args:
        if skip or a.startswith("--vidbench-runs"):
            skip = a == "--vidbench-runs"  # its value is the next argument
            continue
        args.append(a)
    done = 0
    for _ in range(extra):
        child = subprocess.run([sys.executable, "-m", "pytest", *args, "-q"],
                               cwd=session.config.invocation_params.dir,
                               env=dict(os.environ, **{CHILD_ENV: "1"}), check=False,
                               capture_output=True, text=True)
        if child.returncode != 0:
            break
        done += 1
    return f"; {1 + done} of {session.options.runs} runs recorded"
