"""Light Markdown, the one text shape every loader produces (see ``knowledge.documents``).

Format parsers return a ``ParsedText``; ``normalise_markdown`` then gives every format the same
whitespace rules: NFC Unicode, ``\\n`` line ends, no control or zero-width characters, single
spaces inside lines, one blank line between blocks, headings as ``#``/``##``/``###`` lines and
no empty headings. Fenced code blocks keep their indentation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_HEADING_LEVEL = 3
MAX_TITLE_CHARS = 200


@dataclass(frozen=True)
class ParsedText:
    """What a format parser found: light Markdown text plus what it learned on the way."""

    text: str
    title: str | None = None
    warnings: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)


_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_HEADING = re.compile(r"^(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def clean_inline(text: str) -> str:
    """Collapse all whitespace (including newlines) to single spaces, strip the ends."""
    return " ".join(_INVISIBLE.sub("", text).split())


def heading(level: int, text: str) -> str:
    """A Markdown heading line, or ``""`` when ``text`` is empty."""
    text = clean_inline(text)
    if not text:
        return ""
    return f"{'#' * max(1, min(level, MAX_HEADING_LEVEL))} {text}"


def table_row(cells: Iterable[str]) -> str:
    """``| a | b |``; pipes inside cells are escaped; ``""`` when every cell is empty."""
    cleaned = [clean_inline(cell).replace("|", "\\|") for cell in cells]
    if not any(cleaned):
        return ""
    return "| " + " | ".join(cleaned) + " |"


def join_blocks(blocks: Iterable[str]) -> str:
    """Join non-empty blocks with one blank line."""
    return "\n\n".join(block for block in blocks if block.strip())


def normalise_markdown(text: str) -> str:
    """Apply the shared whitespace and heading rules (idempotent)."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub(" ", text)
    out: list[str] = []
    in_fence = False
    for raw in text.split("\n"):
        if _FENCE.match(raw):
            in_fence = not in_fence
            out.append(raw.strip())
            continue
        if in_fence:
            out.append(raw.rstrip().replace("\t", "    "))
            continue
        line = _SPACES.sub(" ", raw).strip()
        match = _HEADING.match(line)
        if match:
            line = heading(len(match.group(1)), match.group(2) or "")
            if not line:
                continue
        out.append(line)
    return _collapse_blank_lines(out)


def _collapse_blank_lines(lines: list[str]) -> str:
    result: list[str] = []
    for line in lines:
        if not line and (not result or not result[-1]):
            continue
        result.append(line)
    return "\n".join(result).strip("\n")


def title_line(text: str) -> str:
    """A title-sized version of ``text``: one line, at most ``MAX_TITLE_CHARS`` characters."""
    line = clean_inline(text.lstrip("#").strip())
    if len(line) > MAX_TITLE_CHARS:
        line = line[: MAX_TITLE_CHARS - 1].rstrip() + "…"
    return line


def first_heading(text: str, level: int | None = None) -> str | None:
    """The first heading of ``level`` (any level when ``None``) in normalised Markdown."""
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence or not line.startswith("#"):
            continue
        match = _HEADING.match(line)
        if match and match.group(2) and (level is None or len(match.group(1)) == level):
            return title_line(match.group(2))
    return None


def first_line(text: str) -> str | None:
    """The first line with at least three letters (not a page number or a date), as a title."""
    for line in text.split("\n"):
        candidate = title_line(line.lstrip("-|").strip())
        if sum(char.isalpha() for char in candidate) >= 3:
            return candidate
    return None
