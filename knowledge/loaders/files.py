"""``load_file``: one file in, one ``Document`` out, or ``UnsupportedDocument`` with a reason.

This runs in the calling process and does not enforce ``LoadLimits.timeout_s``; use
``SafeLoader`` for untrusted folders (it runs this function in a worker process it can kill).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from knowledge.documents import DEFAULT_ACL, Document, sha256_bytes
from knowledge.language import detect_language
from knowledge.loaders.docx import parse_docx
from knowledge.loaders.eml import parse_eml
from knowledge.loaders.html import parse_html
from knowledge.loaders.markdown import parse_markdown
from knowledge.loaders.markup import ParsedText
from knowledge.loaders.msg import parse_msg
from knowledge.loaders.pdf import parse_pdf
from knowledge.loaders.text import parse_text
from models.errors import UnsupportedDocument

logger = logging.getLogger(__name__)

Parser = Callable[[bytes, Path], ParsedText]

# suffix -> (Document.format, parser)
FORMATS: MappingProxyType[str, tuple[str, Parser]] = MappingProxyType(
    {
        ".md": ("markdown", parse_markdown),
        ".markdown": ("markdown", parse_markdown),
        ".txt": ("text", parse_text),
        ".text": ("text", parse_text),
        ".html": ("html", parse_html),
        ".htm": ("html", parse_html),
        ".pdf": ("pdf", parse_pdf),
        ".docx": ("docx", parse_docx),
        ".eml": ("eml", parse_eml),
        ".msg": ("msg", parse_msg),
    }
)
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(FORMATS)
LANGUAGE_SAMPLE_CHARS = 50_000


@dataclass(frozen=True)
class LoadLimits:
    """Bounds for one file: raw size, wall time (``SafeLoader`` only), extracted characters."""

    max_bytes: int = 50_000_000
    timeout_s: float = 60.0
    max_chars: int = 2_000_000


def load_file(
    path: Path,
    *,
    source_id: str,
    source: str = "default",
    acl: tuple[str, ...] = DEFAULT_ACL,
    limits: LoadLimits = LoadLimits(),
) -> Document:
    """Read ``path`` and return its ``Document``; raise ``UnsupportedDocument`` otherwise."""
    path = Path(path)
    suffix = path.suffix.lower()
    entry = FORMATS.get(suffix)
    if entry is None:
        raise UnsupportedDocument(str(path), unsupported_format_reason(path))
    doc_format, parser = entry
    started = time.monotonic()
    try:
        stat = path.stat()
        check_size(path, stat.st_size, limits)
        data = path.read_bytes()
    except OSError as exc:
        raise UnsupportedDocument(str(path), f"cannot read the file ({exc.strerror})") from exc
    try:
        parsed = parser(data, path)
    except (UnsupportedDocument, MemoryError):
        raise
    except RecursionError as exc:
        raise UnsupportedDocument(str(path), "structure too deeply nested to read") from exc
    except Exception as exc:  # parsers of untrusted files fail in many ways; name it, go on
        logger.warning(
            "loader failed source_id=%s format=%s error=%s",
            source_id,
            doc_format,
            type(exc).__name__,
        )
        logger.debug("loader failure detail source_id=%s", source_id, exc_info=True)
        raise UnsupportedDocument(
            str(path), f"could not read the {doc_format} file ({type(exc).__name__})"
        ) from exc
    text = parsed.text
    if not text.strip():
        raise UnsupportedDocument(str(path), "no text")
    warnings = list(parsed.warnings)
    if len(text) > limits.max_chars:
        warnings.append(f"text truncated to {limits.max_chars:,} of {len(text):,} characters")
        text = _truncate(text, limits.max_chars)
    document = Document(
        source_id=source_id,
        title=parsed.title or path.stem,
        text=text,
        format=doc_format,
        language=detect_language(text[:LANGUAGE_SAMPLE_CHARS]),
        modified=stat.st_mtime,
        content_hash=sha256_bytes(data),
        acl=tuple(acl),
        source=source,
        metadata=dict(parsed.metadata),
        warnings=tuple(warnings),
    )
    logger.info(
        "document loaded source_id=%s format=%s chars=%d warnings=%d ms=%d",
        source_id,
        doc_format,
        len(text),
        len(warnings),
        (time.monotonic() - started) * 1000,
    )
    return document


def unsupported_format_reason(path: Path) -> str:
    suffix = path.suffix.lower()
    return f"unsupported format {suffix}" if suffix else "unsupported format (no file suffix)"


def check_size(path: Path, size: int, limits: LoadLimits) -> None:
    if size > limits.max_bytes:
        raise UnsupportedDocument(
            str(path), f"file is {human_size(size)}, the limit is {human_size(limits.max_bytes)}"
        )


def human_size(size: int) -> str:
    """``812.3 MB``, ``50 MB``, ``1.5 kB``, ``12 bytes``."""
    for unit, factor in (("MB", 1_000_000), ("kB", 1_000)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value.is_integer() else f"{value:.1f} {unit}"
    return f"{size} bytes"


def _truncate(text: str, max_chars: int) -> str:
    """Cut at ``max_chars``, preferring the last line break in the final tenth."""
    cut = text.rfind("\n", int(max_chars * 0.9), max_chars)
    return text[: cut if cut > 0 else max_chars].rstrip()
