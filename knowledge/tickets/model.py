"""The value types of ticket import: ``Message``, ``Ticket``, ``ParseProblem``, ``ParseResult``.

Every parser turns one export format into ``Ticket``s; a row or record it cannot read becomes a
``ParseProblem`` with a short reason (the import goes on). A ticket is *resolved* when its status
says so and it carries a non-empty resolution text: only those become employee knowledge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Role = Literal["customer", "agent", "system"]

RESOLVED_STATUSES = frozenset({"resolved", "closed", "solved", "done", "geschlossen", "gelöst"})


@dataclass(frozen=True)
class Message:
    author: str
    text: str
    role: Role = "customer"
    when: datetime | None = None
    internal: bool = False  # an agents-only note, never shown to the requester


@dataclass(frozen=True)
class Ticket:
    id: str
    subject: str
    thread: tuple[Message, ...] = ()
    resolution: str = ""
    status: str = "open"  # normalised to lower case
    queue: str = ""
    priority: str = ""
    type: str = ""
    tags: tuple[str, ...] = ()
    language: str = "und"
    created: datetime | None = None
    closed: datetime | None = None
    acl: tuple[str, ...] = ()  # empty: the import's ACL applies

    @property
    def is_resolved(self) -> bool:
        return self.status.lower() in RESOLVED_STATUSES and bool(self.resolution.strip())

    @property
    def problem(self) -> str:
        """What the requester wrote: the customer messages, oldest first."""
        parts = [m.text.strip() for m in self.thread if m.role == "customer" and m.text.strip()]
        return "\n\n".join(parts)


@dataclass(frozen=True)
class ParseProblem:
    ticket: str  # the ticket id, or "row 7" / "record 3" when the id itself is unreadable
    reason: str


@dataclass
class ParseResult:
    tickets: list[Ticket] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)
