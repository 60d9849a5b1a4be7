"""PDF (``.pdf``) through pypdf's text layer, page by page.

Pages without text are reported in the warnings; a PDF without any text layer is unsupported
(it needs OCR, which Lotse does not do). Encrypted PDFs are opened with the empty password
when that works (owner-password "copy protection"), otherwise refused.
"""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge.loaders.markup import ParsedText, first_line, join_blocks, normalise_markdown
from models.errors import UnsupportedDocument

if TYPE_CHECKING:
    from pypdf import PdfReader

logger = logging.getLogger(__name__)

MAX_LISTED_PAGES = 10
_GENERIC_TITLES = frozenset({"untitled", "title", "document", "microsoft word", "slide 1"})


def parse_pdf(data: bytes, path: Path) -> ParsedText:
    if b"%PDF-" not in data[:1024]:
        raise UnsupportedDocument(str(path), "not a PDF file (no %PDF header)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pypdf reports repairable damage as warnings
        reader = _open(data, path)
        pages: list[str] = []
        empty: list[int] = []
        unreadable: list[int] = []
        for number, page in enumerate(reader.pages, start=1):
            try:
                text = page.extract_text() or ""
            except Exception as exc:  # pypdf raises many types on damaged content streams
                logger.debug("pdf page failed page=%d error=%r", number, exc)
                unreadable.append(number)
                continue
            text = normalise_markdown(text)
            if text:
                pages.append(text)
            else:
                empty.append(number)
        title = _metadata_title(reader)
    if not pages:
        raise UnsupportedDocument(str(path), "no text layer (scanned PDF?)")
    notes = []
    if empty:
        notes.append(f"{_page_list(empty)} no text layer (scanned?)")
    if unreadable:
        notes.append(f"{_page_list(unreadable)} could not be read")
    text = join_blocks(pages)
    return ParsedText(
        text=text,
        title=title or first_line(text),
        warnings=tuple(notes),
        metadata={"pages": str(len(pages) + len(empty) + len(unreadable))},
    )


def _open(data: bytes, path: Path) -> PdfReader:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                unlocked = reader.decrypt("")
            except (PyPdfError, NotImplementedError, ValueError) as exc:
                raise UnsupportedDocument(str(path), "encrypted PDF") from exc
            if not unlocked:
                raise UnsupportedDocument(str(path), "encrypted PDF")
        _ = len(reader.pages)
    except UnsupportedDocument:
        raise
    except Exception as exc:  # damaged files raise anything from PdfReadError to KeyError
        raise UnsupportedDocument(str(path), f"damaged PDF ({type(exc).__name__})") from exc
    return reader


def _metadata_title(reader: PdfReader) -> str | None:
    try:
        metadata = reader.metadata
        raw = metadata.title if metadata is not None else None
    except Exception:  # broken info dictionaries are common and harmless
        return None
    if not isinstance(raw, str):
        return None
    title = first_line(raw.removeprefix("Microsoft Word - "))
    if not title or title.lower() in _GENERIC_TITLES:
        return None
    return title


def _page_list(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:MAX_LISTED_PAGES])
    if len(numbers) > MAX_LISTED_PAGES:
        shown += f" and {len(numbers) - MAX_LISTED_PAGES} more"
    return f"page {shown} has" if len(numbers) == 1 else f"pages {shown} have"
