"""Outlook ``.msg`` through extract-msg, in the same shape as an ``.eml`` document."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from knowledge.loaders.eml import body_from_html, format_mail, is_pgp_only
from knowledge.loaders.encoding import decode_bytes
from knowledge.loaders.markup import ParsedText, clean_inline, normalise_markdown
from models.errors import UnsupportedDocument

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def parse_msg(data: bytes, path: Path) -> ParsedText:
    if not data.startswith(_OLE_MAGIC):
        raise UnsupportedDocument(str(path), "not an Outlook .msg file")
    import extract_msg

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            message = extract_msg.openMsg(data)
    except Exception as exc:  # extract-msg raises its own and olefile's errors
        raise UnsupportedDocument(str(path), f"damaged .msg file ({type(exc).__name__})") from exc
    with message:
        headers = {
            "From": _field(message, "sender"),
            "To": _field(message, "to"),
            "Date": _field(message, "date"),
            "Subject": _field(message, "subject"),
        }
        body = normalise_markdown(_field(message, "body"))
        if not body:
            html = _attribute(message, "htmlBody")
            if isinstance(html, bytes):
                body = body_from_html(decode_bytes(html)[0])
        attachments = [_attachment_name(item) for item in _attribute(message, "attachments") or []]
    if is_pgp_only(body):
        raise UnsupportedDocument(str(path), "encrypted e-mail (S/MIME or PGP), no readable text")
    if not body and not attachments:
        raise UnsupportedDocument(str(path), "no text")
    metadata = {name.lower(): value for name, value in headers.items() if value}
    if attachments:
        metadata["attachments"] = ", ".join(attachments)
    return ParsedText(
        text=format_mail(headers, body, attachments),
        title=headers["Subject"] or None,
        metadata=metadata,
    )


def _attribute(message: Any, name: str) -> Any:
    try:
        return getattr(message, name, None)
    except Exception:  # extract-msg parses properties lazily; broken ones raise on access
        return None


def _field(message: Any, name: str) -> str:
    value = _attribute(message, name)
    if value is None:
        return ""
    return str(value) if name == "body" else clean_inline(str(value))


def _attachment_name(attachment: Any) -> str:
    for name in ("longFilename", "shortFilename", "name", "displayName"):
        value = _attribute(attachment, name)
        if isinstance(value, str) and value.strip():
            return clean_inline(value)
    return "unnamed attachment"
