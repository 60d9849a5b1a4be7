"""One SQLite file of a store: a single connection behind a lock, WAL, and transactions and
reads that fail with Lotse's errors (``StoreError``; ``Conflict`` for a refused write).

The agents' ticket store and the escalation store share it, so the server may call either from
any worker thread. ``path`` ``None`` is an in-memory database (tests, the memory mode).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from models.errors import Conflict, StoreError


class SqliteFile:
    def __init__(self, path: Path | None, *, name: str, schema: str) -> None:
        """``name`` says which store failed in error messages, e.g. "the ticket store"."""
        self.path = path
        self.name = name
        self._lock = threading.RLock()
        target = ":memory:" if path is None else str(path)
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                target, check_same_thread=False, isolation_level=None, timeout=30.0
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"cannot open {name} {target}: {exc}",
                hint="check that the data directory is writable",
            ) from exc
        try:
            if path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(schema)
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(
                f"cannot open {name} {target}: {exc}",
                hint="check that the data directory is writable",
            ) from exc

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``); rolled back on any error."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write {self.name} {self.path}: {exc}") from exc
            try:
                yield self._db
            except sqlite3.IntegrityError as exc:
                self._db.execute("ROLLBACK")
                raise Conflict(f"{self.name} refused the write: {exc}") from exc
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise StoreError(f"cannot write {self.name} {self.path}: {exc}") from exc
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            try:
                return list(self._db.execute(sql, tuple(args)).fetchall())
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read {self.name} {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()
