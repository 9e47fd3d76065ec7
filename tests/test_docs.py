"""The README and docs/: a short README that opens with the two commands CI runs, links and
anchors that resolve to files of this repository, and calibration blocks the writer finds."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
CALIBRATION = DOCS / "calibration.md"
README_LIMIT = 16_000  # bytes; everything longer belongs in a page under docs/

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# [text](target) and ![alt](target); the text may hold one level of brackets.
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'][^)]*)?\)")
REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
HTML_LINK = re.compile(r"""<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.I)
HEADING = re.compile(r"^ {0,3}(?:>\s*)*(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"""<a\b[^>]*?\b(?:name|id)\s*=\s*["']([^"']+)["']""", re.I)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, with code spans blanked out."""
    out: list[tuple[int, str]] = []
    fence = ""
    for number, line in enumerate(text.splitlines(), 1):
        opened = FENCE.match(line)
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence) \
                    and not line.strip()[len(opened.group(1)):].strip():
                fence = ""
            continue
        if opened:
            fence = opened.group(1)
            continue
        out.append((number, CODE_SPAN.sub(lambda m: "x" * len(m.group(0)), line)))
    return out


def link_targets(text: str) -> list[tuple[int, str]]:
    """Every link and image target in Markdown text, outside code, with its line number."""
    found: list[tuple[int, str]] = []
    for number, line in prose_lines(text):
        found += [(number, m.group(1)) for m in INLINE_LINK.finditer(line)]
        found += [(number, m.group(1)) for m in HTML_LINK.finditer(line)]
        reference = REFERENCE_LINK.match(line)
        if reference:
            found.append((number, reference.group(1)))
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lowercased, punctuation and symbols
    (emoji included) dropped except - and _, each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The fragments a Markdown file answers to: its headings' slugs, numbered like GitHub's
    repeats (`name`, `name-1`, ...), and explicit `<a name=...>` / `id=...` anchors."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    for number, line in prose_lines(text):
        out.update(HTML_ANCHOR.findall(line))
        heading = HEADING.match(line)
        if not heading:
            continue
        # the slug comes from the heading's own text, code spans included
        base = slug(HEADING.match(text.splitlines()[number - 1]).group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """Relative links of a Markdown file whose file, or whose #fragment in a Markdown file,
    does not exist, and links that leave the repository."""
    problems: list[str] = []
    for number, target in link_targets(path.read_text(encoding="utf-8")):
        where = f"{path.relative_to(root)}:{number}: {target}"
        if not target or SCHEME.match(target) or target.startswith("//"):
            continue  # http(s)://, mailto: and other schemes are not files here
        file_part, _, fragment = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.is_relative_to(root.resolve()) or \
                resolved.is_relative_to((root / "shared").resolve()):
            problems.append(f"{where} (outside the repository)")
            continue
        if not resolved.exists():
            problems.append(f"{where} (no such file)")
            continue
        if fragment and resolved.suffix == ".md" and resolved.is_file() and \
                fragment not in anchors(resolved.read_text(encoding="utf-8")):
            problems.append(f"{where} (no heading #{fragment} in {resolved.name})")
    return problems


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


# --- the README ---


def test_readme_is_short() -> None:
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes; move a section into docs/"


def test_readme_opens_with_the_two_commands_ci_runs() -> None:
    """The first code block is `./vb bench` then `./vb test`, as .ci/run runs them."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M)
    assert block, "README.md has no fenced code block"
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    commands = [shlex.split(line, comments=True) for line in lines]
    assert commands == [["./vb", "bench"], ["./vb", "test"]], lines
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    ran = [line.split()[:2] for line in ci if line.startswith("./vb ")]
    assert ran == [["./vb", "bench"], ["./vb", "test"]]


# --- links and anchors ---


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(path: Path) -> None:
    assert not broken_links(path), "\n".join(broken_links(path))


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(README.parent / target.partition("#")[0]).resolve()
              for _, target in link_targets(README.read_text(encoding="utf-8"))}
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert not missing, f"docs pages the README's list does not name: {missing}"


def test_the_link_check_catches_broken_links(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("# A page\n\n## Two words, `code` & more\n")
    (tmp_path / "pic.png").write_bytes(b"")
    doc = tmp_path / "README.md"
    doc.write_text(
        "# Title\n\n## Same\n\n## Same\n\n"
        "[ok](docs/page.md) [ok](docs/page.md#two-words-code--more) ![ok](pic.png)\n"
        "[ok](#same-1) [ok](<docs/page.md> \"title\") [web](https://example.com/x.md)\n"
        "[mail](mailto:a@b.c) `[in code](nowhere.md)` [ok][ref]\n\n"
        "[ref]: docs/page.md#a-page\n\n"
        "```markdown\n[in a fence](nowhere.md)\n```\n"
        "~~~\n```\n[still fenced](nowhere.md)\n~~~\n")
    assert broken_links(doc, tmp_path) == []

    doc.write_text("[gone](docs/missing.md) [anchor](docs/page.md#no-such) [self](#none)\n"
                   "![img](missing.png) [up](../outside.md)\n[ref]: docs/missing-too.md\n")
    assert broken_links(doc, tmp_path) == [
        "README.md:1: docs/missing.md (no such file)",
        "README.md:1: docs/page.md#no-such (no heading #no-such in page.md)",
        "README.md:1: #none (no heading #none in README.md)",
        "README.md:2: missing.png (no such file)",
        "README.md:2: ../outside.md (outside the repository)",
        "README.md:3: docs/missing-too.md (no such file)",
    ]


def test_slugs_follow_github() -> None:
    assert slug("What happens when…") == "what-happens-when"
    assert slug("The history's integrity") == "the-historys-integrity"
    assert slug("🔴 4 regressions; worst: +51.8%") == "-4-regressions-worst-518"
    assert slug("`pytest --vidbench` (the plugin)") == "pytest---vidbench-the-plugin"
    assert slug("Real runs: one model at +15%, fresh pages (2026-12-04)") == \
        "real-runs-one-model-at-15-fresh-pages-2026-12-04"


# --- the machine-written calibration blocks ---


@pytest.mark.parametrize("label", [None, "thp", "fresh-pages", "gate-drift"])
def test_calibration_blocks_are_where_the_writer_looks(tmp_path: Path, label: str | None) -> None:
    """`python -m pytest_vidbench.calibrate ... --readme docs/calibration.md` finds each block,
    once, and writing its present content back changes nothing around it."""
    from pytest_vidbench.calibrate.__main__ import markers, write_block

    text = CALIBRATION.read_text(encoding="utf-8")
    begin, end = markers(label)
    assert "--readme docs/calibration.md" in begin
    assert text.count(begin) == 1 and text.count(end) == 1
    block = text.split(begin, 1)[1].split(end, 1)[0]
    assert block.startswith("\n") and block.endswith("\n") and block.strip()
    copy = tmp_path / "calibration.md"
    copy.write_bytes(CALIBRATION.read_bytes())
    write_block(copy, block[1:-1], label)
    assert copy.read_bytes() == CALIBRATION.read_bytes()


def test_the_readme_holds_no_calibration_block() -> None:
    comments = re.findall(r"<!--.*?-->", README.read_text(encoding="utf-8"), re.S)
    assert not [c for c in comments if "calibration" in c], "the blocks live in docs/calibration.md"
