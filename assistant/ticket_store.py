"""The agents' ticket store: tickets (imported or arrived by webhook), AI suggestions for them,
the agents' decisions on those suggestions, and the webhook's replay guard.

The indexes hold ticket *text* for retrieval (``knowledge.tickets.documents``); this store holds
what retrieval cannot: a ticket's fields (queue, priority, type, status) for the triage vote and
the agent workspace's list, and every suggestion as it was shown, so that an agent's decision
refers to exactly that draft.

One SQLite file (``<data_dir>/tickets.sqlite3``), WAL, one connection behind a lock, so the
server may call it from any worker thread; ``TicketStore.memory()`` is the same code on an
in-memory database for tests and the memory mode.

Contract:
- ``upsert`` adds or replaces a ticket by id; ``get`` raises ``NotFound`` for an unknown id;
  ``recent`` lists the newest first (optionally filtered by subject or id).
- ``add_suggestion`` stores a suggestion (its JSON payload as shown); ``decide`` records one
  decision per suggestion (``accept``, ``edit`` with the sent text, ``reject``): deciding twice
  is a ``Conflict``, an unknown suggestion (or one of another ticket) is ``NotFound``.
- ``claim_nonce`` is true once per nonce: the webhook refuses a replayed delivery.
- ``forget_matching`` deletes tickets, suggestions and knowledge candidates whose text contains
  a string (erasure); ``forget_user`` deletes the suggestions a user asked for;
  ``forget_candidates`` deletes the candidates of an erased source or document.

Knowledge candidates (``tickets.knowledge_review``, docs/tickets.md): every resolved ticket's
redacted employee document, per (source, ticket id), exactly as it would go live, with its
content hash and a status ``pending``, ``approved`` or ``rejected``. Only the approved ones
whose decided hash is still their content hash go live (``live_documents``):

- ``record_candidates`` (each import) adds new ones as ``pending`` (mode ``review``) or
  ``approved`` by ``auto`` (mode ``auto``); a changed ticket goes back to ``pending`` in review
  mode, so its old approved text leaves the index until it is approved again; an unchanged one
  keeps its decision; candidates of tickets gone from the export are dropped. An explicit
  rejection holds in both modes until the content changes.
- ``decide_candidate`` approves or rejects one (the latest decision wins); ``NotFound`` for an
  unknown one, ``Conflict`` when the caller decided on a text that is no longer the current one.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from assistant.sqlite_file import SqliteFile
from knowledge.documents import Document
from knowledge.tickets.documents import AGENTS_GROUP, TicketDocuments, agent_acl, ticket_documents
from knowledge.tickets.model import RESOLVED_STATUSES, Ticket
from models.errors import Conflict, InvalidInput, NotFound

TICKETS_FILE = "tickets.sqlite3"  # under the data directory

Origin = Literal["import", "webhook", "pasted"]
DecisionKind = Literal["accept", "edit", "reject"]
DECISIONS: tuple[str, ...] = get_args(DecisionKind)
Clock = Callable[[], float]
ReviewMode = Literal["auto", "review"]
CandidateStatus = Literal["pending", "approved", "rejected"]
CANDIDATE_STATUSES: tuple[str, ...] = get_args(CandidateStatus)
CandidateDecision = Literal["approve", "reject"]
AUTO_ACTOR = "auto"  # ``decided_by`` of a candidate published by mode ``auto``

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    ticket_id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    resolution TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'open',
    queue TEXT NOT NULL DEFAULT '',
    priority TEXT NOT NULL DEFAULT '',
    type TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT 'und',
    created REAL,
    origin TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    updated REAL NOT NULL,
    acl TEXT NOT NULL DEFAULT '["agents"]'
);
CREATE INDEX IF NOT EXISTS tickets_updated ON tickets(updated DESC);
CREATE TABLE IF NOT EXISTS suggestions (
    suggestion_id TEXT PRIMARY KEY,
    ticket_id TEXT,
    owner TEXT NOT NULL,
    created REAL NOT NULL,
    payload TEXT NOT NULL,
    decision TEXT,
    decided REAL,
    sent_text TEXT
);
CREATE INDEX IF NOT EXISTS suggestions_ticket ON suggestions(ticket_id, created DESC);
CREATE TABLE IF NOT EXISTS webhook_nonces (
    nonce TEXT PRIMARY KEY,
    seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS knowledge_candidates (
    source TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    language TEXT NOT NULL DEFAULT 'und',
    acl TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}',
    modified REAL NOT NULL DEFAULT 0,
    redactions TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'pending',
    decided_by TEXT,
    decided_at REAL,
    decided_hash TEXT,
    reason TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (source, ticket_id)
);
CREATE INDEX IF NOT EXISTS candidates_status ON knowledge_candidates(status, created_at);
"""


