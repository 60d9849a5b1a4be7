"""Tickets -> the two kinds of indexed documents.

* Employee knowledge (source ``NAME``, the import's ACL): only resolved tickets with a
  resolution, REDACTED (``knowledge.redaction``): ``# subject``, the problem (customer
  messages) and the resolution. Title = the redacted subject, source_id = ``tickets/<id>``.
* Agents' full record (source ``NAME-full``): every ticket, unredacted, with the whole thread
  (authors, times, internal notes) and its metadata. Its ACL (``agent_acl``) is ``agents`` for
  tickets of an import open to everyone; a ticket restricted to groups (``--acl hr``, or its
  own ACL column) gets the combined groups ``agents+hr``: only an agent who is also in ``hr``
  reads it (``agent_groups``), as similar ticket, in a draft's passages or in the ticket list.

Both go through ``Indexer.sync_documents``; the content hash covers the text and ACL-relevant
metadata, so an unchanged ticket costs nothing on re-import.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from knowledge.documents import COMBINED, DEFAULT_ACL, Document, sha256_bytes
from knowledge.language import detect_language
from knowledge.redaction import redact
from knowledge.tickets.model import Ticket

AGENTS_GROUP = "agents"
FULL_SUFFIX = "-full"
EVERYONE = DEFAULT_ACL[0]


def agent_acl(groups: Sequence[str]) -> tuple[str, ...]:
    """Which agents read the full record of a ticket whose knowledge has ACL ``groups``: all of
    them when everyone may read the knowledge, otherwise those also in one of the groups."""
    named = sorted({g for g in groups if g != AGENTS_GROUP})
    if not named or EVERYONE in named:
        return (AGENTS_GROUP,)
    return tuple(f"{AGENTS_GROUP}{COMBINED}{g}" for g in named)


def agent_groups(groups: Collection[str]) -> tuple[str, ...]:
    """The ticket-record groups of an agent in ``groups`` (see ``agent_acl``)."""
    named = sorted({g for g in groups if g not in (EVERYONE, AGENTS_GROUP) and COMBINED not in g})
    return (AGENTS_GROUP, *(f"{AGENTS_GROUP}{COMBINED}{g}" for g in named))


_HEADINGS = {
    "de": ("Problem", "Lösung"),
    "en": ("Problem", "Resolution"),
}


@dataclass(frozen=True)
class TicketDocuments:
    knowledge: list[Document]
    agents: list[Document]
    redactions: dict[str, int]  # placeholders inserted, by kind


def source_id_for(ticket: Ticket) -> str:
    return f"tickets/{ticket.id}"


def _language(ticket: Ticket) -> str:
    if ticket.language in ("de", "en"):
        return ticket.language
    return detect_language(f"{ticket.subject}\n{ticket.problem}\n{ticket.resolution}")


def _metadata(ticket: Ticket) -> dict[str, str]:
    meta = {
        "ticket_id": ticket.id,
        "queue": ticket.queue,
        "priority": ticket.priority,
        "type": ticket.type,
        "status": ticket.status,
        "tags": ",".join(ticket.tags),
        "created": ticket.created.isoformat() if ticket.created else "",
        "closed": ticket.closed.isoformat() if ticket.closed else "",
    }
    return {k: v for k, v in meta.items() if v}


def knowledge_document(
    ticket: Ticket, *, source: str, acl: tuple[str, ...], counts: dict[str, int]
) -> Document:
    language = _language(ticket)
    problem_heading, resolution_heading = _HEADINGS.get(language, _HEADINGS["en"])
    parts = []
    for raw in (ticket.subject, ticket.problem, ticket.resolution):
        redaction = redact(raw)
        for kind, n in redaction.counts().items():
            counts[kind] = counts.get(kind, 0) + n
        parts.append(redaction.text.strip())
    subject, problem, resolution = parts
    text = f"# {subject}\n\n## {problem_heading}\n\n{problem}\n\n## {resolution_heading}\n\n"
    text += resolution + "\n"
    meta = {k: v for k, v in _metadata(ticket).items() if k != "status"}
    return Document(
        source_id=source_id_for(ticket),
        title=subject,
        text=text,
        format="ticket",
        language=language,
        modified=ticket.closed.timestamp() if ticket.closed else 0.0,
        content_hash=sha256_bytes((text + repr(sorted(meta.items()))).encode()),
        acl=ticket.acl or acl,
        source=source,
        metadata=meta,
    )


def agent_document(ticket: Ticket, *, source: str, acl: tuple[str, ...] = ()) -> Document:
    """``acl``: the import's groups (a ticket's own ACL wins), mapped by ``agent_acl``."""
    lines = [f"# {ticket.subject}", ""]
    meta = _metadata(ticket)
    lines += [f"- {key}: {value}" for key, value in meta.items()]
    for message in ticket.thread:
        who = message.author or message.role
        when = message.when.isoformat() if message.when else ""
        flags = ", internal" if message.internal else ""
        lines += ["", f"## {message.role}: {who} {when}{flags}".rstrip(), "", message.text]
    answered = any(m.text.strip() == ticket.resolution.strip() for m in ticket.thread)
    if ticket.resolution and not answered:
        lines += ["", "## Resolution", "", ticket.resolution]
    text = "\n".join(lines).strip() + "\n"
    stamp = ticket.closed or ticket.created
    return Document(
        source_id=source_id_for(ticket),
        title=ticket.subject,
        text=text,
        format="ticket",
        language=_language(ticket),
        modified=stamp.timestamp() if stamp else 0.0,
        content_hash=sha256_bytes(text.encode()),
        acl=agent_acl(ticket.acl or acl),
        source=source,
        metadata=meta,
    )


def ticket_documents(
    tickets: Sequence[Ticket], *, source: str, acl: tuple[str, ...]
) -> TicketDocuments:
    counts: dict[str, int] = {}
    knowledge = [
        knowledge_document(t, source=source, acl=acl, counts=counts)
        for t in tickets
        if t.is_resolved
    ]
    agents = [agent_document(t, source=source + FULL_SUFFIX, acl=acl) for t in tickets]
    return TicketDocuments(knowledge, agents, counts)
