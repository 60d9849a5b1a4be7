"""Generic CSV/JSON exports: one row (or object) per ticket.

Default columns: ``id, subject, body, answer, queue, priority, type, language, created, closed,
tags`` (optional ``status``; tags split on ``;``, ``,`` or ``|``). ``column_map`` renames:
``{"body": "description", "answer": "solution"}`` reads the body from the ``description``
column. A row without a ``status`` counts as closed when it has a ``closed`` time and an answer.
JSON files hold a list of objects, or ``{"tickets": [...]}``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from knowledge.tickets.fields import describe_error, parse_when, split_tags
from knowledge.tickets.model import Message, ParseProblem, ParseResult, Ticket

COLUMNS = (
    "id",
    "subject",
    "body",
    "answer",
    "queue",
    "priority",
    "type",
    "language",
    "created",
    "closed",
    "tags",
    "status",
)


class GenericRow(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: str = Field(min_length=1)
    subject: str = Field(min_length=1)
    body: str = ""
    answer: str = ""
    queue: str = ""
    priority: str = ""
    type: str = ""
    language: str = "und"
    created: datetime | None = None
    closed: datetime | None = None
    tags: tuple[str, ...] = ()
    status: str = ""

    @field_validator("id", "subject", "body", "answer", "queue", "priority", "type", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        if value is None:
            return ""
        return str(value) if isinstance(value, int | float) else value

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, value: object) -> object:
        return (str(value).strip().lower() or "und") if value is not None else "und"

    @field_validator("created", "closed", mode="before")
    @classmethod
    def _when(cls, value: object) -> datetime | None:
        return parse_when(value)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: object) -> tuple[str, ...]:
        return split_tags(value)


def parse_column_map(pairs: Iterable[str]) -> dict[str, str]:
    """``["body=description,answer=solution"]`` -> ``{"body": "description", ...}``."""
    mapping: dict[str, str] = {}
    for pair in (p for item in pairs for p in item.split(",")):
        if not pair.strip():
            continue
        ours, sep, theirs = pair.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not sep or not theirs or ours not in COLUMNS:
            raise ValueError(
                f"bad column mapping {pair!r}: write OURS=THEIRS with OURS one of "
                + ", ".join(COLUMNS)
            )
        mapping[ours] = theirs
    return mapping


def _remap(record: Mapping[str, Any], column_map: Mapping[str, str]) -> dict[str, Any]:
    out = dict(record)
    for ours, theirs in column_map.items():
        out[ours] = record.get(theirs)
    return out


def ticket_from_row(row: GenericRow) -> Ticket:
    thread = []
    if row.body:
        thread.append(Message(author="", text=row.body, role="customer", when=row.created))
    if row.answer:
        thread.append(Message(author="", text=row.answer, role="agent", when=row.closed))
    status = row.status.lower() or ("closed" if row.closed and row.answer else "open")
    return Ticket(
        id=row.id,
        subject=row.subject,
        thread=tuple(thread),
        resolution=row.answer,
        status=status,
        queue=row.queue,
        priority=row.priority,
        type=row.type,
        tags=row.tags,
        language=row.language,
        created=row.created,
        closed=row.closed,
    )


def parse_records(
    records: Iterable[Mapping[str, Any]], column_map: Mapping[str, str] | None = None
) -> ParseResult:
    result = ParseResult()
    for number, record in enumerate(records, 1):
        fields = _remap(record, column_map or {})
        label = str(fields.get("id") or "").strip() or f"row {number}"
        try:
            result.tickets.append(ticket_from_row(GenericRow.model_validate(fields)))
        except ValidationError as exc:
            result.problems.append(ParseProblem(label, describe_error(exc)))
    return result


def parse_generic(
    data: bytes, *, suffix: str, column_map: Mapping[str, str] | None = None
) -> ParseResult:
    """CSV (``suffix`` ``.csv``/``.tsv``) or JSON."""
    text = data.decode("utf-8-sig", errors="replace")
    if suffix.lower() in (".csv", ".tsv"):
        dialect = "excel-tab" if suffix.lower() == ".tsv" else "excel"
        return parse_records(csv.DictReader(io.StringIO(text), dialect=dialect), column_map)
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        return ParseResult(problems=[ParseProblem("file", f"not JSON: {exc}")])
    if isinstance(payload, dict):
        payload = payload.get("tickets", [])
    if not isinstance(payload, list):
        return ParseResult(problems=[ParseProblem("file", "expected a list of ticket objects")])
    good = [r for r in payload if isinstance(r, dict)]
    result = parse_records(good, column_map)
    if len(good) != len(payload):
        result.problems.append(
            ParseProblem("file", f"{len(payload) - len(good)} entries are not objects")
        )
    return result
