"""Markdown (``.md``, ``.markdown``): front matter stripped, setext headings made ATX."""

from __future__ import annotations

import re
from pathlib import Path

from knowledge.loaders.markup import (
    ParsedText,
    first_heading,
    normalise_markdown,
    title_line,
)
from knowledge.loaders.text import decode_text_file

_FRONT_MATTER = re.compile(
    r"\A(?:---[ \t]*\n(?P<yaml>.*?)\n(?:---|\.\.\.)"
    r"|\+\+\+[ \t]*\n(?P<toml>.*?)\n\+\+\+)[ \t]*(?:\n|\Z)",
    re.DOTALL,
)
_FRONT_MATTER_TITLE = re.compile(r"^title\s*[:=]\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_SETEXT = re.compile(r"^\s*(=+|-+)\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_BLOCK_START = re.compile(r"^\s*([-*+>|#]|\d+[.)])")


def parse_markdown(data: bytes, path: Path) -> ParsedText:
    text, encoding = decode_text_file(data, path)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    front_title = None
    match = _FRONT_MATTER.match(text)
    if match:
        found = _FRONT_MATTER_TITLE.search(match.group("yaml") or match.group("toml") or "")
        if found:
            front_title = title_line(found.group(1).strip("\"'"))
        text = text[match.end() :]
    text = normalise_markdown(_setext_to_atx(_HTML_COMMENT.sub("", text)))
    title = front_title or first_heading(text, level=1) or first_heading(text)
    return ParsedText(text=text, title=title or None, metadata={"encoding": encoding})


def _setext_to_atx(text: str) -> str:
    """``Title\\n=====`` -> ``# Title`` and ``Section\\n-----`` -> ``## Section``."""
    lines = text.split("\n")
    out: list[str] = []
    in_fence = False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and out and _SETEXT.match(line):
            previous = out[-1]
            if previous.strip() and not _BLOCK_START.match(previous):
                level = 1 if line.strip().startswith("=") else 2
                out[-1] = f"{'#' * level} {previous.strip()}"
                continue
        out.append(line)
    return "\n".join(out)
