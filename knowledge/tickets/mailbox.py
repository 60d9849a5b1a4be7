"""Mailbox folders: ``.mbox`` files and directories of ``.eml``, grouped into threads.

Messages are threaded by ``Message-ID`` / ``In-Reply-To`` / ``References``: a message joins the
thread of the first referenced message (the thread root). The ticket id is ``mail-`` plus a
digest of the root's Message-ID; the subject is the root's without ``Re:``/``AW:``. The sender of
the first message is the customer; every other sender is an agent. Quoted history (``>`` lines,
``On … wrote:`` / ``Am … schrieb``) is cut from each body. A thread counts as resolved when its
last message is an agent's; that message is the resolution.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path

from knowledge.tickets.fields import body_text
from knowledge.tickets.model import Message as TicketMessage
from knowledge.tickets.model import ParseProblem, ParseResult, Ticket

MAIL_SUFFIXES = (".mbox", ".eml")
_REPLY_PREFIX = re.compile(r"^(?:(?:re|aw|fw|fwd|wg|antw)\s*:\s*)+", re.IGNORECASE)
_QUOTE_INTRO = re.compile(
    r"^(?:On .{4,200} wrote:|Am .{4,200} schrieb .{1,200}:|-----\s*Original Message\s*-----|"
    r"-----\s*Ursprüngliche Nachricht\s*-----|From: .+)\s*$",
    re.MULTILINE,
)
_ID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class Mail:
    message_id: str
    parents: tuple[str, ...]  # References then In-Reply-To, oldest first
    sender: str
    sender_name: str
    subject: str
    when: datetime | None
    text: str


def strip_quoted(text: str) -> str:
    cut = _QUOTE_INTRO.search(text)
    if cut is not None:
        text = text[: cut.start()]
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip()


def _body(message: Message) -> str:
    if isinstance(message, EmailMessage):
        part = message.get_body(preferencelist=("plain", "html"))
        if part is not None:
            content = part.get_content()
            return body_text(str(content), part.get_content_type())
    payload = message.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode(message.get_content_charset() or "utf-8", errors="replace")
    return ""


def _ids(value: object) -> tuple[str, ...]:
    return tuple(_ID.findall(str(value or "")))


def read_mail(message: Message, fallback_id: str) -> Mail:
    name, address = parseaddr(str(message.get("From", "")))
    when: datetime | None
    try:
        when = parsedate_to_datetime(str(message["Date"])) if message.get("Date") else None
    except (TypeError, ValueError):
        when = None
    own = _ids(message.get("Message-ID"))
    references = _ids(message.get("References")) + _ids(message.get("In-Reply-To"))
    return Mail(
        message_id=own[0] if own else f"<{fallback_id}>",
        parents=tuple(dict.fromkeys(references)),
        sender=address.lower(),
        sender_name=name or address,
        subject=str(message.get("Subject", "")).strip(),
        when=when,
        text=strip_quoted(_body(message)),
    )


def split_mbox(data: bytes) -> list[bytes]:
    """The messages of an mbox (read-only; ``>From`` quoting undone)."""
    parts = re.split(rb"(?:\A|\r?\n)From [^\n]*\n", data)
    return [re.sub(rb"(?m)^>(>*From )", rb"\1", part) for part in parts if part.strip()]


def read_path(path: Path) -> tuple[list[Mail], list[ParseProblem]]:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    mails: list[Mail] = []
    problems: list[ParseProblem] = []
    parser = BytesParser(policy=policy.default)
    for file in files:
        suffix = file.suffix.lower()
        try:
            if suffix == ".eml":
                mails.append(read_mail(parser.parsebytes(file.read_bytes()), file.name))
            elif suffix == ".mbox" or file.name == "mbox":
                for index, raw in enumerate(split_mbox(file.read_bytes())):
                    message = parser.parsebytes(raw)
                    mails.append(read_mail(message, f"{file.name}#{index}"))
        except (OSError, ValueError, UnicodeError) as exc:
            problems.append(ParseProblem(file.name, f"unreadable mail: {exc}"))
    return mails, problems


def thread_mails(mails: list[Mail]) -> list[list[Mail]]:
    """Threads in order of their first message; messages in a thread by date."""
    known = {m.message_id for m in mails}
    threads: dict[str, list[Mail]] = {}
    for mail in mails:
        root = next((p for p in mail.parents if p in known), None)
        if root is None:
            root = mail.parents[0] if mail.parents else mail.message_id
        threads.setdefault(_root_of(root, mails), []).append(mail)
    ordered = [
        sorted(t, key=lambda m: m.when.timestamp() if m.when else 0.0) for t in threads.values()
    ]
    return sorted(ordered, key=lambda t: t[0].when.timestamp() if t[0].when else 0.0)


def _root_of(message_id: str, mails: list[Mail]) -> str:
    by_id = {m.message_id: m for m in mails}
    seen = {message_id}
    current = message_id
    while current in by_id and by_id[current].parents:
        parent = by_id[current].parents[0]
        if parent in seen:
            break
        seen.add(parent)
        current = parent
    return current


def to_ticket(thread: list[Mail]) -> Ticket:
    first = thread[0]
    customer = first.sender
    messages = tuple(
        TicketMessage(
            author=m.sender_name,
            text=m.text,
            role="customer" if m.sender == customer else "agent",
            when=m.when,
        )
        for m in thread
    )
    root_id = first.parents[0] if first.parents else first.message_id
    last = messages[-1]
    resolved = last.role == "agent" and bool(last.text)
    return Ticket(
        id="mail-" + hashlib.sha256(root_id.encode()).hexdigest()[:12],
        subject=_REPLY_PREFIX.sub("", first.subject) or "(no subject)",
        thread=messages,
        resolution=last.text if resolved else "",
        status="resolved" if resolved else "open",
        created=first.when,
        closed=last.when if resolved else None,
    )


def parse_mailbox(path: Path) -> ParseResult:
    mails, problems = read_path(path)
    result = ParseResult(problems=problems)
    for thread in thread_mails(mails):
        result.tickets.append(to_ticket(thread))
    return result
