"""Escalation from the self-service chat: a ticket draft built from the conversation, stored
until it is delivered to the company's ticket system, and the "knowledge gaps" built from it.

When Lotse abstains, or the employee says an answer did not help, the portal offers a ticket.
``build_draft`` turns the conversation into a subject (the relevant question) and a description
listing each question, Lotse's answer (marked as AI-generated, with the model id) and the cited
sources, with German or English headings by the conversation's language. The employee may edit
both before sending. Queue and priority come from an injectable ``TriageHint`` (the real triage
lives elsewhere); without one, the configured defaults apply.

``EscalationStore`` is the protocol; ``SqliteEscalationStore`` keeps one SQLite file
(``<data_dir>/escalations.sqlite3``, WAL, one connection behind a lock, callable from any
thread); ``InMemoryEscalationStore`` is the deterministic fake. Both pass the same contract
tests (tests/unit/test_escalation.py).

Contract:
- ``add`` stores a new escalation (status ``pending``, no attempts) and stamps its times.
- ``get`` and ``update`` raise ``NotFound`` for an unknown id; ``update`` with ``expect`` raises
  ``Conflict`` when the current status is not one of them (so an admin's retry and the
  deliverer cannot both claim one escalation).
- ``list`` is newest first, for one user or everybody, optionally since a time.
- ``forget_user`` and ``forget_matching`` (erasure, GDPR Art. 17) delete whole escalations and
  return how many (would) go. Stored texts are personal data: nothing here logs them.

The status moves ``pending`` -> ``delivering`` -> ``delivered``, or back to ``pending`` for a
retry after a transient error, or to ``failed`` (a permanent error, or the last attempt).
``last_error`` says what went wrong in words that contain no personal data (an HTTP status,
an error code of the target), never a subject or a description.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, cast, get_args

from assistant.audit import AuditEvent, AuditLog, sha256_text
from assistant.conversations import Turn
from assistant.sqlite_file import SqliteFile
from knowledge.language import detect_language
from knowledge.lexical import STOP_WORDS, fold
from models.errors import Conflict, InvalidInput, NotFound, StoreError

if TYPE_CHECKING:
    from knowledge.lexical import Analyzer

EscalationStatus = Literal["pending", "delivering", "delivered", "failed"]
EscalationReason = Literal["abstained", "not_helpful"]
STATUSES: tuple[str, ...] = get_args(EscalationStatus)
FINAL_STATUSES: frozenset[str] = frozenset({"delivered", "failed"})

# (subject, body) -> (queue, priority); None for either: the configured default
TriageHint = Callable[[str, str], tuple[str | None, str | None]]
Clock = Callable[[], float]

SUBJECT_CHARS = 120
MAX_SUBJECT_CHARS = 200
MAX_DESCRIPTION_CHARS = 20_000


@dataclass(frozen=True)
class Escalation:
    escalation_id: str
    user_id: str  # the (pseudonymous) owner: the employee who asked
    conversation_id: str
    subject: str
    description: str
    queue: str
    priority: str
    language: str
    reason: EscalationReason | None = None
    answer_id: str | None = None  # the answer that abstained or did not help
    target: str = "none"  # where it goes: none, webhook, zammad, znuny, smtp
    status: EscalationStatus = "pending"
    attempts: int = 0
    last_error: str | None = None  # never personal data
    external_ref: str | None = None  # the ticket number the target returned
    created: float = 0.0
    updated: float = 0.0

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


# -- drafts -------------------------------------------------------------------------------------
_HEADINGS: dict[str, dict[str, str]] = {
    "de": {
        "subject_prefix": "Anfrage: ",
        "header": "Verlauf mit dem Self-Service-Assistenten Lotse",
        "reason_abstained": "Grund: Lotse hat in der Wissensbasis keine Antwort gefunden.",
        "reason_not_helpful": "Grund: Die Antwort von Lotse hat nicht geholfen.",
        "question": "Frage",
        "answer": "Antwort (KI-generiert",
        "model": "Modell",
        "sources": "Genannte Quellen",
        "no_answer": "(keine Antwort)",
        "no_answer_found": "(keine Antwort gefunden)",
        "untitled": "(ohne Frage)",
    },
    "en": {
        "subject_prefix": "Request: ",
        "header": "Conversation with the self-service assistant Lotse",
        "reason_abstained": "Reason: Lotse found no answer in the knowledge base.",
        "reason_not_helpful": "Reason: Lotse's answer did not help.",
        "question": "Question",
        "answer": "Answer (AI-generated",
        "model": "model",
        "sources": "Cited sources",
        "no_answer": "(no answer)",
        "no_answer_found": "(no answer found)",
        "untitled": "(no question)",
    },
}
SUBJECT_PREFIXES = tuple(h["subject_prefix"] for h in _HEADINGS.values())


@dataclass(frozen=True)
class Exchange:
    """One question and the answer that followed it (``None`` while none was stored)."""

    question: str
    answer: Turn | None


@dataclass(frozen=True)
class Draft:
    subject: str
    description: str
    language: str  # "de" or "en": the language of the headings
    reason: EscalationReason | None = None  # given, or "abstained" when the answer was one


def exchanges(turns: Sequence[Turn]) -> list[Exchange]:
    """The conversation as question/answer pairs, oldest first."""
    pairs: list[Exchange] = []
    pending: str | None = None
    for turn in turns:
        if turn.role == "user":
            if pending is not None:
                pairs.append(Exchange(pending, None))
            pending = turn.text
        elif pending is not None:
            pairs.append(Exchange(pending, turn))
            pending = None
    if pending is not None:
        pairs.append(Exchange(pending, None))
    return pairs


def conversation_language(questions: Sequence[str], default: str = "de") -> str:
    """German or English, from the employee's own questions (``default`` when unclear)."""
    fallback = default if default in _HEADINGS else "de"
    found = detect_language("\n".join(questions), default=fallback)
    return found if found in _HEADINGS else fallback


