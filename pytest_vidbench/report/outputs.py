"""Writing a run's outputs: results JSON, pytest-benchmark JSON, Markdown, HTML, Prometheus."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

from pytest_vidbench.records import RunReport
from pytest_vidbench.store.atomic import write_bytes_atomic, write_json_atomic
from pytest_vidbench.store.benchmark_json import benchmark_document
from pytest_vidbench.store.results import results_document


class Destinations(Protocol):
    """Where each output goes, None for not asked (plugin/options.py `RunOptions`)."""

    results_path: Path
    benchmark_json_path: Path | None
    markdown_path: Path | None
    html_path: Path | None
    prometheus_path: Path | None


def write_outputs(report: RunReport, options: Destinations, run: dict[str, Any]) -> None:
    write_json_atomic(options.results_path,
                      results_document(report.records, report.environment, run))
    if options.benchmark_json_path is not None:
        write_json_atomic(options.benchmark_json_path,
                          benchmark_document(report.records, report.environment))
    write_reports(report, options.markdown_path, options.html_path)
    if options.prometheus_path is not None:
        from pytest_vidbench.measure.environment import environment_key
        from pytest_vidbench.report.prometheus import write_prometheus

        options.prometheus_path.parent.mkdir(parents=True, exist_ok=True)
        write_prometheus(report, options.prometheus_path, environment_key(report.environment))


def write_reports(report: RunReport, markdown_path: Any, html_path: Any) -> None:
    """Markdown (also appended to $GITHUB_STEP_SUMMARY when set) and HTML, when asked for."""
    if markdown_path is not None:
        from pytest_vidbench.report.markdown import append_github_step_summary, render_markdown

        markdown = render_markdown(report)
        write_bytes_atomic(markdown_path, markdown.encode("utf-8"))
        append_github_step_summary(markdown, os.environ)
    if html_path is not None:
        from pytest_vidbench.report.html import render_html

        write_bytes_atomic(html_path, render_html(report).encode("utf-8"))
