"""Small field conversions every ticket parser shares: times, HTML bodies, tags, pydantic errors."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import ValidationError

from knowledge.loaders.html import html_to_markdown
from knowledge.tickets.model import Role


def sender_role(sender: str) -> Role:
    """A ticket system's sender type ("Agent", "System", "Customer", ...) as a message role."""
    lowered = sender.lower()
    return "agent" if lowered == "agent" else "system" if lowered == "system" else "customer"


def parse_when(value: object) -> datetime | None:
    """ISO 8601 (with ``Z``, offsets, a space instead of ``T``), Jira's ``+0000``, or empty."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    text = text.replace("Z", "+00:00")
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)  # Jira: 2024-01-02T10:00:00.000+0100
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"unreadable time {str(value)[:40]!r}") from exc


def body_text(body: str, content_type: str = "") -> str:
    """Plain text of an article body; HTML is converted like an HTML file."""
    looks_html = "html" in content_type.lower() or bool(re.search(r"<(?:p|div|br)\b", body, re.I))
    text = html_to_markdown(body).text if looks_html else body
    return text.replace("\r\n", "\n").strip()


def split_tags(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else re.split(r"[;,|]", str(value))
    return tuple(t for t in (str(i).strip() for i in items) if t)


def describe_error(exc: ValidationError) -> str:
    """One line naming each bad field: ``subject: field required; created: unreadable time``."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "record"
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
