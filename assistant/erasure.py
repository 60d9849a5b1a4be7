"""Erasure (GDPR Art. 17): a person's data, or documents, removed from every store for good.

``Eraser`` receives the stores and does three kinds of erasure:

- ``erase_user(user_id)``: the person's conversations and feedback comments, their question and
  answer texts in the audit log and (when an API-key store is given) their API keys.
  Escalations (ticket drafts from the chat) go too when an escalation store is given, both
  here and in ``erase_matching``.
- ``erase_documents(source, source_id=None)``: one document, or every document of a source,
  from both indexes and the manifest, then *tombstoned* (by source id and by content hash) so
  no later ingest or ticket sync brings it back.
- ``erase_matching(text)``: every document with a chunk containing ``text`` (case-insensitive:
  lexical search first, then a scan of every chunk's text, confirmed on the text itself),
  erased as above, plus every conversation turn, feedback comment and audit text containing it.

Deleted rows can linger in free pages of SQLite files and in Chroma's write-ahead log; a
``DiskPurge`` makes them leave the disk afterwards. With ``dry_run`` nothing changes and the
report says what would go. Every real erasure appends one ``erasure`` audit event holding
counts, source ids and the SHA-256 of the match string, never erased content: a source id
that itself contains the match string is recorded by its digest. The hash chain commits to
digests only, so it still verifies after texts are gone.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from assistant.audit import AuditEvent, AuditLog, sha256_text
from assistant.conversations import ConversationStore
from assistant.identity import Caller
from knowledge.documents import Chunk
from knowledge.indexer import Indexer
from knowledge.manifest import Manifest
from models.errors import InvalidInput, NotFound, StoreError

logger = logging.getLogger(__name__)

EraseKind = Literal["user", "source", "match"]
WHOLE_DOCUMENT = "*"  # tombstone hash: this source id, whatever its content
TOMBSTONE_REASON = "erasure"
MIN_MATCH_CHARS = 3
_SCAN_BATCH = 500


class UserKeyDeleter(Protocol):
    """The hook to an API-key store: delete every key issued to ``user_id`` (revoked ones too)
    so that no row of theirs stays, and return how many were deleted."""

    def delete_user(self, user_id: str) -> int: ...


class EscalationForgetter(Protocol):
    """The hook to the escalation store (``assistant.escalation``): delete a user's
    escalations, or every one containing a text; return how many (would) go."""

    def forget_user(self, user_id: str) -> int: ...

    def forget_matching(self, needle: str, *, dry_run: bool = False) -> int: ...


class TicketForgetter(EscalationForgetter, Protocol):
    """The hook to the agents' ticket store (``assistant.ticket_store``): besides a user's
    suggestions and matching texts, the knowledge candidates of an erased source/document."""

    def forget_candidates(
        self, source: str, source_id: str | None = None, *, dry_run: bool = False
    ) -> int: ...


class DiskPurge(Protocol):
    """Make deleted rows leave the disk (free pages, write-ahead logs) after an erasure."""

    def purge(self, chunk_ids: Sequence[str]) -> None: ...


@runtime_checkable
class PurgesErased(Protocol):
    """A vector store that keeps deleted text on disk until told (``ChromaVectorStore``)."""

    def purge_erased(self, chunk_ids: Sequence[str]) -> None: ...


class NoDiskPurge:
    """For in-memory stores: nothing is on disk."""

    def purge(self, chunk_ids: Sequence[str]) -> None:
        return None


def compact_sqlite(path: Path) -> None:
    """Merge a SQLite file's FTS5 indexes, rewrite it (``VACUUM``) and empty its WAL, so that
    deleted rows leave no bytes behind. Safe beside the store's own idle connection."""
    try:
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path} to compact it: {exc}") from exc
    try:
        conn.execute("PRAGMA secure_delete=ON")
        fts = [
            str(row[0])
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' "
                "AND sql LIKE '%USING fts5%' AND sql NOT LIKE '%USING fts5vocab%'"
            )
        ]
        for table in fts:
            conn.execute(f'INSERT INTO "{table}"("{table}") VALUES(\'optimize\')')
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        raise StoreError(
            f"cannot compact {path} after an erasure: {exc}",
            hint="the data is deleted; run the erasure again to purge it from the file",
        ) from exc
    finally:
        conn.close()


class SqliteDiskPurge:
    """Compacts every ``*.sqlite3`` file directly in ``data_dir`` and lets the vector store
    purge its own files (when it keeps deleted text, as embedded Chroma does)."""

    def __init__(self, data_dir: Path, vectors: object) -> None:
        self.data_dir = data_dir
        self.vectors = vectors

    def purge(self, chunk_ids: Sequence[str]) -> None:
        if isinstance(self.vectors, PurgesErased):
            self.vectors.purge_erased(chunk_ids)
        files = sorted(self.data_dir.glob("*.sqlite3"))
        for path in files:
            compact_sqlite(path)
        logger.info("erasure_purge files=%d chunks=%d", len(files), len(chunk_ids))


