"""Conversations, their turns, feedback on answers, and the usage statistics built from them.

``ConversationStore`` is the protocol; ``SqliteConversationStore`` keeps everything in one SQLite
file under the data directory (WAL, one connection behind a lock, so the server may call it from
any worker thread); ``InMemoryConversationStore`` is the deterministic fake. Both pass the same
contract tests (tests/unit/test_conversations.py).

Contract:
- ``create`` starts an empty conversation owned by a (pseudonymous) user id.
- ``append`` adds turns in order and stamps them with the store's clock; an assistant turn must
  carry a unique ``answer_id`` (a repeated one raises ``Conflict``).
- ``get``, ``turns``, ``append`` and ``delete`` raise ``NotFound`` for an unknown conversation;
  ``add_feedback`` raises ``NotFound`` for an answer id no stored turn carries.
- Feedback is one rating per answer: rating again replaces the earlier rating and comment.
- Every answer also leaves an anonymous statistics row (answered or abstained, latencies; no
  text, no user id). ``delete`` and ``erase_user`` remove the conversations, their turns and the
  feedback comments; the anonymous rows (and bare ratings) stay, so ``stats`` does not change
  when people delete their history.
- ``stats(since, until)`` counts answers and ratings created in ``[since, until)``; latency
  percentiles use the nearest-rank method and are ``None`` without data.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Protocol, get_args

from models.errors import Conflict, InvalidInput, NotFound, StoreError

TurnRole = Literal["user", "assistant"]
Rating = Literal["up", "down"]

Clock = Callable[[], float]


@dataclass(frozen=True)
class Conversation:
    conversation_id: str
    owner: str  # pseudonymous user id of the caller who started it
    created: float
    updated: float


@dataclass(frozen=True)
class Turn:
    role: TurnRole
    text: str
    answer_id: str | None = None  # assistant turns: the answer's id (feedback refers to it)
    abstained: bool = False
    sources: tuple[Mapping[str, object], ...] = ()
    model: str = ""
    timings: Mapping[str, object] = field(default_factory=dict)
    created: float = 0.0  # set by the store


@dataclass(frozen=True)
class Feedback:
    answer_id: str
    rating: Rating
    comment: str | None
    created: float


@dataclass(frozen=True)
class ConversationStats:
    since: float
    until: float
    questions: int
    answered: int
    abstained: int
    feedback_up: int
    feedback_down: int
    total_ms_p50: float | None
    total_ms_p95: float | None
    first_token_ms_p50: float | None
    first_token_ms_p95: float | None

    @property
    def answer_rate(self) -> float | None:
        """Share of questions that got a grounded answer (not an abstention)."""
        return self.answered / self.questions if self.questions else None

    @property
    def deflection_rate(self) -> float | None:
        """Share of questions answered without a thumbs-down: an estimate of the questions that
        did not need the service desk."""
        if not self.questions:
            return None
        return max(0, self.answered - self.feedback_down) / self.questions


class ConversationStore(Protocol):
    def create(self, owner: str) -> Conversation: ...

    def get(self, conversation_id: str) -> Conversation: ...

    def turns(self, conversation_id: str) -> tuple[Turn, ...]: ...

    def append(self, conversation_id: str, turns: Sequence[Turn]) -> tuple[Turn, ...]: ...

    def delete(self, conversation_id: str) -> None: ...

    def add_feedback(
        self,
        answer_id: str,
        rating: Rating,
        comment: str | None = None,
        *,
        owner: str | None = None,
    ) -> Feedback:
        """``owner``: only an answer in a conversation of that user (another's is unknown)."""
        ...

    def erase_user(self, user_id: str) -> int:
        """Remove every conversation of ``user_id``; returns how many were removed."""
        ...

    def erase_matching(self, needle: str, *, dry_run: bool = False) -> int:
        """Remove every turn whose text or sources contain ``needle`` (``casefold``)
        and blank feedback comments containing it; returns how many turns and comments
        (would) go. The anonymous statistics rows stay."""
        ...

    def stats(self, since: float, until: float) -> ConversationStats: ...

    def close(self) -> None: ...


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (``p`` in 0..100); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def _number(timings: Mapping[str, object], key: str) -> float | None:
    value = timings.get(key)
    return float(value) if isinstance(value, int | float) else None


def _check(turns: Sequence[Turn]) -> None:
    for turn in turns:
        if turn.role not in get_args(TurnRole):
            raise InvalidInput(f"unknown turn role {turn.role!r}", field="role")
        if turn.role == "assistant" and not turn.answer_id:
            raise InvalidInput("an assistant turn needs an answer_id", field="answer_id")


def _turn_contains(turn: Turn, folded_needle: str) -> bool:
    """The turn's text or its sources (titles, headings, snippets) contain the needle."""
    sources = json.dumps(list(turn.sources), ensure_ascii=False)
    return folded_needle in turn.text.casefold() or folded_needle in sources.casefold()


def _check_rating(rating: str) -> None:
    if rating not in get_args(Rating):
        raise InvalidInput(f"rating must be 'up' or 'down', not {rating!r}", field="rating")


def _unknown_conversation(conversation_id: str) -> NotFound:
    return NotFound(
        f"no conversation {conversation_id}",
        hint="start a new conversation by leaving out conversation_id",
    )


def _unknown_answer(answer_id: str) -> NotFound:
    return NotFound(f"no answer {answer_id}", hint="rate an answer id from a chat response")


def _stats(
    since: float,
    until: float,
    answers: Sequence[tuple[bool, float | None, float | None]],
    ratings: Sequence[str],
) -> ConversationStats:
    abstained = sum(1 for a in answers if a[0])
    totals = [a[1] for a in answers if a[1] is not None]
    firsts = [a[2] for a in answers if a[2] is not None]
    return ConversationStats(
        since=since,
        until=until,
        questions=len(answers),
        answered=len(answers) - abstained,
        abstained=abstained,
        feedback_up=ratings.count("up"),
        feedback_down=ratings.count("down"),
        total_ms_p50=percentile(totals, 50),
        total_ms_p95=percentile(totals, 95),
        first_token_ms_p50=percentile(firsts, 50),
        first_token_ms_p95=percentile(firsts, 95),
    )


@dataclass
class _AnswerRow:
    conversation_id: str | None
    created: float
    abstained: bool
    total_ms: float | None
    first_token_ms: float | None


class InMemoryConversationStore:
    """Dicts behind a lock; the reference implementation for the contract tests."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._conversations: dict[str, Conversation] = {}
        self._turns: dict[str, list[Turn]] = {}
        self._answers: dict[str, _AnswerRow] = {}
        self._feedback: dict[str, Feedback] = {}

    def create(self, owner: str) -> Conversation:
        now = self._clock()
        conversation = Conversation(uuid.uuid4().hex, owner, now, now)
        with self._lock:
            self._conversations[conversation.conversation_id] = conversation
            self._turns[conversation.conversation_id] = []
        return conversation

    def get(self, conversation_id: str) -> Conversation:
        with self._lock:
            if conversation_id not in self._conversations:
                raise _unknown_conversation(conversation_id)
            return self._conversations[conversation_id]

    def turns(self, conversation_id: str) -> tuple[Turn, ...]:
        with self._lock:
            if conversation_id not in self._turns:
                raise _unknown_conversation(conversation_id)
            return tuple(self._turns[conversation_id])

    def append(self, conversation_id: str, turns: Sequence[Turn]) -> tuple[Turn, ...]:
        _check(turns)
        now = self._clock()
        stored = tuple(replace(t, created=now) for t in turns)
        with self._lock:
            if conversation_id not in self._conversations:
                raise _unknown_conversation(conversation_id)
            ids = [t.answer_id for t in stored if t.answer_id]
            if len(set(ids)) != len(ids) or any(i in self._answers for i in ids):
                raise Conflict("an answer with this answer_id is already stored")
            self._turns[conversation_id].extend(stored)
            for t in stored:
                if t.role == "assistant" and t.answer_id:
                    self._answers[t.answer_id] = _AnswerRow(
                        conversation_id,
                        now,
                        t.abstained,
                        _number(t.timings, "total_ms"),
                        _number(t.timings, "first_token_ms"),
                    )
            self._conversations[conversation_id] = replace(
                self._conversations[conversation_id], updated=now
            )
        return stored

    def _remove(self, conversation_id: str) -> None:
        del self._conversations[conversation_id]
        del self._turns[conversation_id]
        for answer_id, row in self._answers.items():
            if row.conversation_id != conversation_id:
                continue
            row.conversation_id = None
            if answer_id in self._feedback:
                self._feedback[answer_id] = replace(self._feedback[answer_id], comment=None)

    def delete(self, conversation_id: str) -> None:
        with self._lock:
            if conversation_id not in self._conversations:
                raise _unknown_conversation(conversation_id)
            self._remove(conversation_id)

    def add_feedback(
        self,
        answer_id: str,
        rating: Rating,
        comment: str | None = None,
        *,
        owner: str | None = None,
    ) -> Feedback:
        _check_rating(rating)
        feedback = Feedback(answer_id, rating, comment, self._clock())
        with self._lock:
            row = self._answers.get(answer_id)
            if row is None or row.conversation_id is None:
                raise _unknown_answer(answer_id)
            conversation = self._conversations.get(row.conversation_id)
            if owner is not None and (conversation is None or conversation.owner != owner):
                raise _unknown_answer(answer_id)
            self._feedback[answer_id] = feedback
        return feedback

    def erase_user(self, user_id: str) -> int:
        with self._lock:
            owned = [c for c, conv in self._conversations.items() if conv.owner == user_id]
            for conversation_id in owned:
                self._remove(conversation_id)
        return len(owned)

    def erase_matching(self, needle: str, *, dry_run: bool = False) -> int:
        folded = needle.casefold()
        with self._lock:
            hits = 0
            for conversation_id, turns in self._turns.items():
                kept = [t for t in turns if not _turn_contains(t, folded)]
                hits += len(turns) - len(kept)
                if not dry_run:
                    self._turns[conversation_id] = kept
            comments = [
                a
                for a, f in self._feedback.items()
                if f.comment is not None and folded in f.comment.casefold()
            ]
            if not dry_run:
                for answer_id in comments:
                    self._feedback[answer_id] = replace(self._feedback[answer_id], comment=None)
        return hits + len(comments)

    def stats(self, since: float, until: float) -> ConversationStats:
        with self._lock:
            answers = [
                (a.abstained, a.total_ms, a.first_token_ms)
                for a in self._answers.values()
                if since <= a.created < until
            ]
            ratings = [f.rating for f in self._feedback.values() if since <= f.created < until]
        return _stats(since, until, answers, ratings)

    def close(self) -> None:
        return None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    conversation_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_owner ON conversations (owner);
CREATE TABLE IF NOT EXISTS turns (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL
        REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    text TEXT NOT NULL,
    answer_id TEXT UNIQUE,
    abstained INTEGER NOT NULL DEFAULT 0,
    sources TEXT NOT NULL DEFAULT '[]',
    model TEXT NOT NULL DEFAULT '',
    timings TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_conversation ON turns (conversation_id, seq);
-- anonymous: no text, no user id; survives deletion of the conversation
CREATE TABLE IF NOT EXISTS answers (
    answer_id TEXT PRIMARY KEY,
    conversation_id TEXT,
    created REAL NOT NULL,
    abstained INTEGER NOT NULL,
    total_ms REAL,
    first_token_ms REAL
);
CREATE INDEX IF NOT EXISTS answers_created ON answers (created);
CREATE INDEX IF NOT EXISTS answers_conversation ON answers (conversation_id);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id TEXT PRIMARY KEY,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_created ON feedback (created);
"""


class SqliteConversationStore:
    """One SQLite file (``<data_dir>/conversations.sqlite3``), WAL, one connection + lock."""

    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"cannot open the conversation store {path}: {exc}",
                hint="check that the data directory is writable",
            ) from exc

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write the conversation store {self.path}: {exc}") from exc
            try:
                yield self._db
            except sqlite3.IntegrityError as exc:
                self._db.execute("ROLLBACK")
                raise Conflict(f"the conversation store refused the write: {exc}") from exc
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise StoreError(f"cannot write the conversation store {self.path}: {exc}") from exc
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            try:
                return list(self._db.execute(sql, tuple(args)).fetchall())
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read the conversation store {self.path}: {exc}") from exc

    def create(self, owner: str) -> Conversation:
        now = self._clock()
        conversation = Conversation(uuid.uuid4().hex, owner, now, now)
        with self._tx() as db:
            db.execute(
                "INSERT INTO conversations VALUES (?, ?, ?, ?)",
                (conversation.conversation_id, owner, now, now),
            )
        return conversation

    def get(self, conversation_id: str) -> Conversation:
        rows = self._query(
            "SELECT conversation_id, owner, created, updated FROM conversations "
            "WHERE conversation_id = ?",
            (conversation_id,),
        )
        if not rows:
            raise _unknown_conversation(conversation_id)
        cid, owner, created, updated = rows[0]
        return Conversation(str(cid), str(owner), float(str(created)), float(str(updated)))

    def turns(self, conversation_id: str) -> tuple[Turn, ...]:
        with self._lock:
            self.get(conversation_id)
            rows = self._query(
                "SELECT role, text, answer_id, abstained, sources, model, timings, created "
                "FROM turns WHERE conversation_id = ? ORDER BY seq",
                (conversation_id,),
            )
        return tuple(
            Turn(
                role="assistant" if role == "assistant" else "user",
                text=str(text),
                answer_id=None if answer_id is None else str(answer_id),
                abstained=bool(abstained),
                sources=tuple(json.loads(str(sources))),
                model=str(model),
                timings=json.loads(str(timings)),
                created=float(str(created)),
            )
            for role, text, answer_id, abstained, sources, model, timings, created in rows
        )

    def append(self, conversation_id: str, turns: Sequence[Turn]) -> tuple[Turn, ...]:
        _check(turns)
        now = self._clock()
        stored = tuple(replace(t, created=now) for t in turns)
        with self._tx() as db:
            updated = db.execute(
                "UPDATE conversations SET updated = ? WHERE conversation_id = ?",
                (now, conversation_id),
            )
            if updated.rowcount == 0:
                raise _unknown_conversation(conversation_id)
            for t in stored:
                db.execute(
                    "INSERT INTO turns (conversation_id, role, text, answer_id, abstained, "
                    "sources, model, timings, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        conversation_id,
                        t.role,
                        t.text,
                        t.answer_id,
                        int(t.abstained),
                        json.dumps(list(t.sources), ensure_ascii=False),
                        t.model,
                        json.dumps(dict(t.timings), ensure_ascii=False),
                        now,
                    ),
                )
                if t.role == "assistant":
                    db.execute(
                        "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            t.answer_id,
                            conversation_id,
                            now,
                            int(t.abstained),
                            _number(t.timings, "total_ms"),
                            _number(t.timings, "first_token_ms"),
                        ),
                    )
        return stored

    @staticmethod
    def _remove(db: sqlite3.Connection, conversation_ids: Sequence[str]) -> None:
        for conversation_id in conversation_ids:
            db.execute(
                "UPDATE feedback SET comment = NULL WHERE answer_id IN "
                "(SELECT answer_id FROM answers WHERE conversation_id = ?)",
                (conversation_id,),
            )
            db.execute(
                "UPDATE answers SET conversation_id = NULL WHERE conversation_id = ?",
                (conversation_id,),
            )
            db.execute("DELETE FROM turns WHERE conversation_id = ?", (conversation_id,))
            db.execute("DELETE FROM conversations WHERE conversation_id = ?", (conversation_id,))

    def delete(self, conversation_id: str) -> None:
        with self._tx() as db:
            found = db.execute(
                "SELECT 1 FROM conversations WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
            if found is None:
                raise _unknown_conversation(conversation_id)
            self._remove(db, [conversation_id])

    def add_feedback(
        self,
        answer_id: str,
        rating: Rating,
        comment: str | None = None,
        *,
        owner: str | None = None,
    ) -> Feedback:
        _check_rating(rating)
        feedback = Feedback(answer_id, rating, comment, self._clock())
        with self._tx() as db:
            found = db.execute(
                "SELECT c.owner FROM turns t JOIN conversations c USING (conversation_id) "
                "WHERE t.answer_id = ? AND t.role = 'assistant'",
                (answer_id,),
            ).fetchone()
            if found is None or (owner is not None and found[0] != owner):
                raise _unknown_answer(answer_id)
            db.execute(
                "INSERT INTO feedback VALUES (?, ?, ?, ?) ON CONFLICT (answer_id) DO UPDATE "
                "SET rating = excluded.rating, comment = excluded.comment, "
                "created = excluded.created",
                (answer_id, rating, comment, feedback.created),
            )
        return feedback

    def erase_user(self, user_id: str) -> int:
        with self._tx() as db:
            owned = [
                str(row[0])
                for row in db.execute(
                    "SELECT conversation_id FROM conversations WHERE owner = ?", (user_id,)
                )
            ]
            self._remove(db, owned)
        return len(owned)

    def erase_matching(self, needle: str, *, dry_run: bool = False) -> int:
        folded = needle.casefold()
        with self._tx() as db:
            turns = [
                int(str(seq))
                for seq, text, sources in db.execute(
                    "SELECT seq, text, sources FROM turns"
                ).fetchall()
                if folded in str(text).casefold() or folded in str(sources).casefold()
            ]
            comments = [
                str(answer_id)
                for answer_id, comment in db.execute(
                    "SELECT answer_id, comment FROM feedback WHERE comment IS NOT NULL"
                ).fetchall()
                if folded in str(comment).casefold()
            ]
            if not dry_run:
                db.executemany("DELETE FROM turns WHERE seq = ?", [(s,) for s in turns])
                db.executemany(
                    "UPDATE feedback SET comment = NULL WHERE answer_id = ?",
                    [(a,) for a in comments],
                )
        return len(turns) + len(comments)

    def stats(self, since: float, until: float) -> ConversationStats:
        with self._lock:
            answers = self._query(
                "SELECT abstained, total_ms, first_token_ms FROM answers "
                "WHERE created >= ? AND created < ?",
                (since, until),
            )
            ratings = self._query(
                "SELECT rating FROM feedback WHERE created >= ? AND created < ?", (since, until)
            )
        return _stats(
            since,
            until,
            [
                (
                    bool(abstained),
                    None if total is None else float(str(total)),
                    None if first is None else float(str(first)),
                )
                for abstained, total, first in answers
            ],
            [str(r[0]) for r in ratings],
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
