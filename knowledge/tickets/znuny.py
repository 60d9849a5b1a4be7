"""Znuny / OTRS: the GenericInterface ``TicketGet`` response with ``AllArticles=1``.

Shape: ``{"Ticket": [{"TicketID", "TicketNumber", "Title", "Queue", "State", "StateType",
"Priority", "Type", "Created", "Changed", "Article": [{"ArticleID", "From", "SenderType",
"IsVisibleForCustomer", "Body", "ContentType", "CreateTime"}]}]}``. Several responses may be
concatenated into a JSON list. ``StateType`` ``closed`` means resolved; the resolution is the
last agent article visible to the customer; ``Changed`` stands in for the close time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from knowledge.tickets.fields import body_text, parse_when, sender_role
from knowledge.tickets.model import Message, ParseProblem, ParseResult, Ticket
from knowledge.tickets.records import convert_records, load_json


class ZnunyArticle(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ArticleID: int | str | None = None
    From: str = ""
    SenderType: str = "customer"
    IsVisibleForCustomer: int | str = 1
    Body: str = ""
    ContentType: str = "text/plain"
    CreateTime: datetime | None = None

    @field_validator("CreateTime", mode="before")
    @classmethod
    def _when(cls, value: object) -> datetime | None:
        return parse_when(value)


class ZnunyTicket(BaseModel):
    model_config = ConfigDict(extra="ignore")

    TicketID: int | str
    TicketNumber: str | int | None = None
    Title: str = Field(min_length=1)
    Queue: str = ""
    State: str = ""
    StateType: str = ""
    Priority: str = ""
    Type: str = ""
    Created: datetime | None = None
    Changed: datetime | None = None
    Article: list[ZnunyArticle] = Field(default_factory=list)

    @field_validator("Created", "Changed", mode="before")
    @classmethod
    def _when(cls, value: object) -> datetime | None:
        return parse_when(value)


def to_ticket(raw: ZnunyTicket) -> Ticket:
    thread = tuple(
        Message(
            author=a.From,
            text=body_text(a.Body, a.ContentType),
            role=sender_role(a.SenderType),
            when=a.CreateTime,
            internal=str(a.IsVisibleForCustomer) == "0",
        )
        for a in raw.Article
    )
    answers = [m.text for m in thread if m.role == "agent" and not m.internal and m.text]
    closed = raw.StateType.lower() == "closed"
    return Ticket(
        id=str(raw.TicketNumber or raw.TicketID),
        subject=raw.Title,
        thread=thread,
        resolution=answers[-1] if answers else "",
        status="closed" if closed else (raw.State.lower() or "open"),
        queue=raw.Queue,
        priority=raw.Priority,
        type=raw.Type,
        created=raw.Created,
        closed=raw.Changed if closed else None,
    )


def parse_znuny(data: bytes) -> ParseResult:
    try:
        payload = load_json(data)
    except ValueError as exc:
        return ParseResult(problems=[_file_problem(f"not JSON: {exc}")])
    responses = payload if isinstance(payload, list) else [payload]
    records: list[Any] = []
    for response in responses:
        if isinstance(response, dict) and isinstance(response.get("Ticket"), list):
            records.extend(response["Ticket"])
        elif isinstance(response, dict) and "Error" in response:
            error = response["Error"]
            message = error.get("ErrorMessage", error) if isinstance(error, dict) else error
            return ParseResult(problems=[_file_problem(f"the export holds an error: {message}")])
        else:
            records.append(response)
    return convert_records(records, ZnunyTicket, to_ticket)


def _file_problem(reason: str) -> ParseProblem:
    return ParseProblem("file", reason)
