"""Atlassian Document Format (Jira Cloud v3 rich text) flattened to plain text.

Block nodes (paragraph, heading, list item, code block, blockquote, table row) end with a line
break; ``hardBreak`` is a line break; mentions, emoji and cards keep their visible text. Unknown
nodes contribute the text of their children, so nothing readable is lost.
"""

from __future__ import annotations

import re
from typing import Any

_BLOCKS = frozenset(
    {
        "paragraph", "heading", "listItem", "codeBlock", "blockquote", "tableRow", "panel",
        "rule", "mediaGroup", "decisionItem", "taskItem",
    }
)  # fmt: skip


def adf_to_text(node: Any) -> str:
    """Plain text of an ADF document (a dict); strings pass through unchanged."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    parts: list[str] = []
    _walk(node, parts)
    text = "".join(parts)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _walk(node: Any, parts: list[str]) -> None:
    if isinstance(node, list):
        for child in node:
            _walk(child, parts)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type", "")
    attrs = node.get("attrs") or {}
    if kind == "text":
        parts.append(str(node.get("text", "")))
    elif kind == "hardBreak":
        parts.append("\n")
    elif kind == "mention":
        parts.append(str(attrs.get("text", "")))
    elif kind == "emoji":
        parts.append(str(attrs.get("text") or attrs.get("shortName", "")))
    elif kind in ("inlineCard", "blockCard"):
        parts.append(str(attrs.get("url", "")))
    elif kind == "tableCell" or kind == "tableHeader":
        _walk(node.get("content", []), parts)
        parts.append(" | ")
    else:
        if kind == "listItem":
            parts.append("- ")
        _walk(node.get("content", []), parts)
    if kind in _BLOCKS:
        parts.append("\n")