@dataclass(frozen=True)
class StoredTicket:
    ticket_id: str
    subject: str
    body: str
    resolution: str = ""
    status: str = "open"
    queue: str = ""
    priority: str = ""
    type: str = ""
    language: str = "und"
    created: float | None = None
    origin: Origin = "import"
    source: str = ""
    updated: float = 0.0
    acl: tuple[str, ...] = (AGENTS_GROUP,)  # the agents' groups that see it (``agent_acl``)

    def readable_by(self, groups: Collection[str] | None) -> bool:
        """``groups``: the caller's ``ticket_groups`` (``None``: everything)."""
        return groups is None or bool(set(self.acl).intersection(groups))

    @property
    def is_resolved(self) -> bool:
        return Ticket(self.ticket_id, self.subject, (), self.resolution, self.status).is_resolved

    @classmethod
    def from_ticket(
        cls, ticket: Ticket, *, origin: Origin, source: str = "", acl: Sequence[str] = ()
    ) -> StoredTicket:
        """``acl``: the import's groups (a ticket's own ACL wins), as for its full record."""
        body = ticket.problem or next((m.text for m in ticket.thread if m.text.strip()), "")
        return cls(
            ticket_id=ticket.id,
            subject=ticket.subject,
            body=body,
            resolution=ticket.resolution,
            status=ticket.status,
            queue=ticket.queue,
            priority=ticket.priority,
            type=ticket.type,
            language=ticket.language,
            created=ticket.created.timestamp() if ticket.created else None,
            origin=origin,
            source=source,
            acl=agent_acl(ticket.acl or tuple(acl)),
        )


@dataclass(frozen=True)
class StoredSuggestion:
    suggestion_id: str
    ticket_id: str | None
    owner: str  # the user id of the agent who asked (erasure finds it by this)
    created: float
    payload: Mapping[str, object] = field(default_factory=dict)
    decision: DecisionKind | None = None
    decided: float | None = None
    sent_text: str | None = None


@dataclass(frozen=True)
class CandidateDocument:
    """One resolved ticket's redacted employee document and what redaction replaced in it."""

    ticket_id: str
    document: Document
    redactions: Mapping[str, int] = field(default_factory=dict)  # placeholders, by kind


@dataclass(frozen=True)
class KnowledgeCandidate:
    """A ticket's redacted knowledge document as stored for review (see the module docstring).

    ``decided_by`` is the deciding admin's pseudonymous actor id (as in the audit log), or
    ``auto`` for mode ``auto``; ``decided_hash`` is the content hash the decision was about.
    """

    source: str
    ticket_id: str
    source_id: str
    title: str
    text: str
    content_hash: str
    language: str = "und"
    acl: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    modified: float = 0.0
    redactions: Mapping[str, int] = field(default_factory=dict)
    status: CandidateStatus = "pending"
    decided_by: str | None = None
    decided_at: float | None = None
    decided_hash: str | None = None
    reason: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def live(self) -> bool:
        """Approved, and the approval was about the current text."""
        return self.status == "approved" and self.decided_hash == self.content_hash

    def document(self) -> Document:
        """The employee document exactly as the import made it."""
        return Document(
            source_id=self.source_id,
            title=self.title,
            text=self.text,
            format="ticket",
            language=self.language,
            modified=self.modified,
            content_hash=self.content_hash,
            acl=self.acl,
            source=self.source,
            metadata=dict(self.metadata),
        )


@dataclass(frozen=True)
class CandidateSummary:
    """What one ``record_candidates`` did, and the source's candidates by status after it."""

    new: int = 0
    changed: int = 0
    removed: int = 0
    pending: int = 0
    approved: int = 0
    rejected: int = 0
    live: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "new": self.new,
            "changed": self.changed,
            "removed": self.removed,
            "pending": self.pending,
            "approved": self.approved,
            "rejected": self.rejected,
            "live": self.live,
        }


