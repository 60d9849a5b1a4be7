"""Reading a JSON export as a list of records, each validated and converted on its own.

One bad record becomes a ``ParseProblem`` naming its id (or position) and the fields at fault;
it never stops the others.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from knowledge.tickets.fields import describe_error
from knowledge.tickets.model import ParseProblem, ParseResult, Ticket

M = TypeVar("M", bound=BaseModel)

_ID_KEYS = ("number", "TicketNumber", "key", "id", "TicketID")


def load_json(data: bytes) -> Any:
    return json.loads(data.decode("utf-8-sig", errors="replace"))


def records_of(payload: Any, list_keys: tuple[str, ...]) -> list[Any]:
    """The record list: the payload itself, or the first of ``list_keys`` it has."""
    if isinstance(payload, dict):
        for key in list_keys:
            if isinstance(payload.get(key), list):
                return list(payload[key])
        return [payload]
    return list(payload) if isinstance(payload, list) else []


def record_label(record: Any, number: int) -> str:
    if isinstance(record, dict):
        for key in _ID_KEYS:
            if record.get(key) not in (None, ""):
                return str(record[key])
    return f"record {number}"


def convert_records(
    records: list[Any], model: type[M], convert: Callable[[M], Ticket]
) -> ParseResult:
    result = ParseResult()
    for number, record in enumerate(records, 1):
        label = record_label(record, number)
        try:
            result.tickets.append(convert(model.model_validate(record)))
        except ValidationError as exc:
            result.problems.append(ParseProblem(label, describe_error(exc)))
        except ValueError as exc:
            result.problems.append(ParseProblem(label, str(exc)))
    return result


def parse_json_records(
    data: bytes,
    model: type[M],
    convert: Callable[[M], Ticket],
    *,
    list_keys: tuple[str, ...],
) -> ParseResult:
    try:
        payload = load_json(data)
    except json.JSONDecodeError as exc:
        return ParseResult(problems=[ParseProblem("file", f"not JSON: {exc}")])
    return convert_records(records_of(payload, list_keys), model, convert)
