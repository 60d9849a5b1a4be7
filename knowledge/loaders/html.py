"""HTML (``.html``, ``.htm``, and HTML e-mail bodies) to light Markdown, main text only.

Page chrome and non-text (script, style, nav, page-level header/footer, aside, form, svg,
iframe, template, hidden elements) is dropped; ``h1``-``h6`` become headings, ``li`` list
items, table rows ``| a | b |`` (nested tables are flattened into their cell), ``pre`` keeps
its lines. The tree is walked iteratively, so deeply nested markup cannot exhaust the stack.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge.loaders.encoding import decode_bytes, sniff_encoding
from knowledge.loaders.markup import (
    ParsedText,
    clean_inline,
    heading,
    join_blocks,
    normalise_markdown,
    table_row,
    title_line,
)

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

DROPPED_TAGS = frozenset(
    {
        "script", "style", "noscript", "nav", "aside", "form", "svg", "iframe", "template",
        "head", "object", "embed", "canvas", "select", "textarea", "audio", "video", "map",
        "button", "input", "math", "dialog",
    }
)  # fmt: skip
PAGE_CHROME_TAGS = frozenset({"header", "footer"})  # dropped unless inside article/main
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "blockquote", "body", "center", "dd", "details", "dir", "div",
        "dl", "dt", "fieldset", "figcaption", "figure", "footer", "header", "hgroup", "hr",
        "html", "legend", "li", "main", "menu", "ol", "p", "section", "summary", "ul",
        "caption", "tbody", "thead", "tfoot", "table", "tr", "td", "th", "pre",
        "h1", "h2", "h3", "h4", "h5", "h6",
    }
)  # fmt: skip
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.I)
_CHROME_NAMES = re.compile(r"cookie|consent|breadcrumb|skip-?link|newsletter", re.I)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


def decode_html(data: bytes) -> tuple[str, str]:
    """Decode HTML bytes: BOM / UTF-16 pattern, then ``<meta charset>``, then the fallbacks."""
    if sniff_encoding(data):
        return decode_bytes(data)
    declared = _META_CHARSET.search(data[:8192])
    return decode_bytes(data, declared.group(1).decode("ascii") if declared else None)


def parse_html(data: bytes, path: Path) -> ParsedText:
    markup, encoding = decode_html(data)
    parsed = html_to_markdown(markup)
    return ParsedText(text=parsed.text, title=parsed.title, metadata={"encoding": encoding})


def html_to_markdown(markup: str) -> ParsedText:
    """Convert an HTML string; the title is ``<title>`` or else the first ``h1``."""
    soup = _soup(markup)
    title = _title(soup)
    builder = _Builder()
    _walk(_main_content(soup), builder)
    return ParsedText(text=normalise_markdown(join_blocks(builder.finish())), title=title)


def _soup(markup: str) -> BeautifulSoup:
    from bs4 import BeautifulSoup

    # Drop an XML declaration: lxml refuses str input that declares its own encoding.
    markup = re.sub(r"\A\s*<\?xml[^>]*\?>", "", markup)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bs4's "looks like XML/a URL" hints are not errors here
        return BeautifulSoup(markup, "lxml")


def _title(soup: BeautifulSoup) -> str | None:
    for tag_name in ("title", "h1"):
        tag = soup.find(tag_name)
        if tag is not None:
            text = title_line(tag.get_text(" "))
            if text:
                return text
    return None


def _main_content(soup: BeautifulSoup) -> Tag:
    """The page's ``<main>`` (or ``role="main"``) when it holds real text, else the whole page."""
    from bs4 import Tag

    main = soup.find("main") or soup.find(None, {"role": "main"})
    if isinstance(main, Tag) and len(main.get_text(" ", strip=True)) >= 80:
        return main
    return soup


def _is_chrome(attrs: Mapping[str, object]) -> bool:
    """Boilerplate blocks recognised by their class or id (cookie banners, breadcrumbs)."""
    names: list[str] = []
    for key in ("class", "id"):
        value = attrs.get(key)
        if isinstance(value, str):
            names.append(value)
        elif isinstance(value, list):
            names.extend(str(v) for v in value)
    return any(_CHROME_NAMES.search(name) for name in names)