@dataclass(frozen=True)
class ErasedDocument:
    source: str
    source_id: str
    chunks: int


@dataclass(frozen=True)
class ErasureReport:
    """What an erasure removed (or, with ``dry_run``, would remove). No erased content."""

    kind: EraseKind
    dry_run: bool
    documents: tuple[ErasedDocument, ...] = ()
    conversations: int | None = None  # None: unknown in a dry run
    conversation_texts: int = 0  # turns and feedback comments (match erasure)
    audit_texts: int | None = None
    api_keys: int | None = None  # None: no API-key store
    escalations: int | None = None  # ticket drafts removed; None: no escalation store
    tickets: int | None = None  # agents' tickets and AI suggestions removed; None: no store
    match_sha256: str | None = None
    audit_seq: int | None = None  # the erasure's own audit record
    notes: tuple[str, ...] = field(default=())

    @property
    def chunks(self) -> int:
        return sum(d.chunks for d in self.documents)

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "dry_run": self.dry_run,
            "documents": [
                {"source": d.source, "source_id": d.source_id, "chunks": d.chunks}
                for d in self.documents
            ],
            "chunks": self.chunks,
            "conversations": self.conversations,
            "conversation_texts": self.conversation_texts,
            "audit_texts": self.audit_texts,
            "api_keys": self.api_keys,
            "escalations": self.escalations,
            "tickets": self.tickets,
            "match_sha256": self.match_sha256,
            "audit_seq": self.audit_seq,
            "notes": list(self.notes),
        }


