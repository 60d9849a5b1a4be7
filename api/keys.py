"""API keys: created on the command line, shown once, stored only as a peppered digest.

A key is ``lotse_`` plus 32 random bytes (URL-safe base64). ``<data_dir>/keys.sqlite3`` holds
its id, user, role, groups and HMAC-SHA256(pepper, key); the pepper is a random per-install
secret in ``<data_dir>/keys.pepper`` (mode 0600), so a copy of the database alone cannot be used
to test guessed keys. Revoked keys stay listed (who had access, until when) but never verify.
Erasing a person (``delete_user``) deletes their rows outright and rewrites the file, so their
user id leaves the disk too. SQLite serializes writers, so ``lotse keys`` works while the server
runs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from models.errors import InvalidInput, NotFound, StoreError

KEYS_FILE = "keys.sqlite3"
PEPPER_FILE = "keys.pepper"
KEY_PREFIX = "lotse_"
ROLES = ("employee", "agent", "admin")
_KEY_RE = re.compile(r"^lotse_[A-Za-z0-9_-]{43}$")
_NAME_RE = re.compile(r"^[^\s\x00-\x1f]{1,200}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id  TEXT PRIMARY KEY,
    digest  TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    role    TEXT NOT NULL,
    groups  TEXT NOT NULL,
    created TEXT NOT NULL,
    revoked TEXT
)
"""


@dataclass(frozen=True)
class ApiKey:
    """One key's record, without its secret."""

    key_id: str
    user_id: str
    role: str
    groups: tuple[str, ...]
    created: str
    revoked: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_name(value: str, what: str) -> None:
    if not _NAME_RE.match(value):
        raise InvalidInput(f"{what} {value!r} must be 1-200 characters without spaces", field=what)


class KeyStore:
    """The API keys of one data directory. Each call opens its own short SQLite connection,
    so one store serves every request thread."""

    def __init__(self, data_dir: Path) -> None:
        self._dir = data_dir
        self._db = data_dir / KEYS_FILE
        self._pepper_file = data_dir / PEPPER_FILE

    @contextmanager
    def _connect(self, *, autocommit: bool = False) -> Iterator[sqlite3.Connection]:
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                self._db, timeout=10, isolation_level=None if autocommit else "DEFERRED"
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the key store {self._db}: {exc}") from exc
        try:
            with db:
                db.execute(_SCHEMA)
                yield db
        except sqlite3.Error as exc:
            raise StoreError(f"cannot use the key store {self._db}: {exc}") from exc
        finally:
            db.close()

    def _pepper(self, *, create: bool) -> bytes | None:
        try:
            return self._pepper_file.read_bytes()
        except FileNotFoundError:
            if not create:
                return None
        pepper = secrets.token_bytes(32)
        self._dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self._pepper_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return self._pepper_file.read_bytes()
        with os.fdopen(fd, "wb") as f:
            f.write(pepper)
        return pepper

    @staticmethod
    def _digest(pepper: bytes, secret: str) -> str:
        return hmac.new(pepper, secret.encode("utf-8"), hashlib.sha256).hexdigest()

    def create(self, user_id: str, role: str, groups: tuple[str, ...] = ()) -> tuple[ApiKey, str]:
        """A new key for ``user_id``; returns its record and the secret (shown once)."""
        _check_name(user_id, "user")
        if role not in ROLES:
            raise InvalidInput(f"role {role!r} is not one of {', '.join(ROLES)}", field="role")
        for group in groups:
            _check_name(group, "group")
        pepper = self._pepper(create=True)
        assert pepper is not None
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            key_id="k_" + secrets.token_hex(6),
            user_id=user_id,
            role=role,
            groups=tuple(sorted(set(groups))),
            created=_now(),
        )
        with self._connect() as db:
            db.execute(
                "INSERT INTO api_keys (key_id, digest, user_id, role, groups, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    key.key_id,
                    self._digest(pepper, secret),
                    key.user_id,
                    key.role,
                    json.dumps(list(key.groups)),
                    key.created,
                ),
            )
        return key, secret

    def verify(self, secret: str) -> ApiKey | None:
        """The active key ``secret`` belongs to, or ``None`` (malformed, unknown, revoked)."""
        if not _KEY_RE.match(secret) or not self._db.is_file():
            return None
        pepper = self._pepper(create=False)
        if pepper is None:
            return None
        with self._connect() as db:
            row = db.execute(
                "SELECT key_id, user_id, role, groups, created, revoked FROM api_keys "
                "WHERE digest = ? AND revoked IS NULL",
                (self._digest(pepper, secret),),
            ).fetchone()
        return None if row is None else self._key(row)

    def list_keys(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        if not self._db.is_file():
            return []
        with self._connect() as db:
            rows = db.execute(
                "SELECT key_id, user_id, role, groups, created, revoked FROM api_keys "
                "ORDER BY rowid"
            ).fetchall()
        return [self._key(row) for row in rows]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke ``key_id`` (idempotent); ``NotFound`` when there is no such key."""
        with self._connect() as db:
            db.execute(
                "UPDATE api_keys SET revoked = ? WHERE key_id = ? AND revoked IS NULL",
                (_now(), key_id),
            )
            row = db.execute(
                "SELECT key_id, user_id, role, groups, created, revoked FROM api_keys "
                "WHERE key_id = ?",
                (key_id,),
            ).fetchone()
        if row is None:
            raise NotFound(f"no API key {key_id}", hint="`lotse keys list` shows the key ids")
        return self._key(row)

    def delete_user(self, user_id: str) -> int:
        """Delete every key of ``user_id``, revoked ones included (erasure); returns how many.

        ``secure_delete`` zeroes the freed pages and ``VACUUM`` rewrites the file, so neither
        the user id nor the digests stay behind in free pages of ``keys.sqlite3``.
        """
        if not self._db.is_file():
            return 0
        with self._connect(autocommit=True) as db:
            db.execute("PRAGMA secure_delete = ON")
            deleted = db.execute("DELETE FROM api_keys WHERE user_id = ?", (user_id,)).rowcount
            if deleted:
                db.execute("VACUUM")
        return int(deleted)

    @staticmethod
    def _key(row: tuple[object, ...]) -> ApiKey:
        key_id, user_id, role, groups, created, revoked = row
        return ApiKey(
            key_id=str(key_id),
            user_id=str(user_id),
            role=str(role),
            groups=tuple(cast(list[str], json.loads(str(groups)))),
            created=str(created),
            revoked=None if revoked is None else str(revoked),
        )
