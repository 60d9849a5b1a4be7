"""The value types that flow through ingestion: ``Document`` and ``Chunk``.

A loader turns a file into a ``Document`` whose ``text`` is light Markdown: headings as
``#``/``##``/``###`` lines, list items as ``- ``, table rows as ``| a | b |``, paragraphs
separated by blank lines. The chunker relies on the heading lines for the heading path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

DEFAULT_ACL: tuple[str, ...] = ("everyone",)
# joins groups that must both apply ("agents+hr", see knowledge.tickets.documents); the server
# derives such groups, so a caller's own groups never count when they contain it
COMBINED = "+"


@dataclass(frozen=True)
class Document:
    source_id: str  # path relative to the ingested folder, "/"-separated
    title: str
    text: str  # light Markdown, see module docstring
    format: str  # "markdown", "text", "html", "pdf", "docx", "eml", "msg", "ticket"
    language: str = "und"  # "de", "en", or "und" when undetermined
    modified: float = 0.0  # POSIX timestamp of the file
    content_hash: str = ""  # sha256 of the raw file bytes
    acl: tuple[str, ...] = DEFAULT_ACL
    source: str = "default"  # the registered source (collection of files) it came from
    metadata: dict[str, str] = field(default_factory=dict)  # format-specific extras
    warnings: tuple[str, ...] = ()  # e.g. "pages 3, 7 have no text layer"


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    text: str
    source_id: str
    title: str
    heading: str  # "Title > Section > Subsection"
    position: int  # ordinal within the document
    language: str
    acl: tuple[str, ...]
    content_hash: str  # the document's content hash
    source: str = "default"
    format: str = "text"

    @property
    def embedding_text(self) -> str:
        """What the embedder sees: the heading path gives the passage its context."""
        return f"{self.heading}\n{self.text}" if self.heading else self.text


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunk_id_for(source: str, source_id: str, position: int, text: str) -> str:
    """Stable id: the same chunk of the same document version always gets the same id."""
    digest = hashlib.sha256(f"{source}\x00{source_id}\x00{position}\x00{text}".encode()).hexdigest()
    return digest[:32]