class Eraser:
    """Erases across the indexes, manifest, conversations, audit texts and API keys."""

    def __init__(
        self,
        *,
        indexer: Indexer,
        manifest: Manifest,
        conversations: ConversationStore,
        audit: AuditLog,
        keys: UserKeyDeleter | None = None,
        disk: DiskPurge | None = None,
        escalations: EscalationForgetter | None = None,
        tickets: TicketForgetter | None = None,
    ) -> None:
        self.indexer = indexer
        self.manifest = manifest
        self.conversations = conversations
        self.audit = audit
        self.keys = keys
        self.disk = disk or NoDiskPurge()
        self.escalations = escalations
        self.tickets = tickets  # the agents' ticket store (``assistant.ticket_store``)

    # -- entry points ---------------------------------------------------------------------------
    def erase_user(self, user_id: str, caller: Caller, *, dry_run: bool = False) -> ErasureReport:
        if not user_id.strip():
            raise InvalidInput("the user id to erase is empty", field="user")
        if dry_run:
            return ErasureReport(
                kind="user",
                dry_run=True,
                notes=("conversations, feedback comments, audit texts and API keys of this user",),
            )
        conversations = self.conversations.erase_user(user_id)
        audit_texts = self.audit.forget_texts(user_id)
        escalations = None if self.escalations is None else self.escalations.forget_user(user_id)
        keys = None if self.keys is None else self.keys.delete_user(user_id)
        tickets = None if self.tickets is None else self.tickets.forget_user(user_id)
        self.disk.purge(())
        report = ErasureReport(
            kind="user",
            dry_run=False,
            conversations=conversations,
            audit_texts=audit_texts,
            api_keys=keys,
            escalations=escalations,
            tickets=tickets,
        )
        details: dict[str, object] = {"user": self.audit.pseudonym(user_id)}
        return self._audited(report, caller, details)

    def erase_documents(
        self,
        source: str,
        source_id: str | None,
        caller: Caller,
        *,
        dry_run: bool = False,
    ) -> ErasureReport:
        if source_id is None:
            keys = [(e.source, e.source_id) for e in self.manifest.entries(source)]
            if not keys:
                raise NotFound(
                    f"the source {source!r} has no indexed documents",
                    hint="GET /v1/admin/sources lists the sources and their documents",
                )
        else:
            if self.manifest.get(source, source_id) is None:
                raise NotFound(f"no document {source_id!r} in the source {source!r}")
            keys = [(source, source_id)]
        documents, chunk_ids = self._erase_documents(keys, dry_run=dry_run)
        # candidate texts waiting for review are copies of the erased tickets' text
        candidates = (
            None
            if self.tickets is None
            else self.tickets.forget_candidates(source, source_id, dry_run=dry_run)
        )
        report = ErasureReport(
            kind="source", dry_run=dry_run, documents=documents, tickets=candidates
        )
        if dry_run:
            return report
        self.disk.purge(chunk_ids)
        return self._audited(report, caller, {"source": source})

    def erase_matching(self, text: str, caller: Caller, *, dry_run: bool = False) -> ErasureReport:
        needle = text.strip()
        if len(needle) < MIN_MATCH_CHARS:
            raise InvalidInput(
                f"the match text must have at least {MIN_MATCH_CHARS} characters",
                field="match",
            )
        keys = sorted({(c.source, c.source_id) for c in self.matching_chunks(needle)})
        documents, chunk_ids = self._erase_documents(keys, dry_run=dry_run)
        conversation_texts = self.conversations.erase_matching(needle, dry_run=dry_run)
        audit_texts = self.audit.forget_matching(needle, dry_run=dry_run)
        escalations = (
            None
            if self.escalations is None
            else self.escalations.forget_matching(needle, dry_run=dry_run)
        )
        tickets = (
            None if self.tickets is None else self.tickets.forget_matching(needle, dry_run=dry_run)
        )
        digest = sha256_text(needle.casefold())
        report = ErasureReport(
            kind="match",
            dry_run=dry_run,
            documents=documents,
            conversation_texts=conversation_texts,
            audit_texts=audit_texts,
            escalations=escalations,
            tickets=tickets,
            match_sha256=digest,
        )
        if dry_run:
            return report
        self.disk.purge(chunk_ids)
        return self._audited(report, caller, {}, needle=needle)

    def matching_chunks(self, needle: str) -> list[Chunk]:
        """Every indexed chunk whose title, heading or text contains ``needle`` (casefold).

        The lexical index finds whole-word matches fast; a scan of every chunk then catches
        the rest (part of a word, stop words only). Each candidate is confirmed on its text.
        """
        folded = needle.casefold()
        lexical = self.indexer.lexical
        found: dict[str, Chunk] = {}
        total = lexical.count()
        if total:
            for hit in lexical.search(needle, total):
                if _chunk_contains(hit.chunk, folded):
                    found[hit.chunk.chunk_id] = hit.chunk
        ids = sorted(lexical.ids() - found.keys())
        for start in range(0, len(ids), _SCAN_BATCH):
            for chunk in lexical.get(ids[start : start + _SCAN_BATCH]):
                if _chunk_contains(chunk, folded):
                    found[chunk.chunk_id] = chunk
        return sorted(found.values(), key=lambda c: (c.source, c.source_id, c.position))

    # -- internals ------------------------------------------------------------------------------
    def _erase_documents(
        self, keys: Iterable[tuple[str, str]], *, dry_run: bool
    ) -> tuple[tuple[ErasedDocument, ...], tuple[str, ...]]:
        erased: list[ErasedDocument] = []
        chunk_ids: list[str] = []
        for source, source_id in keys:
            entry = self.manifest.get(source, source_id)
            ids = () if entry is None else tuple(entry.chunk_ids) + entry.replaced_chunk_ids
            if not dry_run:
                # tombstone first: a reindex running meanwhile skips the document
                self.manifest.add_tombstone(source, source_id, WHOLE_DOCUMENT, TOMBSTONE_REASON)
                if entry is not None:
                    self.manifest.add_tombstone(
                        source, source_id, entry.content_hash, TOMBSTONE_REASON
                    )
                self.indexer.remove_document(source, source_id)
                self.manifest.clear_skip(source, source_id)
            erased.append(ErasedDocument(source, source_id, len(set(ids))))
            chunk_ids.extend(ids)
        return tuple(erased), tuple(dict.fromkeys(chunk_ids))

    def _audited(
        self,
        report: ErasureReport,
        caller: Caller,
        details: dict[str, object],
        *,
        needle: str | None = None,
    ) -> ErasureReport:
        folded = None if needle is None else needle.casefold()

        def safe(value: str) -> str:
            if folded is not None and folded in value.casefold():
                return "sha256:" + sha256_text(value)
            return value

        record = self.audit.append(
            AuditEvent(
                event="erasure",
                user_id=caller.user_id,
                role=caller.role,
                details={
                    "kind": report.kind,
                    **{k: safe(str(v)) for k, v in details.items()},
                    "documents": len(report.documents),
                    "chunks": report.chunks,
                    "source_ids": sorted(
                        f"{safe(d.source)}/{safe(d.source_id)}" for d in report.documents
                    ),
                    "conversations": report.conversations,
                    "conversation_texts": report.conversation_texts,
                    "audit_texts": report.audit_texts,
                    "api_keys": report.api_keys,
                    "escalations": report.escalations,
                    "tickets": report.tickets,
                    "match_sha256": report.match_sha256,
                },
            )
        )
        logger.info(
            "erasure kind=%s documents=%d chunks=%d conversations=%s conversation_texts=%d "
            "audit_texts=%s audit_seq=%d",
            report.kind,
            len(report.documents),
            report.chunks,
            report.conversations,
            report.conversation_texts,
            report.audit_texts,
            record.seq,
        )
        return ErasureReport(
            kind=report.kind,
            dry_run=False,
            documents=report.documents,
            conversations=report.conversations,
            conversation_texts=report.conversation_texts,
            audit_texts=report.audit_texts,
            api_keys=report.api_keys,
            escalations=report.escalations,
            tickets=report.tickets,
            match_sha256=report.match_sha256,
            audit_seq=record.seq,
            notes=report.notes,
        )


def _chunk_contains(chunk: Chunk, folded_needle: str) -> bool:
    return any(
        folded_needle in part.casefold() for part in (chunk.text, chunk.heading, chunk.title)
    )
