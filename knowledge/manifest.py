"""The manifest: which document version produced which chunks, plus tombstones.

One SQLite file under the data directory. A document row is written as ``pending`` (listing
both the chunk ids it replaces and the ones it is about to write) before the indexes are
touched, and flipped to ``complete`` afterwards. After a crash, ``pending()`` names exactly the
chunk ids that may be half-written, so the next ingest can remove them and start that document
again: the indexes never keep chunks the manifest does not know about.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from models.errors import StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    format TEXT NOT NULL,
    language TEXT NOT NULL,
    acl TEXT NOT NULL,
    modified REAL NOT NULL,
    indexed_at REAL NOT NULL,
    chunk_ids TEXT NOT NULL,
    replaced_chunk_ids TEXT NOT NULL DEFAULT '[]',
    state TEXT NOT NULL CHECK (state IN ('pending', 'complete')),
    warnings TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (source, source_id)
);
CREATE TABLE IF NOT EXISTS tombstones (
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    reason TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (source, source_id, content_hash)
);
CREATE INDEX IF NOT EXISTS tombstones_hash ON tombstones (content_hash);
CREATE TABLE IF NOT EXISTS skipped (
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (source, source_id)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    location TEXT NOT NULL,
    acl TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}',
    registered_at REAL NOT NULL,
    last_indexed REAL
);
"""


@dataclass(frozen=True)
class ManifestEntry:
    source: str
    source_id: str
    content_hash: str
    title: str
    format: str
    language: str
    acl: tuple[str, ...]
    modified: float
    indexed_at: float
    chunk_ids: tuple[str, ...]
    replaced_chunk_ids: tuple[str, ...] = ()
    state: str = "complete"
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceRecord:
    name: str
    kind: str  # "folder" or a ticket format
    location: str
    acl: tuple[str, ...]
    registered_at: float
    last_indexed: float | None
    options: dict[str, str]


