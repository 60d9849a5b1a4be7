"""Hand-written tickets for the tests: a solved ticket with a customer message and an answer."""

from __future__ import annotations

from datetime import datetime

from knowledge.tickets import Message, Ticket


def resolved_ticket(tid: str, subject: str, problem: str, resolution: str, lang: str) -> Ticket:
    """A closed IT ticket whose agent reply is its resolution."""
    return Ticket(
        id=tid,
        subject=subject,
        thread=(Message("Kunde", problem), Message("Servicedesk", resolution, "agent")),
        resolution=resolution,
        status="closed",
        queue="IT",
        priority="normal",
        language=lang,
        created=datetime(2024, 6, 3, 8, 0),
        closed=datetime(2024, 6, 3, 9, 30),
    )
