"""Heading-aware chunking of a ``Document``'s light-Markdown text.

The text is cut into sections at heading lines; each section is packed into chunks of about
``target_tokens`` with ``overlap_tokens`` carried over between neighbouring chunks of the same
section. Every chunk keeps its heading path ("Title > Section > Subsection"). Sections too small
to stand alone are merged into the next one (their heading line stays inside the text). No chunk
is empty and no two chunks of one document have the same text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from knowledge.documents import Chunk, Document, chunk_id_for

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+")


def estimate_tokens(text: str) -> int:
    """A cheap, model-independent token estimate (about 4 characters per token)."""
    return math.ceil(len(text) / 4)


@dataclass(frozen=True)
class ChunkingConfig:
    target_tokens: int = 300
    overlap_tokens: int = 40
    min_section_tokens: int = 25


@dataclass
class _Section:
    path: list[str]
    blocks: list[str]
    heading_line: str = ""


def _sections(text: str) -> Iterator[_Section]:
    stack: list[tuple[int, str]] = []
    current = _Section(path=[], blocks=[])
    paragraph: list[str] = []

    def flush_paragraph() -> None:
        if paragraph:
            block = "\n".join(paragraph).strip()
            if block:
                current.blocks.append(block)
            paragraph.clear()

    in_code = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
            paragraph.append(line)
            continue
        match = None if in_code else _HEADING.match(line)
        if match:
            flush_paragraph()
            yield current
            level, title = len(match.group(1)), match.group(2).strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
            current = _Section(path=[t for _, t in stack], blocks=[], heading_line=line.strip())
        elif not line.strip():
            flush_paragraph()
        elif line.lstrip().startswith(("- ", "* ", "| ")) or re.match(r"^\s*\d+[.)]\s", line):
            # list items and table rows are blocks of their own, so they can be packed finely
            flush_paragraph()
            current.blocks.append(line.strip())
        else:
            paragraph.append(line.strip())
    flush_paragraph()
    yield current


def _split_long(block: str, limit: int) -> list[str]:
    """Cut a block longer than ``limit`` tokens into sentences (and over-long sentences into
    word runs), each at most ``limit`` tokens."""
    if estimate_tokens(block) <= limit:
        return [block]
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(block):
        if estimate_tokens(sentence) <= limit:
            pieces.append(sentence)
            continue
        current = ""
        for word in sentence.split():
            word = word[: limit * 4]
            candidate = f"{current} {word}".strip()
            if estimate_tokens(candidate) > limit and current:
                pieces.append(current)
                current = word
            else:
                current = candidate
        if current:
            pieces.append(current)
    return [p for p in pieces if p.strip()]


def _tail(text: str, tokens: int) -> str:
    """The last ``tokens`` worth of ``text``, starting at a sentence or word boundary."""
    if tokens <= 0:
        return ""
    budget = tokens * 4
    if len(text) <= budget:
        return text
    cut = text[-budget:]
    for boundary in (". ", "\n", " "):
        at = cut.find(boundary)
        if 0 <= at < len(cut) - len(boundary):
            return cut[at + len(boundary) :].lstrip()
    return cut


def _pack(blocks: list[str], config: ChunkingConfig) -> list[str]:
    limit = config.target_tokens
    overlap = min(config.overlap_tokens, limit // 3)
    # units remember their block, so sentences of one paragraph are re-joined with a space
    units = [
        (piece, index)
        for index, block in enumerate(blocks)
        for piece in _split_long(block, limit - overlap)
    ]
    chunks: list[str] = []
    text, last_block = "", -1
    for unit, block_index in units:
        joiner = " " if block_index == last_block else "\n\n"
        candidate = f"{text}{joiner}{unit}" if text else unit
        if text and estimate_tokens(candidate) > limit:
            chunks.append(text)
            carried = _tail(text, overlap)
            text = f"{carried}{joiner}{unit}" if carried else unit
        else:
            text = candidate
        last_block = block_index
    if text:
        chunks.append(text)
    return chunks


def heading_path(title: str, path: list[str]) -> str:
    parts = [title] if title else []
    for part in path:
        if not parts or part.casefold() != parts[-1].casefold():
            parts.append(part)
    return " > ".join(parts)


def chunk_document(document: Document, config: ChunkingConfig | None = None) -> list[Chunk]:
    config = config or ChunkingConfig()
    sections = [s for s in _sections(document.text) if s.blocks or s.heading_line]
    chunks: list[Chunk] = []
    seen: set[str] = set()
    carry: list[str] = []
    carry_path: list[str] | None = None
    for index, section in enumerate(sections):
        blocks = section.blocks
        path = section.path
        if carry:
            # a too-small section joins the next one; the chunk takes the deeper heading path
            blocks = [*carry, *blocks]
            if carry_path is not None and len(carry_path) > len(path):
                path = carry_path
            carry, carry_path = [], None
        size = estimate_tokens("\n\n".join(blocks))
        is_last = index == len(sections) - 1
        if size < config.min_section_tokens and not is_last:
            next_heading = sections[index + 1].heading_line
            carry = [*blocks, next_heading] if blocks and next_heading else list(blocks)
            carry_path = path
            continue
        for text in _pack(blocks, config):
            text = text.strip()
            if not text or text in seen:
                continue
            seen.add(text)
            position = len(chunks)
            chunks.append(
                Chunk(
                    chunk_id=chunk_id_for(document.source, document.source_id, position, text),
                    text=text,
                    source_id=document.source_id,
                    title=document.title,
                    heading=heading_path(document.title, path),
                    position=position,
                    language=document.language,
                    acl=document.acl,
                    content_hash=document.content_hash,
                    source=document.source,
                    format=document.format,
                )
            )
    return chunks
