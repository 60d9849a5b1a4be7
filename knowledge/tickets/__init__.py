"""Tickets as knowledge: parsers for ticket-system exports and their indexed documents.

``parse_tickets(path, format)`` reads generic CSV/JSON, Zammad, Znuny/OTRS, GLPI, Jira Service
Management and mailbox exports into ``Ticket``s; ``ticket_documents`` turns them into redacted
employee knowledge and unredacted agents-only documents (see ``documents``).
"""

from knowledge.tickets.documents import (
    AGENTS_GROUP,
    FULL_SUFFIX,
    TicketDocuments,
    agent_acl,
    agent_groups,
    ticket_documents,
)
from knowledge.tickets.formats import FORMATS, parse_tickets
from knowledge.tickets.generic import parse_column_map
from knowledge.tickets.model import Message, ParseProblem, ParseResult, Ticket

__all__ = [
    "AGENTS_GROUP",
    "FORMATS",
    "FULL_SUFFIX",
    "Message",
    "ParseProblem",
    "ParseResult",
    "Ticket",
    "TicketDocuments",
    "agent_acl",
    "agent_groups",
    "parse_column_map",
    "parse_tickets",
    "ticket_documents",
]
