"""Word (``.docx``) through python-docx, walking the body XML in document order.

Paragraphs styled "Title" or "Heading N" become headings, numbered or bulleted paragraphs list
items, tables ``| a | b |`` rows where they stand; hyperlink and text-box text is kept, content
controls are opened, tracked deletions and field codes are not text.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knowledge.loaders.markup import (
    ParsedText,
    clean_inline,
    first_heading,
    heading,
    join_blocks,
    normalise_markdown,
    table_row,
    title_line,
)
from models.errors import UnsupportedDocument

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_P, _TBL, _TR, _TC, _SDT, _SDT_CONTENT, _CUSTOM_XML = (
    f"{_W}p", f"{_W}tbl", f"{_W}tr", f"{_W}tc", f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml"
)  # fmt: skip
_T, _TAB, _BR, _CR, _PPR, _RPR = f"{_W}t", f"{_W}tab", f"{_W}br", f"{_W}cr", f"{_W}pPr", f"{_W}rPr"
_HEADING_STYLE = re.compile(r"^(?:heading|überschrift)\s*(\d)", re.IGNORECASE)
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def parse_docx(data: bytes, path: Path) -> ParsedText:
    if data.startswith(_OLE_MAGIC):
        raise UnsupportedDocument(
            str(path), "not a .docx file (an old Word .doc or a password-protected file)"
        )
    if not data.startswith(_ZIP_MAGIC):
        raise UnsupportedDocument(str(path), "not a .docx file (not a ZIP archive)")
    document = _open(data, path)
    styles = _style_names(document)
    blocks: list[str] = []
    title_paragraph: str | None = None
    for kind, element in _body_items(document.element.body):
        if kind == "table":
            blocks.append("\n".join(row for row in _table_rows(element) if row))
            continue
        text = _paragraph_text(element)
        style = styles.get(_style_id(element), "").lower()
        if style == "title":
            blocks.append(heading(1, text))
            title_paragraph = title_paragraph or title_line(text) or None
        elif match := _HEADING_STYLE.match(style):
            blocks.append(heading(int(match.group(1)), text))
        elif _is_list_item(element, style):
            line = clean_inline(text)
            blocks.append(f"- {line}" if line else "")
        else:
            blocks.append("\n".join(clean_inline(part) for part in text.split("\n")))
    text = normalise_markdown(join_blocks(blocks))
    core_title = _core_title(document)
    return ParsedText(text=text, title=core_title or title_paragraph or first_heading(text))


def _open(data: bytes, path: Path) -> DocxDocument:
    import docx

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return docx.Document(io.BytesIO(data))
    except Exception as exc:  # PackageNotFoundError, KeyError, XMLSyntaxError, BadZipFile, ...
        raise UnsupportedDocument(str(path), f"damaged .docx file ({type(exc).__name__})") from exc


def _style_names(document: DocxDocument) -> dict[str, str]:
    names: dict[str, str] = {}
    try:
        for style in document.styles:
            if style.style_id and style.name:
                names[style.style_id] = style.name
    except Exception:  # a broken styles part only costs us the headings
        return names
    return names


def _style_id(paragraph: Any) -> str:
    ppr = paragraph.find(_PPR)
    if ppr is None:
        return ""
    pstyle = ppr.find(f"{_W}pStyle")
    return str(pstyle.get(f"{_W}val", "")) if pstyle is not None else ""


def _is_list_item(paragraph: Any, style: str) -> bool:
    ppr = paragraph.find(_PPR)
    return "list" in style or (ppr is not None and ppr.find(f"{_W}numPr") is not None)


def _body_items(container: Any) -> Iterator[tuple[str, Any]]:
    """Paragraphs and tables in document order, looking inside content controls."""
    for child in container.iterchildren():
        if child.tag == _P:
            yield "paragraph", child
        elif child.tag == _TBL:
            yield "table", child
        elif child.tag == _SDT:
            content = child.find(_SDT_CONTENT)
            if content is not None:
                yield from _body_items(content)
        elif child.tag == _CUSTOM_XML:
            yield from _body_items(child)


def _paragraph_text(element: Any) -> str:
    """Visible text of a paragraph (or a cell): runs, hyperlinks, fields, text boxes."""
    parts: list[str] = []
    stack = [iter(element)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
        tag = child.tag
        if tag == _T:
            parts.append(child.text or "")
        elif tag == _TAB:
            parts.append(" ")
        elif tag in (_BR, _CR):
            parts.append("\n")
        elif tag == _P and parts:
            parts.append("\n")  # a paragraph inside a text box or cell starts a new line
            stack.append(iter(child))
        elif tag not in (_MC_FALLBACK, _PPR, _RPR) and isinstance(tag, str):
            stack.append(iter(child))
    return "".join(parts)


def _table_rows(table: Any) -> list[str]:
    rows: list[str] = []
    for row in _children(table, _TR):
        cells = [clean_inline(_paragraph_text(cell)) for cell in _children(row, _TC)]
        rows.append(table_row(cells))
    return rows


def _children(element: Any, tag: str) -> Iterator[Any]:
    """Children with ``tag``, also when wrapped in content controls or custom XML."""
    for child in element.iterchildren():
        if child.tag == tag:
            yield child
        elif child.tag == _SDT:
            content = child.find(_SDT_CONTENT)
            if content is not None:
                yield from _children(content, tag)
        elif child.tag == _CUSTOM_XML:
            yield from _children(child, tag)


def _core_title(document: DocxDocument) -> str | None:
    try:
        title = document.core_properties.title
    except Exception:  # a broken core.xml only costs us the metadata title
        return None
    return title_line(title) or None if title else None
