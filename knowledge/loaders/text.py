"""Plain text (``.txt``, ``.text``) in any common encoding."""

from __future__ import annotations

from pathlib import Path

from knowledge.loaders.encoding import control_char_ratio, decode_bytes
from knowledge.loaders.markup import ParsedText, normalise_markdown
from models.errors import UnsupportedDocument

# More NULs/control characters than this, after decoding, means the file is not text.
MAX_CONTROL_RATIO = 0.005

_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF file"),
    (b"PK\x03\x04", "a ZIP archive or Office file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office (OLE) file"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x7fELF", "a program"),
)


def decode_text_file(data: bytes, path: Path, declared: str | None = None) -> tuple[str, str]:
    """Decode a file that should be text; raise ``UnsupportedDocument`` for binary content."""
    for magic, what in _BINARY_MAGIC:
        if data.startswith(magic):
            raise UnsupportedDocument(str(path), f"binary content (looks like {what})")
    text, encoding = decode_bytes(data, declared)
    if control_char_ratio(text) > MAX_CONTROL_RATIO:
        raise UnsupportedDocument(str(path), "binary content")
    return text, encoding


def parse_text(data: bytes, path: Path) -> ParsedText:
    text, encoding = decode_text_file(data, path)
    return ParsedText(text=normalise_markdown(text), metadata={"encoding": encoding})
