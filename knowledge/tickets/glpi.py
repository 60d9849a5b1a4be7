"""GLPI: tickets with their ``ITILFollowup`` and ``ITILSolution`` items from the REST API.

Either a JSON object ``{"Ticket": [...], "ITILFollowup": [...], "ITILSolution": [...]}`` (the
lists of ``GET /apirest.php/Ticket``, ``/ITILFollowup``, ``/ITILSolution``; items link to their
ticket by ``itemtype`` = ``Ticket`` and ``items_id``), or a list of tickets each carrying its own
``ITILFollowup`` / ``ITILSolution`` lists (``GET /Ticket/{id}/ITILFollowup``). Ticket fields
used: ``id``, ``name``, ``content``, ``status`` (5 solved, 6 closed), ``priority`` (1-6),
``type`` (1 incident, 2 request), ``itilcategories_id``, ``users_id_recipient``, ``date``,
``solvedate``, ``closedate``. Content is HTML, often entity-escaped. The resolution is the last
solution that was not refused (``status`` 4); followups from the requester count as customer.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from knowledge.tickets.fields import body_text, parse_when
from knowledge.tickets.model import Message, ParseProblem, ParseResult, Ticket
from knowledge.tickets.records import convert_records, load_json

STATUS = {1: "new", 2: "assigned", 3: "planned", 4: "waiting", 5: "solved", 6: "closed"}
PRIORITY = {1: "very low", 2: "low", 3: "medium", 4: "high", 5: "very high", 6: "major"}
TYPE = {1: "incident", 2: "request"}
_REFUSED = 4


def glpi_text(content: str) -> str:
    return body_text(html.unescape(content or ""), "text/html")


class GlpiItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int | str | None = None
    itemtype: str = "Ticket"
    items_id: int | str | None = None
    content: str = ""
    users_id: int | str = 0
    is_private: int | bool = 0
    status: int | None = None  # solutions: 2 waiting, 3 accepted, 4 refused
    date: datetime | None = None
    date_creation: datetime | None = None

    @field_validator("date", "date_creation", mode="before")
    @classmethod
    def _when(cls, value: object) -> datetime | None:
        return parse_when(value)

    @property
    def when(self) -> datetime | None:
        return self.date or self.date_creation


class GlpiTicket(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int | str
    name: str = Field(min_length=1)
    content: str = ""
    status: int | str = 1
    priority: int | str = 3
    type: int | str = 1
    itilcategories_id: int | str = ""
    users_id_recipient: int | str = 0
    date: datetime | None = None
    solvedate: datetime | None = None
    closedate: datetime | None = None
    ITILFollowup: list[GlpiItem] = Field(default_factory=list)
    ITILSolution: list[GlpiItem] = Field(default_factory=list)

    @field_validator("date", "solvedate", "closedate", mode="before")
    @classmethod
    def _when(cls, value: object) -> datetime | None:
        return parse_when(value)


def _named(value: int | str, names: dict[int, str]) -> str:
    if isinstance(value, int) or str(value).isdigit():
        return names.get(int(value), str(value))
    return str(value)


def to_ticket(raw: GlpiTicket) -> Ticket:
    requester = str(raw.users_id_recipient)
    thread = [Message(author=requester, text=glpi_text(raw.content), when=raw.date)]
    for item in sorted(raw.ITILFollowup, key=lambda f: f.when or datetime.min):
        thread.append(
            Message(
                author=str(item.users_id),
                text=glpi_text(item.content),
                role="customer" if str(item.users_id) == requester else "agent",
                when=item.when,
                internal=bool(item.is_private),
            )
        )
    solutions = [s for s in raw.ITILSolution if s.status != _REFUSED]
    for item in solutions:
        thread.append(
            Message(str(item.users_id), glpi_text(item.content), "agent", item.when, False)
        )
    return Ticket(
        id=str(raw.id),
        subject=raw.name,
        thread=tuple(thread),
        resolution=glpi_text(solutions[-1].content) if solutions else "",
        status=_named(raw.status, STATUS),
        queue=str(raw.itilcategories_id or ""),
        priority=_named(raw.priority, PRIORITY),
        type=_named(raw.type, TYPE),
        created=raw.date,
        closed=raw.closedate or raw.solvedate,
    )


def _attach(tickets: list[Any], payload: dict[str, Any]) -> None:
    by_id = {str(t.get("id")): t for t in tickets if isinstance(t, dict)}
    for kind in ("ITILFollowup", "ITILSolution"):
        for item in payload.get(kind) or []:
            if not isinstance(item, dict) or item.get("itemtype", "Ticket") != "Ticket":
                continue
            ticket = by_id.get(str(item.get("items_id")))
            if ticket is not None:
                ticket.setdefault(kind, []).append(item)


def parse_glpi(data: bytes) -> ParseResult:
    try:
        payload = load_json(data)
    except ValueError as exc:
        return ParseResult(problems=[ParseProblem("file", f"not JSON: {exc}")])
    if isinstance(payload, dict) and isinstance(payload.get("Ticket"), list):
        tickets = list(payload["Ticket"])
        _attach(tickets, payload)
    elif isinstance(payload, list):
        tickets = payload
    else:
        tickets = [payload]
    return convert_records(tickets, GlpiTicket, to_ticket)