def _dropped(tag: Tag) -> bool:
    name = tag.name
    if name in DROPPED_TAGS:
        return True
    if name in PAGE_CHROME_TAGS:
        return tag.find_parent(["article", "main"]) is None
    attrs = tag.attrs
    if not attrs:
        return False
    if "hidden" in attrs or attrs.get("aria-hidden") == "true" or _is_chrome(attrs):
        return True
    style = attrs.get("style")
    return isinstance(style, str) and _HIDDEN_STYLE.search(style) is not None


def _walk(soup: Tag, builder: _Builder) -> None:
    from bs4.element import NavigableString, PreformattedString, Tag

    stack: list[tuple[Tag, object]] = [(soup, iter(soup.children))]
    while stack:
        node, children = stack[-1]
        child = next(children, None)  # type: ignore[call-overload]
        if child is None:
            stack.pop()
            if node is not soup:
                builder.exit(node.name)
            continue
        if isinstance(child, Tag):
            if _dropped(child):
                continue
            builder.enter(child.name)
            stack.append((child, iter(child.children)))
        elif isinstance(child, NavigableString) and not isinstance(child, PreformattedString):
            builder.text(str(child))


class _Builder:
    """Collects light-Markdown blocks from enter/text/exit events."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.buffer: list[str] = []
        self.list_prefix = False
        self.pre_depth = 0
        self.table_depth = 0
        self.row: list[str] | None = None
        self.rows: list[str] = []
        self.cell_open = False

    def finish(self) -> list[str]:
        self.flush()
        return self.blocks

    def text(self, value: str) -> None:
        if self.pre_depth:
            self.buffer.append(value)
        else:
            self.buffer.append(re.sub(r"\s+", " ", value))

    def enter(self, name: str) -> None:
        if name == "br":
            self.buffer.append("\n")
        elif self.table_depth > 1 or (self.cell_open and name in _BLOCK_TAGS):
            self.buffer.append(" ")
            if name == "table":
                self.table_depth += 1
        elif name == "table":
            self.flush()
            self.table_depth += 1
        elif name == "tr" and self.table_depth == 1:
            self.flush()
            self.row = []
        elif name in ("td", "th") and self.table_depth == 1:
            self.flush()
            self.cell_open = True
        elif name == "pre":
            self.flush()
            self.pre_depth += 1
        elif name == "li":
            self.flush()
            self.list_prefix = True
        elif name in _BLOCK_TAGS:
            self.flush()

    def exit(self, name: str) -> None:
        if name == "table":
            if self.table_depth == 1:
                self.end_row()
                self.flush()
                self.blocks.append("\n".join(row for row in self.rows if row))
                self.rows = []
            else:
                self.buffer.append(" ")
            self.table_depth = max(0, self.table_depth - 1)
        elif self.table_depth > 1:
            if name in _BLOCK_TAGS:
                self.buffer.append(" ")
        elif name in ("td", "th") and self.table_depth == 1 and self.cell_open:
            if self.row is None:
                self.row = []
            self.row.append(clean_inline("".join(self.buffer)))
            self.buffer.clear()
            self.cell_open = False
        elif name == "tr" and self.table_depth == 1:
            self.end_row()
        elif self.cell_open:
            if name in _BLOCK_TAGS:
                self.buffer.append(" ")
        elif name in _HEADINGS:
            text = "".join(self.buffer)
            self.buffer.clear()
            self.blocks.append(heading(_HEADINGS[name], text))
            self.list_prefix = False
        elif name == "pre":
            self.pre_depth = max(0, self.pre_depth - 1)
            if not self.pre_depth:
                self.flush_pre()
        elif name in _BLOCK_TAGS:
            self.flush()

    def end_row(self) -> None:
        if self.cell_open:
            self.exit("td")
        if self.row is not None:
            self.rows.append(table_row(self.row))
            self.row = None

    def flush(self) -> None:
        if self.cell_open:
            self.buffer.append(" ")
            return
        if self.pre_depth:
            return
        text = "".join(self.buffer)
        self.buffer.clear()
        lines = [line for line in (clean_inline(part) for part in text.split("\n")) if line]
        if not lines:
            return
        if self.list_prefix:
            lines[0] = f"- {lines[0]}"
            self.list_prefix = False
        self.blocks.append("\n".join(lines))

    def flush_pre(self) -> None:
        text = "".join(self.buffer)
        self.buffer.clear()
        lines = [line.rstrip() for line in text.split("\n")]
        block = "\n".join(lines).strip("\n")
        if block.strip():
            self.blocks.append(block)