def candidate_documents(
    tickets: Sequence[Ticket], *, source: str, acl: tuple[str, ...]
) -> tuple[TicketDocuments, list[CandidateDocument]]:
    """``ticket_documents`` (same documents, same totals), plus each resolved ticket's
    redacted document with its own redaction counts, for the candidates table."""
    knowledge: list[Document] = []
    agents: list[Document] = []
    totals: dict[str, int] = {}
    candidates: list[CandidateDocument] = []
    for ticket in tickets:
        one = ticket_documents([ticket], source=source, acl=acl)
        knowledge += one.knowledge
        agents += one.agents
        for kind, n in one.redactions.items():
            totals[kind] = totals.get(kind, 0) + n
        candidates += [CandidateDocument(ticket.id, d, dict(one.redactions)) for d in one.knowledge]
    return TicketDocuments(knowledge, agents, totals), candidates


_CANDIDATE_COLUMNS = (
    "source, ticket_id, source_id, title, text, content_hash, language, acl, metadata, "
    "modified, redactions, status, decided_by, decided_at, decided_hash, reason, created_at, "
    "updated_at"
)


def _optional_float(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def _candidate(row: Sequence[object]) -> KnowledgeCandidate:
    return KnowledgeCandidate(
        source=str(row[0]),
        ticket_id=str(row[1]),
        source_id=str(row[2]),
        title=str(row[3]),
        text=str(row[4]),
        content_hash=str(row[5]),
        language=str(row[6]),
        acl=tuple(json.loads(str(row[7]))),
        metadata=json.loads(str(row[8])),
        modified=float(row[9]),  # type: ignore[arg-type]
        redactions=json.loads(str(row[10])),
        status=str(row[11]),  # type: ignore[arg-type]
        decided_by=None if row[12] is None else str(row[12]),
        decided_at=_optional_float(row[13]),
        decided_hash=None if row[14] is None else str(row[14]),
        reason=None if row[15] is None else str(row[15]),
        created_at=float(row[16]),  # type: ignore[arg-type]
        updated_at=float(row[17]),  # type: ignore[arg-type]
    )


_TICKET_COLUMNS = (
    "ticket_id, subject, body, resolution, status, queue, priority, type, language, created, "
    "origin, source, updated, acl"
)


def _ticket(row: Sequence[object]) -> StoredTicket:
    created = row[9]
    return StoredTicket(
        ticket_id=str(row[0]),
        subject=str(row[1]),
        body=str(row[2]),
        resolution=str(row[3]),
        status=str(row[4]),
        queue=str(row[5]),
        priority=str(row[6]),
        type=str(row[7]),
        language=str(row[8]),
        created=float(created) if isinstance(created, (int, float)) else None,
        origin=str(row[10]),  # type: ignore[arg-type]
        source=str(row[11]),
        updated=float(row[12]),  # type: ignore[arg-type]
        acl=tuple(json.loads(str(row[13]))),
    )


def _readable(groups: Collection[str] | None) -> tuple[str, list[object]]:
    """SQL condition (and its arguments) for the tickets ``groups`` may read."""
    if groups is None:
        return "1", []
    wanted = sorted(set(groups))
    marks = ",".join("?" * len(wanted))
    return f"EXISTS (SELECT 1 FROM json_each(tickets.acl) WHERE value IN ({marks}))", [*wanted]


def _suggestion(row: Sequence[object]) -> StoredSuggestion:
    decided = row[6]
    return StoredSuggestion(
        suggestion_id=str(row[0]),
        ticket_id=None if row[1] is None else str(row[1]),
        owner=str(row[2]),
        created=float(row[3]),  # type: ignore[arg-type]
        payload=json.loads(str(row[4])),
        decision=None if row[5] is None else str(row[5]),  # type: ignore[arg-type]
        decided=float(decided) if isinstance(decided, (int, float)) else None,
        sent_text=None if row[7] is None else str(row[7]),
    )


def _like(needle: str) -> str:  # for the list's filter
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class TicketStore:
    def __init__(self, path: Path | None, clock: Clock = time.time) -> None:
        """``path`` ``None``: an in-memory database (tests, the memory mode)."""
        self.path = path
        self._clock = clock
        self._file = SqliteFile(path, name="the ticket store", schema=_SCHEMA)
        self._tx = self._file.tx
        self._query = self._file.query
        columns = {str(r[1]) for r in self._query("PRAGMA table_info(tickets)")}
        if "acl" not in columns:  # a store from before per-group ticket ACLs
            with self._tx() as db:
                db.execute(
                    "ALTER TABLE tickets ADD COLUMN acl TEXT NOT NULL DEFAULT '[\"agents\"]'"
                )

    @classmethod
    def memory(cls, clock: Clock = time.time) -> TicketStore:
        return cls(None, clock)

    # -- tickets --------------------------------------------------------------------------------
    def upsert(self, tickets: Sequence[StoredTicket]) -> int:
        now = self._clock()
        rows = [
            (
                t.ticket_id,
                t.subject,
                t.body,
                t.resolution,
                t.status,
                t.queue,
                t.priority,
                t.type,
                t.language,
                t.created,
                t.origin,
                t.source,
                now,
                json.dumps(list(t.acl)),
            )
            for t in tickets
        ]
        with self._tx() as db:
            db.executemany(
                f"INSERT OR REPLACE INTO tickets ({_TICKET_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def remove_source(self, source: str, keep: Sequence[str]) -> int:
        """Delete the source's tickets whose ids are not in ``keep`` (gone from the export)."""
        kept = set(keep)
        ids = [
            str(r[0])
            for r in self._query("SELECT ticket_id FROM tickets WHERE source = ?", (source,))
        ]
        gone = [i for i in ids if i not in kept]
        with self._tx() as db:
            db.executemany("DELETE FROM tickets WHERE ticket_id = ?", [(i,) for i in gone])
        return len(gone)

    def get(self, ticket_id: str) -> StoredTicket:
        rows = self._query(
            f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE ticket_id = ?", (ticket_id,)
        )
        if not rows:
            raise NotFound(f"no ticket {ticket_id!r}", hint="GET /v1/tickets lists the tickets")
        return _ticket(rows[0])

    def find(self, ticket_ids: Sequence[str]) -> dict[str, StoredTicket]:
        if not ticket_ids:
            return {}
        marks = ",".join("?" * len(ticket_ids))
        rows = self._query(
            f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE ticket_id IN ({marks})", ticket_ids
        )
        return {t.ticket_id: t for t in map(_ticket, rows)}

    def recent(
        self,
        *,
        limit: int = 50,
        query: str = "",
        open_only: bool = False,
        groups: Collection[str] | None = None,
    ) -> list[StoredTicket]:
        """Newest first; ``groups``: only the tickets they may read (``None``: all)."""
        sql = f"SELECT {_TICKET_COLUMNS} FROM tickets"
        readable, args = _readable(groups)
        where: list[str] = [readable]
        if query.strip():
            where.append("(subject LIKE ? ESCAPE '\\' OR ticket_id LIKE ? ESCAPE '\\')")
            args += [_like(query.strip()), _like(query.strip())]
        if open_only:
            marks = ",".join("?" * len(RESOLVED_STATUSES))
            where.append(f"lower(status) NOT IN ({marks})")
            args += sorted(RESOLVED_STATUSES)
        sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY COALESCE(created, updated) DESC, ticket_id LIMIT ?"
        args.append(limit)
        return [_ticket(r) for r in self._query(sql, args)]

    def all(self) -> list[StoredTicket]:
        rows = self._query(f"SELECT {_TICKET_COLUMNS} FROM tickets ORDER BY ticket_id")
        return [_ticket(r) for r in rows]

    def count(self) -> int:
        value = self._query("SELECT COUNT(*) FROM tickets")[0][0]
        return value if isinstance(value, int) else 0

    # -- suggestions ----------------------------------------------------------------------------
    def add_suggestion(
        self, ticket_id: str | None, owner: str, payload: Mapping[str, object]
    ) -> StoredSuggestion:
        suggestion_id = uuid.uuid4().hex
        suggestion = StoredSuggestion(
            suggestion_id=suggestion_id,
            ticket_id=ticket_id,
            owner=owner,
            created=self._clock(),
            payload={**payload, "suggestion_id": suggestion_id},
        )
        with self._tx() as db:
            db.execute(
                "INSERT INTO suggestions (suggestion_id, ticket_id, owner, created, payload) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    suggestion.suggestion_id,
                    ticket_id,
                    owner,
                    suggestion.created,
                    # non-ASCII kept as is, so that erasure's text match sees the text
                    json.dumps(suggestion.payload, ensure_ascii=False),
                ),
            )
        return suggestion

    def suggestion(self, suggestion_id: str) -> StoredSuggestion:
        rows = self._query(
            "SELECT suggestion_id, ticket_id, owner, created, payload, decision, decided, "
            "sent_text FROM suggestions WHERE suggestion_id = ?",
            (suggestion_id,),
        )
        if not rows:
            raise NotFound(f"no suggestion {suggestion_id!r}")
        return _suggestion(rows[0])

    def latest_suggestion(self, ticket_id: str) -> StoredSuggestion | None:
        rows = self._query(
            "SELECT suggestion_id, ticket_id, owner, created, payload, decision, decided, "
            "sent_text FROM suggestions WHERE ticket_id = ? ORDER BY created DESC LIMIT 1",
            (ticket_id,),
        )
        return _suggestion(rows[0]) if rows else None

    def with_suggestions(self, ticket_ids: Sequence[str]) -> set[str]:
        if not ticket_ids:
            return set()
        marks = ",".join("?" * len(ticket_ids))
        rows = self._query(
            f"SELECT DISTINCT ticket_id FROM suggestions WHERE ticket_id IN ({marks})", ticket_ids
        )
        return {str(r[0]) for r in rows}

    def decide(
        self,
        ticket_id: str | None,
        suggestion_id: str,
        decision: str,
        sent_text: str | None = None,
    ) -> StoredSuggestion:
        if decision not in DECISIONS:
            raise InvalidInput(f"unknown decision {decision!r}", field="decision")
        if decision == "edit" and not (sent_text or "").strip():
            raise InvalidInput("an edit needs the text that was sent", field="text")
        if decision != "edit":
            sent_text = None
        with self._tx() as db:
            row = db.execute(
                "SELECT ticket_id, decision FROM suggestions WHERE suggestion_id = ?",
                (suggestion_id,),
            ).fetchone()
            if row is None or row[0] != ticket_id:
                raise NotFound(
                    f"no suggestion {suggestion_id!r} for this ticket",
                    hint="use the suggestion_id and ticket_id the suggestion returned",
                )
            if row[1] is not None:
                raise Conflict(f"suggestion {suggestion_id!r} was already decided: {row[1]}")
            db.execute(
                "UPDATE suggestions SET decision = ?, decided = ?, sent_text = ? "
                "WHERE suggestion_id = ?",
                (decision, self._clock(), sent_text, suggestion_id),
            )
        return self.suggestion(suggestion_id)

    # -- webhook replay guard -------------------------------------------------------------------
    def claim_nonce(self, nonce: str, *, keep_s: float) -> bool:
        """True the first time ``nonce`` is seen within ``keep_s`` seconds."""
        now = self._clock()
        with self._tx() as db:
            db.execute("DELETE FROM webhook_nonces WHERE seen < ?", (now - keep_s,))
            try:
                db.execute("INSERT INTO webhook_nonces (nonce, seen) VALUES (?, ?)", (nonce, now))
            except sqlite3.IntegrityError:
                return False
        return True

    # -- knowledge candidates -------------------------------------------------------------------
    def record_candidates(
        self,
        source: str,
        candidates: Sequence[CandidateDocument],
        *,
        mode: ReviewMode,
        live: Mapping[str, str] | None = None,
    ) -> CandidateSummary:
        """Make the source's candidates exactly ``candidates`` (one import's resolved tickets).

        ``live`` (source id -> content hash) are the documents already in the employee index:
        a new candidate found there unchanged was published before review began and is
        recorded as approved by ``auto``, so that switching to review withdraws nothing.
        """
        now = self._clock()
        published = live or {}
        new = changed = 0
        with self._tx() as db:
            rows = db.execute(
                "SELECT ticket_id, content_hash, status, created_at FROM knowledge_candidates "
                "WHERE source = ?",
                (source,),
            ).fetchall()
            known = {str(r[0]): (str(r[1]), str(r[2]), float(r[3])) for r in rows}
            seen: set[str] = set()
            for cand in candidates:
                doc = cand.document
                seen.add(cand.ticket_id)
                content = (
                    doc.source_id,
                    doc.title,
                    doc.text,
                    doc.content_hash,
                    doc.language,
                    json.dumps(list(doc.acl)),
                    json.dumps(doc.metadata, ensure_ascii=False, sort_keys=True),
                    doc.modified,
                    json.dumps(dict(cand.redactions), sort_keys=True),
                )
                before = known.get(cand.ticket_id)
                auto = mode == "auto" or published.get(doc.source_id) == doc.content_hash
                if before is None or before[0] != doc.content_hash:
                    status = "approved" if auto else "pending"
                    decided = (AUTO_ACTOR, now, doc.content_hash) if auto else (None, None, None)
                    if before is None:
                        new += 1
                    else:
                        changed += 1
                    created = now if before is None else before[2]
                    db.execute(
                        f"INSERT OR REPLACE INTO knowledge_candidates ({_CANDIDATE_COLUMNS}) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (source, cand.ticket_id, *content, status, *decided, None, created, now),
                    )
                    continue
                # unchanged text: the decision stands; ACL and redaction counts may be updated
                db.execute(
                    "UPDATE knowledge_candidates SET source_id = ?, title = ?, text = ?, "
                    "content_hash = ?, language = ?, acl = ?, metadata = ?, modified = ?, "
                    "redactions = ? WHERE source = ? AND ticket_id = ?",
                    (*content, source, cand.ticket_id),
                )
                if mode == "auto" and before[1] == "pending":
                    db.execute(
                        "UPDATE knowledge_candidates SET status = 'approved', decided_by = ?, "
                        "decided_at = ?, decided_hash = content_hash "
                        "WHERE source = ? AND ticket_id = ?",
                        (AUTO_ACTOR, now, source, cand.ticket_id),
                    )
            gone = [i for i in known if i not in seen]
            db.executemany(
                "DELETE FROM knowledge_candidates WHERE source = ? AND ticket_id = ?",
                [(source, i) for i in gone],
            )
        counts = self.candidate_counts(source)
        return CandidateSummary(
            new=new,
            changed=changed,
            removed=len(gone),
            pending=counts["pending"],
            approved=counts["approved"],
            rejected=counts["rejected"],
            live=self._count_live(source),
        )

    def _count_live(self, source: str) -> int:
        value = self._query(
            "SELECT COUNT(*) FROM knowledge_candidates "
            "WHERE source = ? AND status = 'approved' AND decided_hash = content_hash",
            (source,),
        )[0][0]
        return value if isinstance(value, int) else 0

    def candidate(self, source: str, ticket_id: str) -> KnowledgeCandidate:
        rows = self._query(
            f"SELECT {_CANDIDATE_COLUMNS} FROM knowledge_candidates "
            "WHERE source = ? AND ticket_id = ?",
            (source, ticket_id),
        )
        if not rows:
            raise NotFound(
                f"no knowledge candidate {ticket_id!r} in the source {source!r}",
                hint="GET /v1/admin/candidates (or `lotse tickets candidates`) lists them",
            )
        return _candidate(rows[0])

    def candidates(
        self,
        *,
        status: CandidateStatus | None = "pending",
        source: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[KnowledgeCandidate]:
        """Oldest first (a review queue); ``status`` ``None``: every status."""
        where, args = self._candidate_filter(status, source)
        rows = self._query(
            f"SELECT {_CANDIDATE_COLUMNS} FROM knowledge_candidates{where} "
            "ORDER BY created_at, source, ticket_id LIMIT ? OFFSET ?",
            [*args, limit, offset],
        )
        return [_candidate(r) for r in rows]

    def count_candidates(
        self, *, status: CandidateStatus | None = "pending", source: str | None = None
    ) -> int:
        where, args = self._candidate_filter(status, source)
        value = self._query(f"SELECT COUNT(*) FROM knowledge_candidates{where}", args)[0][0]
        return value if isinstance(value, int) else 0

    def candidate_counts(self, source: str | None = None) -> dict[str, int]:
        """Candidates per status (every status present, zero when none)."""
        where, args = self._candidate_filter(None, source)
        rows = self._query(
            f"SELECT status, COUNT(*) FROM knowledge_candidates{where} GROUP BY status", args
        )
        counts = dict.fromkeys(CANDIDATE_STATUSES, 0)
        counts.update({str(r[0]): int(r[1]) for r in rows})  # type: ignore[call-overload]
        return counts

    @staticmethod
    def _candidate_filter(
        status: CandidateStatus | None, source: str | None
    ) -> tuple[str, list[object]]:
        where: list[str] = []
        args: list[object] = []
        if status is not None:
            if status not in CANDIDATE_STATUSES:
                raise InvalidInput(f"unknown candidate status {status!r}", field="status")
            where.append("status = ?")
            args.append(status)
        if source is not None:
            where.append("source = ?")
            args.append(source)
        return (" WHERE " + " AND ".join(where) if where else ""), args

    def decide_candidate(
        self,
        source: str,
        ticket_id: str,
        decision: CandidateDecision,
        *,
        actor: str,
        reason: str | None = None,
        content_hash: str | None = None,
    ) -> KnowledgeCandidate:
        """Approve or reject one candidate (the latest decision wins). ``content_hash``: the
        text the caller saw; a different current text is a ``Conflict``."""
        if decision not in ("approve", "reject"):
            raise InvalidInput(f"unknown decision {decision!r}", field="decision")
        status: CandidateStatus = "approved" if decision == "approve" else "rejected"
        with self._tx() as db:
            row = db.execute(
                "SELECT content_hash FROM knowledge_candidates WHERE source = ? AND ticket_id = ?",
                (source, ticket_id),
            ).fetchone()
            if row is None:
                raise NotFound(
                    f"no knowledge candidate {ticket_id!r} in the source {source!r}",
                    hint="GET /v1/admin/candidates (or `lotse tickets candidates`) lists them",
                )
            if content_hash is not None and content_hash != row[0]:
                raise Conflict(
                    f"the candidate {ticket_id!r} changed since it was shown",
                    hint="reload the candidates and decide on the current text",
                )
            db.execute(
                "UPDATE knowledge_candidates SET status = ?, decided_by = ?, decided_at = ?, "
                "decided_hash = content_hash, reason = ? WHERE source = ? AND ticket_id = ?",
                (status, actor, self._clock(), reason or None, source, ticket_id),
            )
        return self.candidate(source, ticket_id)

    def live_documents(self, source: str) -> list[Document]:
        """The employee documents of ``source`` that may be indexed: approved, unchanged."""
        rows = self._query(
            f"SELECT {_CANDIDATE_COLUMNS} FROM knowledge_candidates "
            "WHERE source = ? AND status = 'approved' AND decided_hash = content_hash "
            "ORDER BY source_id",
            (source,),
        )
        return [_candidate(r).document() for r in rows]

    # -- erasure --------------------------------------------------------------------------------
    def forget_matching(self, needle: str, *, dry_run: bool = False) -> int:
        """Tickets, suggestions and knowledge candidates whose text contains ``needle``
        (case-folded, so that "Müller" also finds "MÜLLER"): deleted, or only counted with
        ``dry_run``."""
        folded = needle.casefold()
        tickets = [
            str(r[0])
            for r in self._query("SELECT ticket_id, subject, body, resolution FROM tickets")
            if any(folded in str(text).casefold() for text in r[1:])
        ]
        suggestions = [
            str(r[0])
            for r in self._query("SELECT suggestion_id, payload, sent_text FROM suggestions")
            if folded in str(r[1]).casefold()
            or (r[2] is not None and folded in str(r[2]).casefold())
        ]
        candidates = [
            (str(r[0]), str(r[1]))
            for r in self._query(
                "SELECT source, ticket_id, title, text, reason FROM knowledge_candidates"
            )
            if any(text is not None and folded in str(text).casefold() for text in r[2:])
        ]
        if dry_run:
            return len(tickets) + len(suggestions) + len(candidates)
        with self._tx() as db:
            db.executemany("DELETE FROM tickets WHERE ticket_id = ?", [(i,) for i in tickets])
            db.executemany(
                "DELETE FROM suggestions WHERE suggestion_id = ?", [(i,) for i in suggestions]
            )
            db.executemany(
                "DELETE FROM knowledge_candidates WHERE source = ? AND ticket_id = ?", candidates
            )
        return len(tickets) + len(suggestions) + len(candidates)

    def forget_candidates(
        self, source: str, source_id: str | None = None, *, dry_run: bool = False
    ) -> int:
        """The knowledge candidates of an erased source (or of one of its documents, by its
        source id ``tickets/<id>``): deleted, or only counted with ``dry_run``."""
        sql = "FROM knowledge_candidates WHERE source = ?"
        args: list[object] = [source]
        if source_id is not None:
            sql += " AND source_id = ?"
            args.append(source_id)
        if dry_run:
            value = self._query("SELECT COUNT(*) " + sql, args)[0][0]
            return value if isinstance(value, int) else 0
        with self._tx() as db:
            cursor = db.execute("DELETE " + sql, args)
        return int(cursor.rowcount)

    def forget_user(self, user_id: str) -> int:
        with self._tx() as db:
            cursor = db.execute("DELETE FROM suggestions WHERE owner = ?", (user_id,))
        return int(cursor.rowcount)

    def close(self) -> None:
        self._file.close()