class Manifest:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the manifest {path}: {exc}") from exc
        self._lock = threading.RLock()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @staticmethod
    def _entry(row: sqlite3.Row | tuple[object, ...]) -> ManifestEntry:
        (
            source,
            source_id,
            content_hash,
            title,
            fmt,
            language,
            acl,
            modified,
            indexed_at,
            chunk_ids,
            replaced,
            state,
            warnings,
        ) = row
        return ManifestEntry(
            source=str(source),
            source_id=str(source_id),
            content_hash=str(content_hash),
            title=str(title),
            format=str(fmt),
            language=str(language),
            acl=tuple(json.loads(str(acl))),
            modified=float(str(modified)),
            indexed_at=float(str(indexed_at)),
            chunk_ids=tuple(json.loads(str(chunk_ids))),
            replaced_chunk_ids=tuple(json.loads(str(replaced))),
            state=str(state),
            warnings=tuple(json.loads(str(warnings))),
        )

    _COLUMNS = (
        "source, source_id, content_hash, title, format, language, acl, modified, indexed_at, "
        "chunk_ids, replaced_chunk_ids, state, warnings"
    )

    def get(self, source: str, source_id: str) -> ManifestEntry | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._COLUMNS} FROM documents WHERE source=? AND source_id=?",
                (source, source_id),
            ).fetchone()
        return self._entry(row) if row else None

    def entries(self, source: str | None = None) -> list[ManifestEntry]:
        query = f"SELECT {self._COLUMNS} FROM documents"
        args: tuple[str, ...] = ()
        if source is not None:
            query += " WHERE source=?"
            args = (source,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY source, source_id", args).fetchall()
        return [self._entry(r) for r in rows]

    def count(self) -> int:
        """Documents in the manifest (pending ones included)."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM documents").fetchone()[0])

    def pending(self) -> list[ManifestEntry]:
        return [e for e in self.entries() if e.state == "pending"]

    def begin(self, entry: ManifestEntry) -> None:
        """Record the intent to replace a document's chunks (before touching any index)."""
        with self._tx() as db:
            db.execute(
                f"INSERT OR REPLACE INTO documents ({self._COLUMNS}) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    entry.source,
                    entry.source_id,
                    entry.content_hash,
                    entry.title,
                    entry.format,
                    entry.language,
                    json.dumps(list(entry.acl)),
                    entry.modified,
                    entry.indexed_at,
                    json.dumps(list(entry.chunk_ids)),
                    json.dumps(list(entry.replaced_chunk_ids)),
                    "pending",
                    json.dumps(list(entry.warnings)),
                ),
            )
            db.execute(
                "DELETE FROM skipped WHERE source=? AND source_id=?",
                (entry.source, entry.source_id),
            )

    def commit(self, source: str, source_id: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE documents SET state='complete', replaced_chunk_ids='[]' "
                "WHERE source=? AND source_id=?",
                (source, source_id),
            )

    def remove(self, source: str, source_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM documents WHERE source=? AND source_id=?", (source, source_id))

    # -- skipped files (last ingest's reasons, shown to admins) --------------------------------
    def record_skip(self, source: str, source_id: str, reason: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO skipped (source, source_id, reason, at) VALUES (?,?,?,?)",
                (source, source_id, reason, time.time()),
            )

    def clear_skip(self, source: str, source_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM skipped WHERE source=? AND source_id=?", (source, source_id))

    def skipped(self, source: str | None = None) -> list[tuple[str, str, str]]:
        query, args = "SELECT source, source_id, reason FROM skipped", ()
        if source is not None:
            query, args = query + " WHERE source=?", (source,)  # type: ignore[assignment]
        with self._lock:
            rows = self._db.execute(query + " ORDER BY source, source_id", args).fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    # -- tombstones ---------------------------------------------------------------------------
    def add_tombstone(self, source: str, source_id: str, content_hash: str, reason: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO tombstones "
                "(source, source_id, content_hash, reason, created) VALUES (?,?,?,?,?)",
                (source, source_id, content_hash, reason, time.time()),
            )

    def is_tombstoned(self, source: str, source_id: str, content_hash: str) -> bool:
        """A source id erased as a whole ("*" hash) or this exact content was erased."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM tombstones WHERE (source=? AND source_id=? "
                "AND content_hash IN (?, '*')) OR content_hash=? LIMIT 1",
                (source, source_id, content_hash, content_hash),
            ).fetchone()
        return row is not None

    # -- index-wide facts (which embedder built the vectors) --------------------------------
    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- registered sources -------------------------------------------------------------------
    def register_source(
        self,
        name: str,
        kind: str,
        location: str,
        acl: tuple[str, ...],
        options: dict[str, str] | None = None,
    ) -> SourceRecord:
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO sources (name, kind, location, acl, options, registered_at) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET kind=excluded.kind, "
                "location=excluded.location, acl=excluded.acl, options=excluded.options",
                (name, kind, location, json.dumps(list(acl)), json.dumps(options or {}), now),
            )
        record = self.source(name)
        assert record is not None
        return record

    def source(self, name: str) -> SourceRecord | None:
        return next((s for s in self.sources() if s.name == name), None)

    def sources(self) -> list[SourceRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name, kind, location, acl, registered_at, last_indexed, options "
                "FROM sources ORDER BY name"
            ).fetchall()
        return [
            SourceRecord(
                name=str(r[0]),
                kind=str(r[1]),
                location=str(r[2]),
                acl=tuple(json.loads(str(r[3]))),
                registered_at=float(r[4]),
                last_indexed=None if r[5] is None else float(r[5]),
                options=dict(json.loads(str(r[6]))),
            )
            for r in rows
        ]

    def mark_indexed(self, name: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE sources SET last_indexed=? WHERE name=?", (time.time(), name))

    def remove_source(self, name: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM sources WHERE name=?", (name,))

    def close(self) -> None:
        with self._lock:
            self._db.close()
