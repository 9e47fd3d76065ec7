"""`--vidbench-prometheus PATH`: the run as a Prometheus textfile, for nightly dashboards.

Written with the official client library (`prometheus_client.write_to_textfile`, which
writes a temp file and renames it), in the text format node_exporter's textfile collector
reads. One gauge per result value and a one-hot verdict gauge, both labelled by model,
variant, metric and the environment key, plus the run's wall and timed seconds and the gate.
"""

from __future__ import annotations

from pathlib import Path

from pytest_vidbench.records import VERDICTS, RunReport

INSTALL_HINT = "pip install 'pytest-vidbench[prometheus]' (the prometheus-client package)"


def check_available() -> None:
    """Raise ImportError with the fix when the client library is missing."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise ImportError(f"--vidbench-prometheus needs prometheus-client: {INSTALL_HINT}") \
            from None


def write_prometheus(report: RunReport, path: Path, environment_key: str) -> None:
    from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

    registry = CollectorRegistry()
    labels = ["model", "variant", "metric", "environment"]
    value = Gauge("vidbench_result_value", "A benchmark's value in its base unit (s, B, J, "
                  "score)", [*labels, "unit"], registry=registry)
    verdict = Gauge("vidbench_verdict", "1 for the verdict this result got, 0 for the others",
                    [*labels, "status"], registry=registry)
    change = Gauge("vidbench_change_ratio", "Current ÷ baseline − 1, where compared", labels,
                   registry=registry)
    for r in report.records:
        names = [r.model, r.variant, r.metric, environment_key]
        if r.value is not None:
            value.labels(*names, r.unit).set(r.value)
        if r.verdict is not None:
            for status in VERDICTS:
                verdict.labels(*names, status).set(int(r.verdict.status == status))
            if r.verdict.change_pct is not None:
                change.labels(*names).set(r.verdict.change_pct / 100)
    run = Gauge("vidbench_run_seconds", "The session's wall time and its timed generation",
                ["part", "environment"], registry=registry)
    if report.wall_seconds is not None:
        run.labels("wall", environment_key).set(report.wall_seconds)
    if report.timed_seconds is not None:
        run.labels("timed", environment_key).set(report.timed_seconds)
    Gauge("vidbench_gate_failed", "1 when the run has a regression", ["environment"],
          registry=registry).labels(environment_key).set(int(bool(report.regressions)))
    Gauge("vidbench_run_interrupted", "1 when Ctrl-C or SIGTERM cut the run short: the "
          "results are only the tests that finished", ["environment"],
          registry=registry).labels(environment_key).set(int(report.interrupted))
    write_to_textfile(str(path), registry)
