"""Which parser reads which export: ``parse_tickets(path, format)``.

A file is parsed on its own; a directory is walked (hidden files skipped) and every file with a
suffix the format reads is parsed, problems labelled with the file name. Mailbox folders are one
unit, because their threads span files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

from knowledge.tickets.generic import parse_generic
from knowledge.tickets.glpi import parse_glpi
from knowledge.tickets.jira import parse_jira
from knowledge.tickets.mailbox import parse_mailbox
from knowledge.tickets.model import ParseProblem, ParseResult
from knowledge.tickets.zammad import parse_zammad
from knowledge.tickets.znuny import parse_znuny
from models.errors import InvalidInput

Format = Literal["generic", "zammad", "znuny", "glpi", "jira", "mbox"]
FORMATS: tuple[Format, ...] = ("generic", "zammad", "znuny", "glpi", "jira", "mbox")

_JSON_PARSERS: dict[str, Callable[[bytes], ParseResult]] = {
    "zammad": parse_zammad,
    "znuny": parse_znuny,
    "glpi": parse_glpi,
    "jira": parse_jira,
}
_SUFFIXES = {"generic": (".csv", ".tsv", ".json")}


def parse_tickets(
    path: Path, fmt: str, *, column_map: Mapping[str, str] | None = None
) -> ParseResult:
    """All tickets of ``path``; unreadable records are ``problems``, never exceptions."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown ticket format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not path.exists():
        raise InvalidInput(f"{path} does not exist", field="path")
    if fmt == "mbox":
        return parse_mailbox(path)
    suffixes = _SUFFIXES.get(fmt, (".json",))
    files = (
        [path]
        if path.is_file()
        else sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in suffixes
        )
    )
    result = ParseResult()
    for file in files:
        data = file.read_bytes()
        if fmt == "generic":
            part = parse_generic(data, suffix=file.suffix, column_map=column_map)
        else:
            part = _JSON_PARSERS[fmt](data)
        result.tickets.extend(part.tickets)
        prefix = "" if path.is_file() else f"{file.name}: "
        result.problems.extend(ParseProblem(prefix + p.ticket, p.reason) for p in part.problems)
    seen: set[str] = set()
    unique = []
    for ticket in result.tickets:
        if ticket.id in seen:
            result.problems.append(ParseProblem(ticket.id, "duplicate ticket id (first kept)"))
            continue
        seen.add(ticket.id)
        unique.append(ticket)
    result.tickets = unique
    return result