def truncate(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _relevant(pairs: Sequence[Exchange], answer_id: str | None) -> int:
    """Index of the exchange the ticket is about: the named answer's, else the last
    abstention's, else the first question's."""
    if answer_id is not None:
        for i, pair in enumerate(pairs):
            if pair.answer is not None and pair.answer.answer_id == answer_id:
                return i
        raise NotFound(
            f"no answer {answer_id} in this conversation",
            hint="name an answer_id of this conversation, or leave it out",
        )
    for i in range(len(pairs) - 1, -1, -1):
        answer = pairs[i].answer
        if answer is not None and answer.abstained:
            return i
    return 0


def _source_line(source: Mapping[str, object]) -> str:
    source_id = str(source.get("source_id") or "")
    title = str(source.get("title") or "") or source_id
    return f"{title} ({source_id})" if source_id and title != source_id else title


def build_draft(
    turns: Sequence[Turn],
    *,
    answer_id: str | None = None,
    reason: EscalationReason | None = None,
    default_language: str = "de",
) -> Draft:
    """Subject and description of a ticket about the conversation up to the relevant answer.

    ``InvalidInput`` for a conversation without a question; ``NotFound`` when ``answer_id``
    is given but not an answer of these turns.
    """
    pairs = exchanges(turns)
    if not pairs:
        raise InvalidInput(
            "the conversation has no question to escalate yet",
            field="conversation_id",
        )
    upto = _relevant(pairs, answer_id)
    shown = pairs[: upto + 1]
    language = conversation_language([p.question for p in shown], default_language)
    h = _HEADINGS[language]
    question = pairs[upto].question.strip() or h["untitled"]
    subject = h["subject_prefix"] + truncate(question, SUBJECT_CHARS)
    if reason is None:
        relevant = pairs[upto].answer
        reason = "abstained" if relevant is not None and relevant.abstained else None
    lines = [h["header"]]
    if reason is not None:
        lines.append(h[f"reason_{reason}"])
    lines.append("")
    numbered = len(shown) > 1
    for number, pair in enumerate(shown, start=1):
        n = f" {number}" if numbered else ""
        lines.append(f"{h['question']}{n}: {pair.question.strip()}")
        answer = pair.answer
        if answer is None:
            lines.append(f"{h['answer']}): {h['no_answer']}")
        else:
            model = f", {h['model']} {answer.model}" if answer.model else ""
            text = answer.text.strip() or h["no_answer_found"]
            lines.append(f"{h['answer']}{model}){n}: {text}")
            cited = [_source_line(s) for s in answer.sources]
            if cited:
                lines.append(f"{h['sources']}: " + "; ".join(dict.fromkeys(cited)))
        lines.append("")
    description = "\n".join(lines).rstrip()
    if len(description) > MAX_DESCRIPTION_CHARS:
        description = description[: MAX_DESCRIPTION_CHARS - 1].rstrip() + "…"
    return Draft(subject=subject, description=description, language=language, reason=reason)


def triage(
    hint: TriageHint | None,
    subject: str,
    description: str,
    default_queue: str,
    default_priority: str,
) -> tuple[str, str]:
    """Queue and priority: the hint's suggestion, the defaults for what it leaves open."""
    queue, priority = hint(subject, description) if hint is not None else (None, None)
    return (queue or default_queue, priority or default_priority)


# -- the store ----------------------------------------------------------------------------------
class EscalationStore(Protocol):
    """Escalations and their delivery status (see the module docstring for the contract)."""

    def add(self, escalation: Escalation) -> Escalation: ...

    def get(self, escalation_id: str) -> Escalation: ...

    def update(
        self,
        escalation_id: str,
        *,
        status: EscalationStatus,
        attempts: int,
        last_error: str | None,
        external_ref: str | None,
        expect: tuple[EscalationStatus, ...] = (),
    ) -> Escalation: ...

    def recent(
        self, *, user_id: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[Escalation]:
        """Newest first; ``user_id`` None: everybody's."""
        ...

    def unfinished(self) -> list[Escalation]:
        """``pending`` and ``delivering`` escalations, oldest first (resumed at start)."""
        ...

    def forget_user(self, user_id: str) -> int: ...

    def forget_matching(self, needle: str, *, dry_run: bool = False) -> int:
        """Delete every escalation whose subject or description contains ``needle``
        (``casefold``); returns how many (would) go."""
        ...

    def close(self) -> None: ...


def new_escalation(
    *,
    user_id: str,
    conversation_id: str,
    draft: Draft,
    queue: str,
    priority: str,
    reason: EscalationReason | None,
    answer_id: str | None,
    target: str,
) -> Escalation:
    return Escalation(
        escalation_id=uuid.uuid4().hex,
        user_id=user_id,
        conversation_id=conversation_id,
        subject=draft.subject,
        description=draft.description,
        queue=queue,
        priority=priority,
        language=draft.language,
        reason=reason or draft.reason,
        answer_id=answer_id,
        target=target,
    )


def _unknown(escalation_id: str) -> NotFound:
    return NotFound(
        f"no escalation {escalation_id}", hint="GET /v1/escalations lists your escalations"
    )


def _check_transition(current: Escalation, expect: tuple[EscalationStatus, ...]) -> None:
    if expect and current.status not in expect:
        raise Conflict(
            f"the escalation {current.escalation_id} is {current.status}, "
            f"not {' or '.join(expect)}",
            hint="GET /v1/escalations/{id} shows its status",
        )


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise InvalidInput(f"unknown escalation status {status!r}", field="status")


def _matches(escalation: Escalation, folded_needle: str) -> bool:
    return (
        folded_needle in escalation.subject.casefold()
        or folded_needle in escalation.description.casefold()
    )


class InMemoryEscalationStore:
    """A dict behind a lock; the reference implementation for the contract tests."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._rows: dict[str, Escalation] = {}

    def add(self, escalation: Escalation) -> Escalation:
        now = self._clock()
        stored = replace(
            escalation,
            status="pending",
            attempts=0,
            last_error=None,
            external_ref=None,
            created=now,
            updated=now,
        )
        with self._lock:
            if stored.escalation_id in self._rows:
                raise Conflict(f"an escalation {stored.escalation_id} is already stored")
            self._rows[stored.escalation_id] = stored
        return stored

    def get(self, escalation_id: str) -> Escalation:
        with self._lock:
            if escalation_id not in self._rows:
                raise _unknown(escalation_id)
            return self._rows[escalation_id]

    def update(
        self,
        escalation_id: str,
        *,
        status: EscalationStatus,
        attempts: int,
        last_error: str | None,
        external_ref: str | None,
        expect: tuple[EscalationStatus, ...] = (),
    ) -> Escalation:
        _check_status(status)
        with self._lock:
            current = self._rows.get(escalation_id)
            if current is None:
                raise _unknown(escalation_id)
            _check_transition(current, expect)
            stored = replace(
                current,
                status=status,
                attempts=attempts,
                last_error=last_error,
                external_ref=external_ref,
                updated=self._clock(),
            )
            self._rows[escalation_id] = stored
        return stored

    def recent(
        self, *, user_id: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[Escalation]:
        with self._lock:
            rows = [
                e
                for e in self._rows.values()
                if (user_id is None or e.user_id == user_id)
                and (since is None or e.created >= since)
            ]
        rows.sort(key=lambda e: (e.created, e.escalation_id), reverse=True)
        return rows[:limit]

    def unfinished(self) -> list[Escalation]:
        with self._lock:
            rows = [e for e in self._rows.values() if not e.final]
        return sorted(rows, key=lambda e: (e.created, e.escalation_id))

    def forget_user(self, user_id: str) -> int:
        with self._lock:
            gone = [i for i, e in self._rows.items() if e.user_id == user_id]
            for escalation_id in gone:
                del self._rows[escalation_id]
        return len(gone)

    def forget_matching(self, needle: str, *, dry_run: bool = False) -> int:
        folded = needle.casefold()
        with self._lock:
            gone = [i for i, e in self._rows.items() if _matches(e, folded)]
            if not dry_run:
                for escalation_id in gone:
                    del self._rows[escalation_id]
        return len(gone)

    def close(self) -> None:
        return None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS escalations (
    escalation_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    answer_id TEXT,
    subject TEXT NOT NULL,
    description TEXT NOT NULL,
    queue TEXT NOT NULL,
    priority TEXT NOT NULL,
    language TEXT NOT NULL,
    reason TEXT,
    target TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('pending', 'delivering', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    external_ref TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS escalations_user ON escalations (user_id, created);
CREATE INDEX IF NOT EXISTS escalations_created ON escalations (created);
CREATE INDEX IF NOT EXISTS escalations_status ON escalations (status);
"""
_COLUMNS = (
    "escalation_id, user_id, conversation_id, answer_id, subject, description, queue, "
    "priority, language, reason, target, status, attempts, last_error, external_ref, "
    "created, updated"
)


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


def _from_row(row: Sequence[object]) -> Escalation:
    (eid, user, conv, answer, subject, desc, queue, prio, lang, reason, target, status) = row[:12]
    attempts, last_error, external_ref, created, updated = row[12:]
    return Escalation(
        escalation_id=str(eid),
        user_id=str(user),
        conversation_id=str(conv),
        answer_id=_optional(answer),
        subject=str(subject),
        description=str(desc),
        queue=str(queue),
        priority=str(prio),
        language=str(lang),
        reason=_reason(reason),
        target=str(target),
        status=_status(str(status)),
        attempts=int(str(attempts)),
        last_error=_optional(last_error),
        external_ref=_optional(external_ref),
        created=float(str(created)),
        updated=float(str(updated)),
    )


def _status(value: str) -> EscalationStatus:
    if value not in STATUSES:
        raise StoreError(f"the escalation store holds an unknown status {value!r}")
    return cast(EscalationStatus, value)


def _reason(value: object) -> EscalationReason | None:
    return cast(EscalationReason, value) if value in get_args(EscalationReason) else None


class SqliteEscalationStore:
    """One SQLite file (``<data_dir>/escalations.sqlite3``), WAL, one connection + lock."""

    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        self.path = path
        self._clock = clock
        self._file = SqliteFile(path, name="the escalation store", schema=_SCHEMA)
        self._tx = self._file.tx
        self._query = self._file.query

    @classmethod
    def in_data_dir(cls, data_dir: Path, clock: Clock = time.time) -> SqliteEscalationStore:
        return cls(data_dir / "escalations.sqlite3", clock)

    def add(self, escalation: Escalation) -> Escalation:
        now = self._clock()
        e = replace(
            escalation,
            status="pending",
            attempts=0,
            last_error=None,
            external_ref=None,
            created=now,
            updated=now,
        )
        with self._tx() as db:
            db.execute(
                f"INSERT INTO escalations ({_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    e.escalation_id,
                    e.user_id,
                    e.conversation_id,
                    e.answer_id,
                    e.subject,
                    e.description,
                    e.queue,
                    e.priority,
                    e.language,
                    e.reason,
                    e.target,
                    e.status,
                    e.attempts,
                    e.last_error,
                    e.external_ref,
                    e.created,
                    e.updated,
                ),
            )
        return e

    def _get(self, db: sqlite3.Connection, escalation_id: str) -> Escalation:
        row = db.execute(
            f"SELECT {_COLUMNS} FROM escalations WHERE escalation_id = ?", (escalation_id,)
        ).fetchone()
        if row is None:
            raise _unknown(escalation_id)
        return _from_row(row)

    def get(self, escalation_id: str) -> Escalation:
        rows = self._query(
            f"SELECT {_COLUMNS} FROM escalations WHERE escalation_id = ?", (escalation_id,)
        )
        if not rows:
            raise _unknown(escalation_id)
        return _from_row(rows[0])

    def update(
        self,
        escalation_id: str,
        *,
        status: EscalationStatus,
        attempts: int,
        last_error: str | None,
        external_ref: str | None,
        expect: tuple[EscalationStatus, ...] = (),
    ) -> Escalation:
        _check_status(status)
        now = self._clock()
        with self._tx() as db:
            current = self._get(db, escalation_id)
            _check_transition(current, expect)
            db.execute(
                "UPDATE escalations SET status = ?, attempts = ?, last_error = ?, "
                "external_ref = ?, updated = ? WHERE escalation_id = ?",
                (status, attempts, last_error, external_ref, now, escalation_id),
            )
        return replace(
            current,
            status=status,
            attempts=attempts,
            last_error=last_error,
            external_ref=external_ref,
            updated=now,
        )

    def recent(
        self, *, user_id: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[Escalation]:
        where: list[str] = []
        args: list[object] = []
        if user_id is not None:
            where.append("user_id = ?")
            args.append(user_id)
        if since is not None:
            where.append("created >= ?")
            args.append(since)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._query(
            f"SELECT {_COLUMNS} FROM escalations {clause}"
            "ORDER BY created DESC, escalation_id DESC LIMIT ?",
            [*args, limit],
        )
        return [_from_row(r) for r in rows]

    def unfinished(self) -> list[Escalation]:
        rows = self._query(
            f"SELECT {_COLUMNS} FROM escalations WHERE status IN ('pending', 'delivering') "
            "ORDER BY created, escalation_id"
        )
        return [_from_row(r) for r in rows]

    def forget_user(self, user_id: str) -> int:
        with self._tx() as db:
            return int(db.execute("DELETE FROM escalations WHERE user_id = ?", (user_id,)).rowcount)

    def forget_matching(self, needle: str, *, dry_run: bool = False) -> int:
        folded = needle.casefold()
        with self._tx() as db:
            gone = [
                str(eid)
                for eid, subject, description in db.execute(
                    "SELECT escalation_id, subject, description FROM escalations"
                ).fetchall()
                if folded in str(subject).casefold() or folded in str(description).casefold()
            ]
            if not dry_run:
                db.executemany(
                    "DELETE FROM escalations WHERE escalation_id = ?", [(g,) for g in gone]
                )
        return len(gone)

    def close(self) -> None:
        self._file.close()


class EscalationFileEraser:
    """Erasure's hook to the escalations on disk when no open store is at hand (the CLI, or
    a server whose erasure builds its own collaborators): opens the file per call."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def forget_user(self, user_id: str) -> int:
        store = SqliteEscalationStore.in_data_dir(self.data_dir)
        try:
            return store.forget_user(user_id)
        finally:
            store.close()

    def forget_matching(self, needle: str, *, dry_run: bool = False) -> int:
        store = SqliteEscalationStore.in_data_dir(self.data_dir)
        try:
            return store.forget_matching(needle, dry_run=dry_run)
        finally:
            store.close()


# -- knowledge gaps -----------------------------------------------------------------------------
GapKind = Literal["abstained", "escalated"]

# words that say nothing about the topic of a question (after ``fold``)
_FILLER = frozenset(
    """
    bitte danke gibt geht gehe habe haben hast kriege bekomme bekommt brauche brauchen
    funktioniert funktionieren machen mache macht konnen kann kannst konnte viel viele vielen
    welche welcher welches warum wieso weshalb meine meinen meinem meiner mein sein seine
    finde finden hallo hilfe helfen richtig moglich neue neuen neu gerade immer mehr
    darf durfen mochte mochten will wollen sollte
    any about after again also am get got help need needs please thanks hello new many much
    some there want does dont doesnt cant cannot work works working still one just
    """.split()  # noqa: SIM905 - a word list reads better as text
)
_WORD = re.compile(r"[^\W_]+")
MIN_OVERLAP = 0.6  # share of the smaller term set two questions must have in common


@dataclass(frozen=True)
class GapQuestion:
    """One signal of missing knowledge: an abstained question or an escalation's subject."""

    text: str
    time: float
    kind: GapKind


@dataclass(frozen=True)
class Gap:
    topic: str  # the key words the questions share
    count: int
    abstained: int
    escalated: int
    example: str  # the newest question of the group
    last_seen: float
    terms: tuple[str, ...]


@dataclass
class _Group:
    seed: frozenset[str]
    words: dict[str, int]  # surface word (folded) -> questions using it
    example: str
    last_seen: float
    abstained: int = 0
    escalated: int = 0

    @property
    def count(self) -> int:
        return self.abstained + self.escalated


def strip_subject_prefix(subject: str) -> str:
    for prefix in SUBJECT_PREFIXES:
        if subject.startswith(prefix):
            return subject[len(prefix) :]
    return subject


def key_words(text: str) -> list[str]:
    """The folded words of ``text`` that may name its topic, in text order, once each."""
    words = [fold(w) for w in _WORD.findall(text)]
    kept = [w for w in words if len(w) > 1 and w not in STOP_WORDS and w not in _FILLER]
    return list(dict.fromkeys(kept))


def knowledge_gaps(
    questions: Iterable[GapQuestion], analyzer: Analyzer, *, limit: int = 20
) -> list[Gap]:
    """Group questions by their key terms (German and English stems): the most frequent
    topics first, each with one example (its newest question) and when it was last seen.

    A question joins the first group whose seed shares at least ``MIN_OVERLAP`` of the
    smaller term set; otherwise it starts a group. Deterministic for the same input.
    """
    ordered = sorted(questions, key=lambda q: (-q.time, q.text))
    groups: list[_Group] = []
    for question in ordered:
        words = key_words(question.text)
        stems = {w: frozenset(analyzer.terms(w)) for w in words}
        terms = frozenset().union(*stems.values()) if stems else frozenset()
        if not terms:
            continue
        group = next(
            (
                g
                for g in groups
                if len(g.seed & terms) / min(len(g.seed), len(terms)) >= MIN_OVERLAP
            ),
            None,
        )
        if group is None:
            group = _Group(
                seed=terms, words={}, example=question.text.strip(), last_seen=question.time
            )
            groups.append(group)
        for word in words:
            if stems[word] & group.seed:
                group.words[word] = group.words.get(word, 0) + 1
        if question.kind == "abstained":
            group.abstained += 1
        else:
            group.escalated += 1
    groups.sort(key=lambda g: (-g.count, -g.last_seen, g.example))
    gaps: list[Gap] = []
    for g in groups[:limit]:
        # most used first; ties in the order the words first came (the newest question's)
        ranked = sorted(g.words.items(), key=lambda item: -item[1])
        topic_words = [w for w, _ in ranked[:3]]
        gaps.append(
            Gap(
                topic=" ".join(topic_words),
                count=g.count,
                abstained=g.abstained,
                escalated=g.escalated,
                example=g.example,
                last_seen=g.last_seen,
                terms=tuple(sorted(g.seed)),
            )
        )
    return gaps


def abstained_questions(audit: AuditLog, since: datetime) -> tuple[list[GapQuestion], int]:
    """Abstained questions since ``since`` from the audit log's stored texts, and how many
    abstentions had no stored text (texts off, or past their retention)."""
    found: list[GapQuestion] = []
    untexted = 0
    for record in audit.records(since=since, event="answer"):
        if record.decision != "abstained":
            continue
        text = audit.text(record.seq)
        if text is None or not text.question:
            untexted += 1
            continue
        moment = datetime.fromisoformat(record.time).timestamp()
        found.append(GapQuestion(text.question, moment, "abstained"))
    return found, untexted


def escalated_questions(escalations: Iterable[Escalation]) -> list[GapQuestion]:
    return [
        GapQuestion(strip_subject_prefix(e.subject), e.created, "escalated") for e in escalations
    ]


# -- audit --------------------------------------------------------------------------------------
EscalationAction = Literal["created", "retried", "delivered", "failed"]


def audit_event(
    escalation: Escalation,
    *,
    action: EscalationAction,
    user_id: str,
    role: str,
    edited: bool | None = None,
) -> AuditEvent:
    """The ``escalation`` audit event: digests, ids and the status, never the texts."""
    details: dict[str, object] = {
        "action": action,
        "escalation_id": escalation.escalation_id,
        "conversation_id": escalation.conversation_id,
        "subject_sha256": sha256_text(escalation.subject),
        "description_sha256": sha256_text(escalation.description),
        "queue": escalation.queue,
        "priority": escalation.priority,
        "language": escalation.language,
        "reason": escalation.reason,
        "target": escalation.target,
        "status": escalation.status,
        "attempts": escalation.attempts,
    }
    if escalation.answer_id is not None:
        details["answer_id"] = escalation.answer_id
    if escalation.external_ref is not None:
        details["external_ref"] = escalation.external_ref
    if edited is not None:
        details["edited"] = edited
    return AuditEvent(
        event="escalation",
        user_id=user_id,
        role=role,
        request_id=escalation.escalation_id,
        details=details,
    )
