"""Registered sources as admins see them: register (validated), list with counts, remove.

A source is a named folder on the server with the ACL groups of its documents (a
``.lotse-acl`` sidecar inside it still wins). Ticket exports are a source kind of their own, but
their importer does not exist yet, so registering one is refused rather than faked.
Removing a source deletes its documents from both indexes and the manifest; callers hold off
reindex jobs meanwhile (``JobRunner.exclusive``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from knowledge.indexer import Indexer
from knowledge.manifest import Manifest, SourceRecord
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
    """Validate and register (or update) a source; ``InvalidInput`` names the bad field."""
    if kind == "tickets":
        raise InvalidInput(
            "ticket sources are not supported yet",
            field="kind",
        )
    if kind not in SOURCE_KINDS:
        raise InvalidInput(f"unknown source kind {kind!r}; use 'folder'", field="kind")
    if ticket_format is not None:
        raise InvalidInput("format applies to ticket sources only", field="format")
    path = Path(location)
    if not path.is_absolute():
        raise InvalidInput(
            f"location must be an absolute path on the server, not {location!r}",
            field="location",
        )
    if not path.exists():
        raise InvalidInput(
            f"the folder {location} does not exist on the server; check the path and that "
            "the service's user can read it",
            field="location",
        )
    if not path.is_dir():
        raise InvalidInput(f"{location} is not a folder", field="location")
    record = manifest.register_source(name, kind, str(path.resolve()), tuple(sorted(set(acl))))
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


def remove(indexer: Indexer, manifest: Manifest, name: str) -> Removal:
    """Delete a source's documents from both indexes and the manifest, then the source."""
    if manifest.source(name) is None:
        raise NotFound(
            f"no source named {name!r}", hint="GET /v1/admin/sources lists the registered sources"
        )
    documents = chunks = 0
    for entry in manifest.entries(name):
        chunks += indexer.remove_document(name, entry.source_id)
        documents += 1
    for _, source_id, _ in manifest.skipped(name):
        manifest.clear_skip(name, source_id)
    manifest.remove_source(name)
    logger.info("source removed name=%s documents=%d chunks=%d", name, documents, chunks)
    return Removal(name=name, documents=documents, chunks=chunks)
