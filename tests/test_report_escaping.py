"""A PR controls model names, variants, metrics, error texts and warnings through its config:
none of it may inject HTML, links, mentions or table cells into the comment or the report."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from pytest_vidbench.records import ResultRecord, RunReport, Verdict
from pytest_vidbench.report import MARKER, escape_md, render_markdown, render_terminal
from pytest_vidbench.report.format import clean_text, display_width, middle_ellipsis
from pytest_vidbench.report.html import render_html
from pytest_vidbench.report.terminal import render_gate_section

MD = MarkdownIt("commonmark").enable("table")
NASTY = [
    "<script>alert(1)</script>", "a|b", "a \\| b", "`code`", "<!-- x", "-->", "line\nbreak\r\n",
    "[x](javascript:alert(1))", "![i](http://e.example/x.png)", "*em* _u_ **b**", "@octocat",
    "&lt;b&gt;", "&amp;", "$x^2$", "~~s~~", "<img src=x onerror=alert(1)>", "\u202eevil",
    "| --- |", "</details>", "<details open>", "https://example.com/a", "<https://x.y>", "\\",
    "trailing\\", "# heading", "> quote", "- item", "1. item", "\x00nul\x07", "  ", "",
    "</td></tr><tr><td>", "{{ x }}", "\t|\t|", "&#60;script&#62;",
]
untrusted = st.one_of(st.sampled_from(NASTY), st.text(max_size=60),
                      st.lists(st.sampled_from(NASTY), max_size=4).map("".join))

MD_TAGS = {"p", "h3", "table", "thead", "tbody", "tr", "th", "td", "blockquote", "strong", "em",
           "ul", "li", "details", "summary"}


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def parse_html(text: str) -> TagCollector:
    parser = TagCollector()
    parser.feed(text)
    parser.close()
    return parser


def _record(model: str, variant: str, metric: str, error: str, status: str) -> ResultRecord:
    failed = status == "error"
    return ResultRecord(
        test_id="t", model=model, variant=variant, metric=metric, kind="latency", unit="s",
        value=None if failed else 1.2, status="error" if failed else "ok",
        error=error if failed else None, stages={"text_encoder": [0.1], "vae_decode": [0.2]},
        verdict=Verdict(status=status, baseline=1.0, change_pct=20.0, limit=1.1,
                        reason=error, extra={"baseline_stages": {"vae_decode": [0.15]}}),
    )


def _report(model: str, variant: str, metric: str, error: str, warning: str) -> RunReport:
    records = [_record(model, variant, metric, error, s)
               for s in ("regression", "suspicious", "error", "unchanged")]
    return RunReport(records=records, warnings=[warning], commit=warning,
                     baseline_commit=error, repeats=model,
                     environment={"device_name": model, "torch": variant, "diffusers": metric})


def _shown(text: str) -> str:
    """What a reader sees: the cleaned text, capped (120, then 80 in a table cell)."""
    return middle_ellipsis(clean_text(text, 120), 80).replace("\u200b", "") or "—"


def _cell_texts(markdown: str) -> list[list[list[str]]]:
    tables: list[list[list[str]]] = []
    row: list[str] | None = None
    for token in MD.parse(markdown):
        if token.type == "table_open":
            tables.append([])
        elif token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            assert all(c.type in ("text", "softbreak") for c in token.children or []), token
            row.append("".join(c.content for c in token.children or []).replace("\u200b", ""))
        elif token.type == "tr_close":
            tables[-1].append(row or [])
            row = None
    return tables


def assert_inert(markdown: str) -> None:
    """No inline HTML, link, image or code span, and only our own HTML blocks (the marker and
    the <details> wrapper); rendered, only the tags a table comment needs."""
    for token in MD.parse(markdown):
        if token.type == "html_block":
            assert token.content.startswith((MARKER, "<details>\n<summary>All ", "</details>"))
        assert token.type != "html_inline"
        for child in token.children or []:
            assert child.type not in ("html_inline", "link_open", "image", "code_inline"), child
    rendered = parse_html(MD.render(markdown))
    assert {tag for tag, _ in rendered.tags} <= MD_TAGS
    assert rendered.comments == [" pytest-vidbench "]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=untrusted, variant=untrusted, metric=untrusted, error=untrusted, warning=untrusted)
def test_markdown_never_yields_html_or_extra_cells(
    model: str, variant: str, metric: str, error: str, warning: str
) -> None:
    report = _report(model, variant, metric, error, warning)
    markdown = render_markdown(report)
    assert_inert(markdown)
    attention, full = _cell_texts(markdown)
    # every row keeps its 8 cells, and the cells read back exactly as the names were given
    assert len(full) == 1 + len(report.records)
    for row in full[1:]:
        assert row[:3] == [_shown(model), _shown(variant), _shown(metric)]
    assert attention[1][:3] == [_shown(model), _shown(variant), _shown(metric)]
    assert len(attention) == 1 + 2 * 3  # 2 rows, each with 2 stage sub-rows
    # GitHub would ping "@name": a zero-width space must follow every @
    if "@" in model:
        assert "@&#8203;" in markdown and "@" + model.split("@")[1][:1] not in markdown.replace(
            "@&#8203;", "")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=untrusted, variant=untrusted, error=untrusted)
def test_terminal_lines_stay_lines(model: str, variant: str, error: str) -> None:
    report = _report(model, variant, "latency", error, "w")
    lines = render_terminal(report)
    assert all("\n" not in x and "\r" not in x and display_width(x) <= 100 for x in lines)
    assert lines[-1] == "1 regression, 1 suspicious, 1 unchanged, 1 error"


HTML_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "div",
             "span", "strong", "em", "table", "thead", "tbody", "tr", "th", "td", "ul", "li",
             "img"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=untrusted, variant=untrusted, metric=untrusted, error=untrusted, warning=untrusted)
def test_html_never_yields_tags_from_names(
    model: str, variant: str, metric: str, error: str, warning: str
) -> None:
    page = render_html(_report(model, variant, metric, error, warning))
    parsed = parse_html(page)
    assert {tag for tag, _ in parsed.tags} <= HTML_TAGS
    assert not parsed.comments
    for tag, attrs in parsed.tags:
        assert not any(name.startswith("on") for name in attrs)  # no event handlers
        if tag == "img":
            assert (attrs.get("src") or "").startswith("data:image/png;base64,")
    assert sum(tag == "tr" for tag, _ in parsed.tags) == (1 + 2 + 2 * 2) + (1 + 4)


def test_escape_md_examples() -> None:
    assert escape_md("a|b") == "a\\|b"
    assert escape_md("<script>") == "&lt;script&gt;"
    assert escape_md("x\ny") == "x y"
    assert escape_md("@team") == "@&#8203;team"
    assert escape_md("a" * 100, 10).count("…") == 1


# -- every string field of a record, the unit included, and bare links ------------------

AUTOLINK = re.compile(r"(?i)(?:https?|ftp)://|www\.|mailto:|xmpp:|@\w")
LINKY = ["https://evil.example/x", "www.evil.example", "mailto:a@b.example", "xmpp:a@b.c",
         "see http://x.y/z?a=1", "WWW.Example.COM", "ftp://f.example", "a@b.example"]
linky = st.one_of(untrusted, st.sampled_from(LINKY),
                  st.lists(st.sampled_from(NASTY + LINKY), max_size=4).map(" ".join))
FIELDS = ("test_id", "model", "variant", "metric", "unit", "error", "method", "reason",
          "warning", "commit", "device")


def _every_field_report(values: dict[str, str]) -> RunReport:
    records = []
    for status in ("regression", "suspicious", "error", "unchanged"):
        failed = status == "error"
        records.append(ResultRecord(
            test_id=values["test_id"], model=values["model"], variant=values["variant"],
            metric=values["metric"], kind="latency", unit=values["unit"],
            value=None if failed else 1.2, status="error" if failed else "ok",
            error=values["error"] if failed else None, stages={"vae_decode": [0.2]},
            details={"normalized_change_pct": 5.0, "control_change_pct": 1.0},
            verdict=Verdict(status=status, baseline=1.0, change_pct=20.0, limit=1.1,
                            method=values["method"], reason=values["reason"],
                            extra={"baseline_stages": {"vae_decode": [0.15]}})))
    return RunReport(records=records, warnings=[values["warning"]], commit=values["commit"],
                     baseline_commit=values["commit"], baseline_date=values["reason"],
                     repeats=values["method"],
                     environment={"device_name": values["device"], "device_kind": values["unit"],
                                  "torch": values["variant"], "diffusers": values["metric"]})


every_field = st.fixed_dictionaries({name: linky for name in FIELDS})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=every_field)
def test_markdown_escapes_every_field_and_links_nothing(values: dict[str, str]) -> None:
    markdown = render_markdown(_every_field_report(values))
    assert not AUTOLINK.search(markdown), AUTOLINK.search(markdown)
    assert_inert(markdown)
    attention, full = _cell_texts(markdown)
    assert all(len(row) == 8 for row in attention + full)  # no cell injected by the unit
    assert markdown.count("<details>") == 1 and markdown.count("</details>") == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=every_field)
def test_html_escapes_every_field(values: dict[str, str]) -> None:
    page = render_html(_every_field_report(values))
    parsed = parse_html(page)
    assert {tag for tag, _ in parsed.tags} <= HTML_TAGS and not parsed.comments
    assert sum(tag == "h1" for tag, _ in parsed.tags) == 1
    for _tag, attrs in parsed.tags:
        assert not any(name.startswith("on") for name in attrs)
        assert set(attrs) <= {"class", "src", "alt", "lang", "charset", "http-equiv",
                              "content", "name"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=every_field)
def test_terminal_escapes_every_field(values: dict[str, str]) -> None:
    report = _every_field_report(values)
    for line in render_terminal(report) + render_gate_section(report):
        assert "\n" not in line and "\r" not in line and "\x1b" not in line
        assert display_width(line) <= 100


def test_a_crafted_unit_cannot_close_details_or_ping() -> None:
    values = dict.fromkeys(FIELDS, "x")
    values["unit"] = "s</details><img src=x> @octocat https://evil.example [l](http://e)"
    markdown = render_markdown(_every_field_report(values))
    assert "</details><img" not in markdown and markdown.count("</details>") == 1
    assert "@octocat" not in markdown and "https://evil" not in markdown
    page = render_html(_every_field_report(values))
    h1 = page.split("<h1>")[1].split("</h1>")[0]
    assert "<img" not in h1 and "</d" not in h1 and "&lt;/detai" in h1  # capped, escaped


def test_escape_md_breaks_bare_links() -> None:
    for text in LINKY:
        assert not AUTOLINK.search(escape_md(text)), escape_md(text)
    assert escape_md("https://a.b") == "https:&#8203;//a.b"
    assert escape_md("www.a.b") == "www&#8203;.a.b"
