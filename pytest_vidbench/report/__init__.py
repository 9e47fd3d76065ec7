"""Renderers of a `RunReport`: terminal summary, PR comment (Markdown) and HTML report.

`render_html` is imported lazily: it pulls in matplotlib, which the terminal and Markdown
renderers (used on every run) do not need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_vidbench.report.markdown import (
    GITHUB_COMMENT_LIMIT,
    MARKER,
    append_github_step_summary,
    escape_md,
    render_markdown,
)
from pytest_vidbench.report.terminal import render_gate_section, render_terminal

if TYPE_CHECKING:
    from pytest_vidbench.report.html import render_html

__all__ = [
    "GITHUB_COMMENT_LIMIT",
    "MARKER",
    "append_github_step_summary",
    "escape_md",
    "render_gate_section",
    "render_html",
    "render_markdown",
    "render_terminal",
]


def __getattr__(name: str) -> Any:
    if name == "render_html":
        from pytest_vidbench.report.html import render_html

        return render_html
    raise AttributeError(name)
