"""E-mail (``.eml``): a short header block, the body, then the attachment names.

Uses the stdlib parser with ``policy.default``; every step that malformed mail can break
(headers, charsets, MIME structure) has a fallback. The body prefers text/plain and falls back
to the HTML part converted like an HTML file. Encrypted mail (S/MIME, PGP) without readable
text is unsupported.
"""

from __future__ import annotations

import logging
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path

from knowledge.loaders.encoding import decode_bytes, sniff_encoding
from knowledge.loaders.html import html_to_markdown
from knowledge.loaders.markup import ParsedText, clean_inline, join_blocks, normalise_markdown
from models.errors import UnsupportedDocument

logger = logging.getLogger(__name__)

HEADER_NAMES = ("From", "To", "Date", "Subject")
_ENCRYPTED_TYPES = frozenset(
    {"multipart/encrypted", "application/pkcs7-mime", "application/x-pkcs7-mime"}
)
_PGP_BLOCK = "-----BEGIN PGP MESSAGE-----"


def format_mail(headers: dict[str, str], body: str, attachments: list[str]) -> str:
    """The shared text shape of ``.eml`` and ``.msg`` documents."""
    header_block = "\n".join(
        f"{name}: {clean_inline(headers[name])}" for name in HEADER_NAMES if headers.get(name)
    )
    attachment_line = f"Attachments: {', '.join(attachments)}" if attachments else ""
    return normalise_markdown(join_blocks([header_block, body, attachment_line]))


def body_from_html(html: str) -> str:
    return html_to_markdown(html).text


def is_pgp_only(body: str) -> bool:
    return body.strip().startswith(_PGP_BLOCK)


def parse_eml(data: bytes, path: Path) -> ParsedText:
    sniffed = sniff_encoding(data)
    if sniffed and sniffed != "utf-8":  # whole file saved as UTF-16/32 by some tools
        data = decode_bytes(data)[0].encode("utf-8")
    message = BytesParser(policy=policy.default).parsebytes(data)
    headers = {name: _header(message, data, name) for name in HEADER_NAMES}
    attachments = _attachment_names(message)
    body = _body(message)
    encrypted = _is_encrypted(message) or is_pgp_only(body)
    if encrypted:
        body = "" if is_pgp_only(body) else body
        if not body:
            raise UnsupportedDocument(
                str(path), "encrypted e-mail (S/MIME or PGP), no readable text"
            )
    if not body and not attachments:
        raise UnsupportedDocument(str(path), "no text")
    metadata = {name.lower(): headers[name] for name in HEADER_NAMES if headers[name]}
    if attachments:
        metadata["attachments"] = ", ".join(attachments)
    return ParsedText(
        text=format_mail(headers, body, attachments),
        title=clean_inline(headers["Subject"]) or None,
        metadata=metadata,
    )


def _header(message: EmailMessage, data: bytes, name: str) -> str:
    try:
        value = message[name]
        return clean_inline(str(value)) if value is not None else ""
    except Exception as exc:  # malformed headers can raise in the policy.default parser
        logger.debug("eml header fallback header=%s error=%r", name, exc)
    legacy = BytesParser(policy=policy.compat32).parsebytes(data, headersonly=True)
    raw = legacy.get(name)
    if raw is None:
        return ""
    try:
        return clean_inline(str(make_header(decode_header(str(raw)))))
    except Exception:  # undecodable encoded-words: keep the raw text
        return clean_inline(str(raw))


def _is_encrypted(message: Message) -> bool:
    return message.get_content_type() in _ENCRYPTED_TYPES


def _body(message: EmailMessage) -> str:
    plain, html = _text_parts(message)
    for part in plain:
        text = normalise_markdown(_decoded(part))
        if text:
            return text
    for part in html:
        text = body_from_html(_decoded(part))
        if text:
            return text
    return ""


def _text_parts(message: EmailMessage) -> tuple[list[Message], list[Message]]:
    """Candidate body parts, best first: ``get_body``'s choice, then any inline text part."""
    plain: list[Message] = []
    html: list[Message] = []
    try:
        preferred = message.get_body(preferencelist=("plain", "html"))
    except Exception:  # broken MIME trees
        preferred = None
    if preferred is not None:
        (html if preferred.get_content_subtype() == "html" else plain).append(preferred)
    for part in message.walk():
        if part.is_multipart() or _disposition(part) == "attachment":
            continue
        content_type = part.get_content_type()
        if content_type == "text/plain":
            plain.append(part)
        elif content_type == "text/html":
            html.append(part)
    return plain, html


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _decoded(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # broken transfer encoding
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    return decode_bytes(payload, charset)[0]


def _attachment_names(message: EmailMessage) -> list[str]:
    names: list[str] = []
    for part in message.walk():
        if part is message or part.is_multipart():
            continue
        try:
            filename = part.get_filename()
        except Exception:  # undecodable RFC 2231 parameters
            filename = None
        if filename:
            names.append(clean_inline(filename))
        elif _disposition(part) == "attachment":
            names.append(f"unnamed {part.get_content_type()}")
    return names
