"""Import a ticket-system export: the one implementation behind ``lotse tickets import`` and the
admin reindex of a ticket source (``POST /v1/admin/sources`` with ``kind: tickets``).

An import reads the export (``knowledge.tickets.parse_tickets``), records every resolved
ticket as a knowledge candidate and syncs the employee source ``NAME`` to the live ones
(``assistant.ticket_review``), syncs every ticket's full record to ``NAME-full`` (ACL
``agent_acl`` of the import's groups), registers both sources with what a later reindex needs
(location, format, column map, groups), and stores the tickets' fields for the agent workspace.
It is incremental: an unchanged export costs one hash per ticket.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.ticket_review import publish_candidates
from assistant.ticket_store import (
    CandidateSummary,
    ReviewMode,
    StoredTicket,
    TicketStore,
    candidate_documents,
)
from knowledge.indexer import Cancelled, Indexer, IngestSummary, ProgressFn
from knowledge.manifest import Manifest, SourceRecord
from knowledge.tickets import FULL_SUFFIX, ParseProblem, agent_acl, parse_tickets
from knowledge.tickets.generic import parse_column_map
from models.errors import InvalidInput

logger = logging.getLogger(__name__)

KIND = "tickets"  # the manifest's kind of both sources of an import
MAP_OPTION = "map"  # the generic format's column map, as ``OURS=THEIRS,...``


@dataclass(frozen=True)
class TicketImport:
    source: str
    mode: ReviewMode
    tickets: int
    resolved: int
    problems: tuple[ParseProblem, ...]
    redactions: Mapping[str, int]
    review: CandidateSummary
    employee: IngestSummary  # the redacted knowledge, source ``NAME``
    agents: IngestSummary  # the full records, source ``NAME-full``

    def as_dict(self) -> dict[str, object]:
        return {
            "tickets": self.tickets,
            "resolved": self.resolved,
            "problems": [{"ticket": p.ticket, "reason": p.reason} for p in self.problems],
            "redactions": dict(self.redactions),
            "knowledge": self.employee.as_dict(),
            "agents": self.agents.as_dict(),
            "review": {"mode": self.mode, **self.review.as_dict()},
        }


def base_source(name: str, manifest: Manifest) -> str:
    """The import a ticket source belongs to: ``NAME`` for ``NAME`` and ``NAME-full``."""
    if name.endswith(FULL_SUFFIX):
        base = name[: -len(FULL_SUFFIX)]
        record = manifest.source(base)
        if record is not None and record.kind == KIND:
            return base
    return name


def import_tickets(
    indexer: Indexer,
    manifest: Manifest,
    store: TicketStore,
    path: Path,
    *,
    fmt: str,
    source: str,
    acl: tuple[str, ...],
    mode: ReviewMode,
    column_map: Sequence[str] = (),
    progress: ProgressFn | None = None,
    phase: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> TicketImport:
    """Import ``path`` (a file, or a folder of export files) as source ``source``.

    ``progress`` sees both syncs; ``phase`` gets the name of the source each one syncs.
    ``cancel`` is checked between the steps (``Cancelled``); the next import completes an
    interrupted one. Raises ``InvalidInput`` for an unreadable export or a bad column map.
    """
    try:
        mapping = parse_column_map(list(column_map))
    except ValueError as exc:
        raise InvalidInput(str(exc), field="map") from exc

    def check() -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"the import of {source} was cancelled")

    parsed = parse_tickets(path, fmt, column_map=mapping)
    docs, candidates = candidate_documents(parsed.tickets, source=source, acl=acl)
    check()
    if phase is not None:
        phase(source)
    # every resolved ticket is a candidate; the employee source holds the live ones
    # (mode auto: all but those an admin rejected; mode review: the approved ones)
    review, employee = publish_candidates(
        store, indexer, manifest, source, candidates, mode=mode, progress=progress
    )
    check()
    full_source = source + FULL_SUFFIX
    if phase is not None:
        phase(full_source)
    agents = indexer.sync_documents(full_source, docs.agents, progress=progress)
    location = str(path.resolve())
    options = {"format": fmt}
    if column_map:
        options[MAP_OPTION] = ",".join(column_map)
    manifest.register_source(source, KIND, location, acl, options)
    manifest.register_source(full_source, KIND, location, agent_acl(acl), options)
    manifest.mark_indexed(source)
    manifest.mark_indexed(full_source)
    # the agents' ticket store: fields for triage and the workspace's list
    store.upsert(
        [
            StoredTicket.from_ticket(t, origin="import", source=source, acl=acl)
            for t in parsed.tickets
        ]
    )
    store.remove_source(source, [t.id for t in parsed.tickets])
    logger.info(
        "tickets_imported source=%s tickets=%d resolved=%d problems=%d",
        source,
        len(parsed.tickets),
        len(docs.knowledge),
        len(parsed.problems),
    )
    return TicketImport(
        source=source,
        mode=mode,
        tickets=len(parsed.tickets),
        resolved=len(docs.knowledge),
        problems=tuple(parsed.problems),
        redactions=docs.redactions,
        review=review,
        employee=employee,
        agents=agents,
    )


def reimport(
    indexer: Indexer,
    manifest: Manifest,
    store: TicketStore,
    record: SourceRecord,
    *,
    mode: ReviewMode,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> TicketImport:
    """Import a registered ticket source again, from what its registration holds."""
    name = base_source(record.name, manifest)
    base = manifest.source(name) or record
    fmt = base.options.get("format")
    if not fmt:
        raise InvalidInput(
            f"the ticket source {name} has no export format on record; register it again "
            "with its format (POST /v1/admin/sources)"
        )
    mapping = [m for m in base.options.get(MAP_OPTION, "").split(",") if m]
    return import_tickets(
        indexer,
        manifest,
        store,
        Path(base.location),
        fmt=fmt,
        source=name,
        acl=base.acl,
        mode=mode,
        column_map=mapping,
        progress=progress,
        cancel=cancel,
    )
