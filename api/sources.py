"""Registered sources as admins see them: register (validated), list with counts, remove.

A source is a named folder on the server with the ACL groups of its documents (a
``.lotse-acl`` sidecar inside it still wins), or a ticket system's export (kind ``tickets``,
with its format), which a reindex imports like ``lotse tickets import``.
Removing a source deletes its documents from both indexes and the manifest (a ticket source
also its agents' records, stored tickets and knowledge candidates); callers hold off reindex
jobs meanwhile (``JobRunner.exclusive``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from assistant.ticket_import import base_source
from assistant.ticket_store import TicketStore
from knowledge.indexer import Indexer
from knowledge.manifest import Manifest, SourceRecord
from knowledge.tickets import FULL_SUFFIX
from knowledge.tickets.formats import FORMATS
from models.errors import InvalidInput, NotFound

logger = logging.getLogger(__name__)

SOURCE_KINDS = ("folder", "tickets")


@dataclass(frozen=True)
class SourceView:
    record: SourceRecord
    documents: int
    chunks: int
    skipped: tuple[tuple[str, str], ...]  # (source_id, reason) of the last ingest
    last_error: str | None  # from the newest reindex job that covered it


@dataclass(frozen=True)
class Removal:
    name: str
    documents: int
    chunks: int


def register(
    manifest: Manifest,
    *,
    name: str,
    kind: str,
    location: str,
    acl: tuple[str, ...],
    ticket_format: str | None = None,
) -> SourceRecord:
    """Validate and register (or update) a source; ``InvalidInput`` names the bad field.

    A folder source is a folder of documents. A ticket source is an export of a ticket system
    (a file, or a folder of export files, in ``ticket_format``): its reindex is a ticket import
    (``assistant.ticket_import``), writing ``NAME`` and the agents' ``NAME-full``."""
    if kind not in SOURCE_KINDS:
        raise InvalidInput(
            f"unknown source kind {kind!r}; use one of {', '.join(SOURCE_KINDS)}", field="kind"
        )
    options: dict[str, str] = {}
    if kind == "tickets":
        if ticket_format not in FORMATS:
            raise InvalidInput(
                f"a ticket source needs its export format, one of {', '.join(FORMATS)}",
                field="format",
            )
        if name.endswith(FULL_SUFFIX):
            raise InvalidInput(
                f"a ticket source's name may not end with {FULL_SUFFIX!r}: its agents' records "
                f"go to NAME{FULL_SUFFIX}",
                field="name",
            )
        existing = manifest.source(name)
        options = {**(existing.options if existing else {}), "format": ticket_format}
    elif ticket_format is not None:
        raise InvalidInput("format applies to ticket sources only", field="format")
    path = Path(location)
    if not path.is_absolute():
        raise InvalidInput(
            f"location must be an absolute path on the server, not {location!r}",
            field="location",
        )
    if not path.exists():
        what = "folder" if kind == "folder" else "export"
        raise InvalidInput(
            f"the {what} {location} does not exist on the server; check the path and that "
            "the service's user can read it",
            field="location",
        )
    if kind == "folder" and not path.is_dir():
        raise InvalidInput(f"{location} is not a folder", field="location")
    record = manifest.register_source(
        name, kind, str(path.resolve()), tuple(sorted(set(acl))), options
    )
    logger.info("source registered name=%s kind=%s groups=%d", name, kind, len(record.acl))
    return record


def describe(manifest: Manifest, last_errors: dict[str, str | None]) -> list[SourceView]:
    """Every registered source with its document and chunk counts, skips and last error."""
    views = []
    for record in manifest.sources():
        entries = manifest.entries(record.name)
        views.append(
            SourceView(
                record=record,
                documents=len(entries),
                chunks=sum(len(e.chunk_ids) for e in entries),
                skipped=tuple((sid, reason) for _, sid, reason in manifest.skipped(record.name)),
                last_error=last_errors.get(record.name),
            )
        )
    return views


def remove(
    indexer: Indexer, manifest: Manifest, name: str, tickets: TicketStore | None = None
) -> Removal:
    """Delete a source's documents from both indexes and the manifest, then the source. A ticket
    source goes with its agents' records (``NAME-full``), its stored tickets and its knowledge
    candidates (``tickets``: the agents' ticket store)."""
    record = manifest.source(name)
    if record is None:
        raise NotFound(
            f"no source named {name!r}", hint="GET /v1/admin/sources lists the registered sources"
        )
    names = [name]
    if record.kind == "tickets":
        base = base_source(name, manifest)
        names = [base, base + FULL_SUFFIX]
    documents = chunks = 0
    for each in names:
        if manifest.source(each) is None:
            continue
        for entry in manifest.entries(each):
            chunks += indexer.remove_document(each, entry.source_id)
            documents += 1
        for _, source_id, _ in manifest.skipped(each):
            manifest.clear_skip(each, source_id)
        manifest.remove_source(each)
    if record.kind == "tickets" and tickets is not None:
        base = names[0]
        stored = tickets.remove_source(base, [])
        candidates = tickets.forget_candidates(base)
        logger.info("ticket source removed tickets=%d candidates=%d", stored, candidates)
    logger.info("source removed name=%s documents=%d chunks=%d", name, documents, chunks)
    return Removal(name=name, documents=documents, chunks=chunks)
