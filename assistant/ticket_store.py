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
- ``forget_matching`` deletes tickets and suggestions whose text contains a string (erasure);
  ``forget_user`` deletes the suggestions a user asked for.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from assistant.sqlite_file import SqliteFile
from knowledge.tickets.model import RESOLVED_STATUSES, Ticket
from models.errors import Conflict, InvalidInput, NotFound

TICKETS_FILE = "tickets.sqlite3"  # under the data directory

Origin = Literal["import", "webhook", "pasted"]
DecisionKind = Literal["accept", "edit", "reject"]
DECISIONS: tuple[str, ...] = get_args(DecisionKind)
Clock = Callable[[], float]

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
    updated REAL NOT NULL
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

    @property
    def is_resolved(self) -> bool:
        return Ticket(self.ticket_id, self.subject, (), self.resolution, self.status).is_resolved

    @classmethod
    def from_ticket(cls, ticket: Ticket, *, origin: Origin, source: str = "") -> StoredTicket:
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


_TICKET_COLUMNS = (
    "ticket_id, subject, body, resolution, status, queue, priority, type, language, created, "
    "origin, source, updated"
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
    )


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
            )
            for t in tickets
        ]
        with self._tx() as db:
            db.executemany(
                f"INSERT OR REPLACE INTO tickets ({_TICKET_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        self, *, limit: int = 50, query: str = "", open_only: bool = False
    ) -> list[StoredTicket]:
        sql = f"SELECT {_TICKET_COLUMNS} FROM tickets"
        where: list[str] = []
        args: list[object] = []
        if query.strip():
            where.append("(subject LIKE ? ESCAPE '\\' OR ticket_id LIKE ? ESCAPE '\\')")
            args += [_like(query.strip()), _like(query.strip())]
        if open_only:
            marks = ",".join("?" * len(RESOLVED_STATUSES))
            where.append(f"lower(status) NOT IN ({marks})")
            args += sorted(RESOLVED_STATUSES)
        if where:
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

    # -- erasure --------------------------------------------------------------------------------
    def forget_matching(self, needle: str, *, dry_run: bool = False) -> int:
        """Tickets and suggestions whose text contains ``needle`` (case-folded, so that
        "Müller" also finds "MÜLLER"): deleted, or only counted with ``dry_run``."""
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
        if dry_run:
            return len(tickets) + len(suggestions)
        with self._tx() as db:
            db.executemany("DELETE FROM tickets WHERE ticket_id = ?", [(i,) for i in tickets])
            db.executemany(
                "DELETE FROM suggestions WHERE suggestion_id = ?", [(i,) for i in suggestions]
            )
        return len(tickets) + len(suggestions)

    def forget_user(self, user_id: str) -> int:
        with self._tx() as db:
            cursor = db.execute("DELETE FROM suggestions WHERE owner = ?", (user_id,))
        return int(cursor.rowcount)

    def close(self) -> None:
        self._file.close()
