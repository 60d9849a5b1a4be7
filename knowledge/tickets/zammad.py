"""Zammad: tickets as its REST API returns them, each with its ``articles``.

One JSON file holds a list of ticket objects (or ``{"tickets": [...]}``) as returned by
``GET /api/v1/tickets/{id}?expand=true``, each with an ``articles`` list as returned by
``GET /api/v1/ticket_articles/by_ticket/{id}``. Article fields used: ``from``, ``sender``
(``Customer``/``Agent``/``System``), ``internal``, ``body``, ``content_type``, ``created_at``.
Ticket fields used: ``id``, ``number``, ``title``, ``group``, ``state``, ``priority``, ``type``,
``tags``, ``created_at``, ``close_at``. The resolution is the last public agent article.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from knowledge.tickets.fields import body_text, parse_when, sender_role, split_tags
from knowledge.tickets.model import Message, ParseResult, Ticket
from knowledge.tickets.records import parse_json_records


class ZammadArticle(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: int | str | None = None
    from_: str = Field(default="", alias="from")
    sender: str = "Customer"
    internal: bool = False
    body: str = ""
    content_type: str = "text/plain"
    created_at: datetime | None = None

    @field_validator("created_at", mode="before")
    @classmethod
    def _when(cls, value: object) -> datetime | None:
        return parse_when(value)

    @field_validator("from_", "body", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        return "" if value is None else value


class ZammadTicket(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int | str
    number: str | int | None = None
    title: str = Field(min_length=1)
    group: str = ""
    state: str = ""
    priority: str = ""
    type: str | None = None
    tags: Any = None
    created_at: datetime | None = None
    close_at: datetime | None = None
    articles: list[ZammadArticle] = Field(default_factory=list)

    @field_validator("created_at", "close_at", mode="before")
    @classmethod
    def _when(cls, value: object) -> datetime | None:
        return parse_when(value)


def to_ticket(raw: ZammadTicket) -> Ticket:
    thread = tuple(
        Message(
            author=a.from_,
            text=body_text(a.body, a.content_type),
            role=sender_role(a.sender),
            when=a.created_at,
            internal=a.internal,
        )
        for a in raw.articles
    )
    public_answers = [m.text for m in thread if m.role == "agent" and not m.internal and m.text]
    state = raw.state.lower()
    return Ticket(
        id=str(raw.number or raw.id),
        subject=raw.title,
        thread=thread,
        resolution=public_answers[-1] if public_answers else "",
        status="closed" if state.startswith("closed") else state or "open",
        queue=raw.group,
        priority=raw.priority,
        type=raw.type or "",
        tags=split_tags(raw.tags),
        created=raw.created_at,
        closed=raw.close_at,
    )


def parse_zammad(data: bytes) -> ParseResult:
    return parse_json_records(data, ZammadTicket, to_ticket, list_keys=("tickets",))
