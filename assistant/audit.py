"""The tamper-evident, append-only audit log (EU AI Act Art. 12 record keeping, GDPR).

Every AI interaction and every admin action is one ``AuditRecord``. The records form one linear
hash chain: record *n* stores ``prev_hash`` (the ``hash`` of record *n-1*, 64 zeros for the
first) and ``hash`` = SHA-256 over the canonical JSON of all its stored fields including
``prev_hash``. List-valued fields are stored as canonical JSON strings, and the hash covers the
stored strings themselves, so any changed byte of any field changes the hash.

What a record holds: seq, UTC time, event type, a *pseudonymous* actor id (keyed HMAC-SHA256 of
the user id; the key stays in the data directory), the role, a request id, SHA-256 digests of
question and answer, the chunk ids and document content hashes used, the ACL filter applied,
the model id and model file SHA-256, the prompt template version, the decision, latencies and
small JSON details. Question and answer *texts* are kept apart, keyed by seq, outside the
chain and only for a short retention: pruning or erasing them leaves the chain verifiable.
Pruning old records keeps an anchor (seq and hash of the last pruned record) that
verification starts from; the retention run is itself an audit event that names the anchor.

``verify`` walks the chain and names the first record that was edited, deleted, reordered or
torn. A ``Checkpoint`` (head hash and count, signed with Ed25519) kept elsewhere additionally
detects a cut-off tail, which the chain alone cannot see.

Contract of every ``AuditLog``:

- ``append`` is atomic and linearizable: across threads (both implementations) and across
  processes (``SqliteAuditLog``: ``BEGIN IMMEDIATE``, read the head, insert, commit). Seq
  numbers are contiguous from 1; failure to write raises ``StoreError``.
- ``records`` returns oldest first (newest first on request), filtered by time and event.
- ``verify`` never raises for damaged data: it reports the first bad record.
- Question and answer texts are never logged; only digests enter the chain.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TextIO, cast, get_args

from models.errors import InvalidInput, StoreError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

logger = logging.getLogger(__name__)

EventType = Literal[
    "answer",
    "search",
    "feedback",
    "reindex",
    "source_registered",
    "source_removed",
    "retention",
    "checkpoint",
    "audit_export",
    "audit_viewed",
    "erasure",
    "escalation",
    "access_denied",
    "login",
    "key_created",
    "key_revoked",
    "keys_viewed",
    "suggestion",
    "suggestion_decision",
    "ticket_received",
    "candidate_decision",
    "audit_verified",
    "settings_changed",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
Decision = Literal["answered", "abstained", "refused", "overloaded", "error"]
ExportFormat = Literal["jsonl", "csv"]

GENESIS = "0" * 64
CHECKPOINT_FORMAT = "lotse-audit-checkpoint/1"

# the stored fields of a record, in export order; ``hash`` covers all the others
FIELDS: tuple[str, ...] = (
    "seq",
    "time",
    "event",
    "actor",
    "role",
    "request_id",
    "question_sha256",
    "answer_sha256",
    "chunk_ids",
    "content_hashes",
    "acl_filter",
    "model_id",
    "model_sha256",
    "prompt_version",
    "decision",
    "latency_ms",
    "details",
    "prev_hash",
    "hash",
)
_JSON_FIELDS = frozenset({"chunk_ids", "content_hashes", "acl_filter", "latency_ms", "details"})

Row = dict[str, object]  # one stored record: field -> int | str | None
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """The one time format of the log (sortable as text): UTC, microseconds, ``+00:00``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_time(text: str) -> datetime:
    """An ISO date or date-time; without a zone it is UTC. ``InvalidInput`` otherwise."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(
            f"{text!r} is not an ISO date or time (e.g. 2025-03-01 or 2025-03-01T08:00:00Z)",
            field="since/until",
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_json(value: object) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 kept (the hash input format)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(row: Mapping[str, object]) -> str:
    """SHA-256 over the canonical JSON of every stored field except ``hash`` itself."""
    body = {name: row.get(name) for name in FIELDS if name != "hash"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def pseudonym(key: bytes, user_id: str) -> str:
    """The actor id of ``user_id``: keyed HMAC-SHA256, 128 bits in hex. Without the key it
    cannot be reversed or recomputed from a list of user names."""
    return hmac.new(key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class RetentionPolicy:
    """How long texts and records are kept; ``store_texts=False`` keeps digests only."""

    text_days: int = 30
    metadata_days: int = 180
    store_texts: bool = True


@dataclass(frozen=True)
class AuditEvent:
    """What a caller records. ``user_id`` is pseudonymized and the texts are digested by the
    log; the texts themselves are kept (outside the chain) only when the policy says so."""

    event: EventType
    user_id: str
    role: str
    request_id: str = ""
    question: str | None = None
    answer: str | None = None
    chunk_ids: tuple[str, ...] = ()
    content_hashes: tuple[str, ...] = ()
    acl_filter: tuple[str, ...] | None = None  # None: no filter (operator, or no retrieval)
    model_id: str = ""
    model_sha256: str | None = None
    prompt_version: str = ""
    decision: Decision | None = None
    latency_ms: Mapping[str, float] = field(default_factory=dict)
    details: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    """One record as stored (JSON fields parsed)."""

    seq: int
    time: str
    event: str
    actor: str
    role: str
    request_id: str
    question_sha256: str | None
    answer_sha256: str | None
    chunk_ids: tuple[str, ...]
    content_hashes: tuple[str, ...]
    acl_filter: tuple[str, ...] | None
    model_id: str
    model_sha256: str | None
    prompt_version: str
    decision: str | None
    latency_ms: dict[str, float]
    details: dict[str, object]
    prev_hash: str
    hash: str

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> AuditRecord:
        def parsed(name: str) -> object:
            return json.loads(str(row[name]))

        acl = parsed("acl_filter")
        return cls(
            seq=int(cast(int, row["seq"])),
            time=str(row["time"]),
            event=str(row["event"]),
            actor=str(row["actor"]),
            role=str(row["role"]),
            request_id=str(row["request_id"]),
            question_sha256=cast("str | None", row["question_sha256"]),
            answer_sha256=cast("str | None", row["answer_sha256"]),
            chunk_ids=tuple(cast(list[str], parsed("chunk_ids"))),
            content_hashes=tuple(cast(list[str], parsed("content_hashes"))),
            acl_filter=None if acl is None else tuple(cast(list[str], acl)),
            model_id=str(row["model_id"]),
            model_sha256=cast("str | None", row["model_sha256"]),
            prompt_version=str(row["prompt_version"]),
            decision=cast("str | None", row["decision"]),
            latency_ms=cast(dict[str, float], parsed("latency_ms")),
            details=cast(dict[str, object], parsed("details")),
            prev_hash=str(row["prev_hash"]),
            hash=str(row["hash"]),
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "time": self.time,
            "event": self.event,
            "actor": self.actor,
            "role": self.role,
            "request_id": self.request_id,
            "question_sha256": self.question_sha256,
            "answer_sha256": self.answer_sha256,
            "chunk_ids": list(self.chunk_ids),
            "content_hashes": list(self.content_hashes),
            "acl_filter": None if self.acl_filter is None else list(self.acl_filter),
            "model_id": self.model_id,
            "model_sha256": self.model_sha256,
            "prompt_version": self.prompt_version,
            "decision": self.decision,
            "latency_ms": self.latency_ms,
            "details": self.details,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class AuditText:
    """The question and answer texts of one record, while their retention lasts."""

    seq: int
    time: str
    question: str | None
    answer: str | None


@dataclass(frozen=True)
class Anchor:
    """Where the retained chain starts: the seq and hash of the last pruned record."""

    seq: int
    hash: str


@dataclass(frozen=True)
class VerifyResult:
    """``ok``, or the first bad record (``bad_seq``) and why. ``records`` were checked."""

    ok: bool
    records: int
    head_seq: int
    head_hash: str
    bad_seq: int | None = None
    reason: str = ""
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.ok:
            return f"ok: {self.records} records verified, head {self.head_seq} {self.head_hash}"
        where = f"record {self.bad_seq}" if self.bad_seq is not None else "the log"
        return f"{where}: {self.reason}"

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "records": self.records,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "bad_seq": self.bad_seq,
            "reason": self.reason,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class PruneResult:
    texts_pruned: int
    records_pruned: int
    anchor_seq: int | None
    record: AuditRecord  # the retention event itself


@dataclass(frozen=True)
class Checkpoint:
    """The head of the chain at one moment, signed with the log's Ed25519 key.

    Keep it somewhere the log's host cannot rewrite (a ticket, a mail, another machine):
    ``verify(checkpoint)`` then shows whether records were cut off the end since.
    """

    count: int
    head_hash: str
    time: str
    public_key: str  # PEM (SubjectPublicKeyInfo)
    signature: str  # hex
    format: str = CHECKPOINT_FORMAT

    def message(self) -> bytes:
        signed = {
            "format": self.format,
            "count": self.count,
            "head_hash": self.head_hash,
            "time": self.time,
        }
        return canonical_json(signed).encode("utf-8")

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": self.format,
                "count": self.count,
                "head_hash": self.head_hash,
                "time": self.time,
                "public_key": self.public_key,
                "signature": self.signature,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        """Parse a checkpoint file; ``InvalidInput`` says what is wrong with it."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
                raise ValueError(f"not a {CHECKPOINT_FORMAT} file")
            return cls(
                count=int(data["count"]),
                head_hash=str(data["head_hash"]),
                time=str(data["time"]),
                public_key=str(data["public_key"]),
                signature=str(data["signature"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"unreadable audit checkpoint: {exc}", field="checkpoint") from exc


class AuditLog(Protocol):
    """A tamper-evident, append-only audit log (see the module docstring for the contract)."""

    policy: RetentionPolicy

    def pseudonym(self, user_id: str) -> str:
        """The actor id recorded for ``user_id``."""
        ...

    def append(self, event: AuditEvent) -> AuditRecord:
        """Record one event at the head of the chain; ``StoreError`` if it cannot be written."""
        ...

    def records(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        event: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[AuditRecord]:
        """Records with ``since <= time < until``, oldest first unless ``newest_first``."""
        ...

    def text(self, seq: int) -> AuditText | None:
        """The stored texts of record ``seq``, ``None`` when none are kept (or they expired)."""
        ...

    def forget_texts(self, user_id: str) -> int:
        """Delete every stored text of ``user_id`` (erasure); the chain stays verifiable."""
        ...

    def forget_matching(self, needle: str, *, dry_run: bool = False) -> int:
        """Delete every stored text pair whose question or answer contains ``needle``
        (case-insensitive, ``str.casefold``); returns how many (would be) deleted."""
        ...

    def verify(self, checkpoint: Checkpoint | None = None) -> VerifyResult:
        """Walk the chain (from the anchor) and compare with ``checkpoint`` if given."""
        ...

    def checkpoint(self) -> Checkpoint:
        """Append a ``checkpoint`` event and sign the head (that event) with the log's key."""
        ...

    def prune(self, now: datetime | None = None) -> PruneResult:
        """Apply the retention policy and append the ``retention`` event."""
        ...

    def export(
        self,
        out: TextIO,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        format: ExportFormat = "jsonl",
    ) -> int:
        """Write the records (metadata, no texts) as JSON lines or CSV; returns the count."""
        ...

    def close(self) -> None: ...


# -- shared chain logic ---------------------------------------------------------------------------
def new_row(seq: int, prev_hash: str, event: AuditEvent, actor: str, now: datetime) -> Row:
    """The stored form of ``event`` at position ``seq`` after ``prev_hash``, sealed."""
    row: Row = {
        "seq": seq,
        "time": iso(now),
        "event": event.event,
        "actor": actor,
        "role": event.role,
        "request_id": event.request_id,
        "question_sha256": None if event.question is None else sha256_text(event.question),
        "answer_sha256": None if event.answer is None else sha256_text(event.answer),
        "chunk_ids": canonical_json(list(event.chunk_ids)),
        "content_hashes": canonical_json(list(event.content_hashes)),
        "acl_filter": canonical_json(None if event.acl_filter is None else list(event.acl_filter)),
        "model_id": event.model_id,
        "model_sha256": event.model_sha256,
        "prompt_version": event.prompt_version,
        "decision": event.decision,
        "latency_ms": canonical_json({k: round(float(v), 1) for k, v in event.latency_ms.items()}),
        "details": canonical_json(dict(event.details)),
        "prev_hash": prev_hash,
    }
    row["hash"] = record_hash(row)
    return row


def _retention_anchor(row: Mapping[str, object]) -> tuple[object, object] | None:
    try:
        details = json.loads(str(row["details"]))
    except ValueError:
        return None
    if not isinstance(details, dict):
        return None
    return details.get("anchor_seq"), details.get("anchor_hash")


def walk(rows: Iterable[Row | BaseException], anchor: Anchor | None) -> VerifyResult:
    """Check a chain of stored rows, in seq order, starting after ``anchor``.

    A row may be an exception (it could not even be read): that row is the bad one.
    """
    expected_seq = anchor.seq + 1 if anchor else 1
    prev_hash = anchor.hash if anchor else GENESIS
    checked = 0
    retention: tuple[object, object] | None = None

    def bad(seq: int | None, reason: str) -> VerifyResult:
        return VerifyResult(False, checked, expected_seq - 1, prev_hash, seq, reason)

    for row in rows:
        if isinstance(row, BaseException):
            return bad(expected_seq, f"cannot be read: {row}")
        seq = row.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            return bad(expected_seq, f"has no valid sequence number ({seq!r})")
        if seq > expected_seq:
            gone = "it" if seq == expected_seq + 1 else f"records {expected_seq}-{seq - 1}"
            return bad(expected_seq, f"is missing (deleted): {gone} gone, next is record {seq}")
        if seq < expected_seq:
            return bad(seq, f"is out of order: found after record {expected_seq - 1}")
        try:
            sealed = record_hash(row)
        except (TypeError, ValueError) as exc:
            return bad(seq, f"cannot be read: a field is not text ({exc})")
        if row.get("hash") != sealed:
            return bad(seq, "was altered: its content does not match its hash (edited or torn)")
        if row.get("prev_hash") != prev_hash:
            previous = "the anchor" if checked == 0 and anchor else f"record {seq - 1}"
            return bad(
                seq,
                f"is not linked to {previous}: prev_hash differs (reordered, replaced or inserted)",
            )
        if row.get("event") == "retention":
            retention = _retention_anchor(row)
        prev_hash = str(row["hash"])
        expected_seq = seq + 1
        checked += 1
    if anchor is not None and retention != (anchor.seq, anchor.hash):
        return bad(
            anchor.seq + 1,
            f"the chain starts after record {anchor.seq}, but no retention run recorded that "
            "anchor (records were removed outside a retention run)",
        )
    return VerifyResult(True, checked, expected_seq - 1, prev_hash)


def check_checkpoint(
    result: VerifyResult,
    checkpoint: Checkpoint,
    *,
    hash_at: Callable[[int], str | None],
    anchor: Anchor | None,
    own_public_key: str | None,
) -> VerifyResult:
    """Compare a verified chain with a signed checkpoint: signature, key, count, head hash."""
    if not result.ok:
        return result

    def bad(seq: int | None, reason: str) -> VerifyResult:
        return VerifyResult(
            False, result.records, result.head_seq, result.head_hash, seq, reason, result.notes
        )

    if not _signature_ok(checkpoint):
        return bad(None, "the checkpoint's signature is invalid (the checkpoint was altered)")
    if own_public_key is None or _normal_pem(own_public_key) != _normal_pem(checkpoint.public_key):
        return bad(None, "the checkpoint was signed by a key this audit log does not have")
    if result.head_seq < checkpoint.count:
        return bad(
            result.head_seq + 1,
            f"is missing: the log ends at record {result.head_seq}, the checkpoint of "
            f"{checkpoint.time} has {checkpoint.count} records (the tail was cut off)",
        )
    if anchor is not None and checkpoint.count < anchor.seq:
        note = (
            f"checkpoint at record {checkpoint.count} predates the retained records "
            f"(pruned through {anchor.seq}); only its signature was checked"
        )
        return VerifyResult(
            True, result.records, result.head_seq, result.head_hash, notes=(*result.notes, note)
        )
    if anchor is not None and checkpoint.count == anchor.seq:
        actual: str | None = anchor.hash
    else:
        actual = hash_at(checkpoint.count) if checkpoint.count > 0 else GENESIS
    if actual != checkpoint.head_hash:
        return bad(
            checkpoint.count,
            f"differs from the checkpoint of {checkpoint.time} (the log was rewritten since)",
        )
    note = f"matches the checkpoint of {checkpoint.time} at record {checkpoint.count}"
    return VerifyResult(
        True, result.records, result.head_seq, result.head_hash, notes=(*result.notes, note)
    )


def _normal_pem(pem: str) -> str:
    return "".join(pem.split())


def _signature_ok(checkpoint: Checkpoint) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(checkpoint.public_key.encode("ascii"))
        if not isinstance(key, Ed25519PublicKey):
            return False
        key.verify(bytes.fromhex(checkpoint.signature), checkpoint.message())
    except (InvalidSignature, ValueError, UnicodeEncodeError):
        return False
    return True


def _public_pem(private: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def sign_head(private: Ed25519PrivateKey, record: AuditRecord) -> Checkpoint:
    unsigned = Checkpoint(
        count=record.seq, head_hash=record.hash, time=record.time, public_key="", signature=""
    )
    return Checkpoint(
        count=record.seq,
        head_hash=record.hash,
        time=record.time,
        public_key=_public_pem(private),
        signature=private.sign(unsigned.message()).hex(),
    )


def write_export(records: Iterable[AuditRecord], out: TextIO, format: ExportFormat) -> int:
    """Records as JSON lines (parsed fields) or CSV (the stored strings, so hashes can be
    recomputed from the file)."""
    count = 0
    if format == "jsonl":
        for record in records:
            out.write(json.dumps(record.as_dict(), ensure_ascii=False) + "\n")
            count += 1
        return count
    if format != "csv":
        raise InvalidInput(f"unknown export format {format!r}: use jsonl or csv", field="format")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for record in records:
        row = record.as_dict()
        writer.writerow(
            [
                canonical_json(row[name])
                if name in _JSON_FIELDS
                else ("" if row[name] is None else row[name])
                for name in FIELDS
            ]
        )
        count += 1
    return count


def retention_details(
    policy: RetentionPolicy, texts: int, records: int, anchor: Anchor | None
) -> dict[str, object]:
    return {
        "texts_pruned": texts,
        "records_pruned": records,
        "text_days": policy.text_days,
        "metadata_days": policy.metadata_days,
        "anchor_seq": anchor.seq if anchor else None,
        "anchor_hash": anchor.hash if anchor else None,
    }


def _retention_event(details: dict[str, object]) -> AuditEvent:
    return AuditEvent(event="retention", user_id="system", role="system", details=details)


def verify_recorded(
    log: AuditLog, checkpoint: Checkpoint | None, *, user_id: str, role: str
) -> VerifyResult:
    """``log.verify(checkpoint)``, then an ``audit_verified`` record of the run and its result
    (the record comes after the chain it judged, so it never judges itself)."""
    result = log.verify(checkpoint)
    log.append(
        AuditEvent(
            event="audit_verified",
            user_id=user_id,
            role=role,
            details={
                "ok": result.ok,
                "records": result.records,
                "head_seq": result.head_seq,
                "bad_seq": result.bad_seq,
                "reason": result.reason,
                "checkpoint": checkpoint is not None,
            },
        )
    )
    return result


def record_settings(
    log: AuditLog,
    settings: Mapping[str, object],
    *,
    model_id: str,
    model_sha256: str | None,
) -> AuditRecord | None:
    """At start: a ``settings_changed`` record when the effective settings or the model differ
    from the last such record (or there is none); otherwise nothing.

    ``settings`` maps each setting's dotted name to its value. Values are not stored: each is
    kept as a keyed digest (the log's pseudonym HMAC, so secrets and guessable values stay
    unreadable), and the record names the settings that changed.
    """
    digests = {
        name: log.pseudonym(f"setting:{name}={json.dumps(value, sort_keys=True, default=str)}")
        for name, value in sorted(settings.items())
    }
    digests["models.model_sha256"] = log.pseudonym(f"model:{model_sha256}")
    last = log.records(event="settings_changed", limit=1, newest_first=True)
    before = last[0].details.get("digests") if last else None
    previous: Mapping[str, object] = before if isinstance(before, dict) else {}
    changed = sorted(
        n for n in digests.keys() | previous.keys() if digests.get(n) != previous.get(n)
    )
    if last and not changed:
        return None
    return log.append(
        AuditEvent(
            event="settings_changed",
            user_id="system",
            role="system",
            model_id=model_id,
            model_sha256=model_sha256,
            details={"first": not last, "changed": changed, "digests": digests},
        )
    )


def _checkpoint_event() -> AuditEvent:
    return AuditEvent(event="checkpoint", user_id="system", role="system")


def _contains(text: str | None, folded_needle: str) -> bool:
    return text is not None and folded_needle in text.casefold()


def _matches(
    row: Mapping[str, object], since: str | None, until: str | None, event: str | None
) -> bool:
    time = str(row["time"])
    return (
        (since is None or time >= since)
        and (until is None or time < until)
        and (event is None or row["event"] == event)
    )


# -- the in-memory fake ------------------------------------------------------------------------
class InMemoryAuditLog:
    """The deterministic in-process implementation (tests, ``knowledge.store = "memory"``).

    ``rows`` and ``anchor`` are the stored state, open for tests that tamper with it.
    """

    def __init__(
        self,
        policy: RetentionPolicy | None = None,
        *,
        key: bytes = b"lotse-test-audit-key",
        clock: Clock = utc_now,
    ) -> None:
        self.policy = policy or RetentionPolicy()
        self.rows: list[Row] = []
        self.anchor: Anchor | None = None
        self._texts: dict[int, tuple[str, str, str | None, str | None]] = {}
        self._key = key
        self._clock = clock
        self._lock = threading.Lock()
        self._signing: Ed25519PrivateKey | None = None

    def pseudonym(self, user_id: str) -> str:
        return pseudonym(self._key, user_id)

    def _head(self) -> tuple[int, str]:
        if self.rows:
            return int(cast(int, self.rows[-1]["seq"])), str(self.rows[-1]["hash"])
        return (self.anchor.seq, self.anchor.hash) if self.anchor else (0, GENESIS)

    def _append_locked(self, event: AuditEvent) -> AuditRecord:
        seq, prev = self._head()
        actor = self.pseudonym(event.user_id)
        row = new_row(seq + 1, prev, event, actor, self._clock())
        self.rows.append(row)
        if self.policy.store_texts and (event.question is not None or event.answer is not None):
            self._texts[seq + 1] = (str(row["time"]), actor, event.question, event.answer)
        return AuditRecord.from_row(row)

    def append(self, event: AuditEvent) -> AuditRecord:
        with self._lock:
            return self._append_locked(event)

    def records(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        event: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[AuditRecord]:
        lo = iso(since) if since else None
        hi = iso(until) if until else None
        with self._lock:
            rows = [r for r in self.rows if _matches(r, lo, hi, event)]
        if newest_first:
            rows.reverse()
        return [AuditRecord.from_row(r) for r in rows[:limit]]

    def text(self, seq: int) -> AuditText | None:
        cutoff = iso(self._clock() - timedelta(days=self.policy.text_days))
        with self._lock:
            stored = self._texts.get(seq)
        if stored is None or stored[0] < cutoff:
            return None
        return AuditText(seq, stored[0], stored[2], stored[3])

    def forget_texts(self, user_id: str) -> int:
        actor = self.pseudonym(user_id)
        with self._lock:
            gone = [seq for seq, t in self._texts.items() if t[1] == actor]
            for seq in gone:
                del self._texts[seq]
        return len(gone)

    def forget_matching(self, needle: str, *, dry_run: bool = False) -> int:
        folded = needle.casefold()
        with self._lock:
            gone = [
                seq
                for seq, (_, _, question, answer) in self._texts.items()
                if _contains(question, folded) or _contains(answer, folded)
            ]
            if not dry_run:
                for seq in gone:
                    del self._texts[seq]
        return len(gone)

    def verify(self, checkpoint: Checkpoint | None = None) -> VerifyResult:
        with self._lock:
            rows = [dict(r) for r in self.rows]
            anchor = self.anchor
        result = walk(rows, anchor)
        if checkpoint is None:
            return result
        by_seq = {r.get("seq"): r.get("hash") for r in rows}
        own = _public_pem(self._signing) if self._signing else None
        return check_checkpoint(
            result,
            checkpoint,
            hash_at=lambda seq: cast("str | None", by_seq.get(seq)),
            anchor=anchor,
            own_public_key=own,
        )

    def checkpoint(self) -> Checkpoint:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        with self._lock:
            if self._signing is None:
                self._signing = Ed25519PrivateKey.generate()
            record = self._append_locked(_checkpoint_event())
            return sign_head(self._signing, record)

    def prune(self, now: datetime | None = None) -> PruneResult:
        now = now or self._clock()
        text_cut = iso(now - timedelta(days=self.policy.text_days))
        meta_cut = iso(now - timedelta(days=self.policy.metadata_days))
        with self._lock:
            old_texts = [seq for seq, t in self._texts.items() if t[0] < text_cut]
            for seq in old_texts:
                del self._texts[seq]
            keep_from = next(
                (i for i, r in enumerate(self.rows) if str(r["time"]) >= meta_cut), len(self.rows)
            )
            pruned = self.rows[:keep_from]
            texts = len(old_texts)
            if pruned:
                last = pruned[-1]
                self.anchor = Anchor(int(cast(int, last["seq"])), str(last["hash"]))
                del self.rows[:keep_from]
                for seq in [s for s in self._texts if s <= self.anchor.seq]:
                    del self._texts[seq]
                    texts += 1
            details = retention_details(self.policy, texts, len(pruned), self.anchor)
            record = self._append_locked(_retention_event(details))
        return PruneResult(texts, len(pruned), self.anchor.seq if self.anchor else None, record)

    def export(
        self,
        out: TextIO,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        format: ExportFormat = "jsonl",
    ) -> int:
        return write_export(self.records(since=since, until=until), out, format)

    def close(self) -> None:
        return None


# -- SQLite ---------------------------------------------------------------------------------------
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    event TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    request_id TEXT NOT NULL,
    question_sha256 TEXT,
    answer_sha256 TEXT,
    chunk_ids TEXT NOT NULL,
    content_hashes TEXT NOT NULL,
    acl_filter TEXT NOT NULL,
    model_id TEXT NOT NULL,
    model_sha256 TEXT,
    prompt_version TEXT NOT NULL,
    decision TEXT,
    latency_ms TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_time ON records(time);
CREATE INDEX IF NOT EXISTS records_event ON records(event, time);
CREATE TABLE IF NOT EXISTS texts (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    actor TEXT NOT NULL,
    question TEXT,
    answer TEXT
);
CREATE INDEX IF NOT EXISTS texts_time ON texts(time);
CREATE INDEX IF NOT EXISTS texts_actor ON texts(actor);
CREATE TABLE IF NOT EXISTS anchor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    time TEXT NOT NULL
);
"""
_COLUMNS = ", ".join(FIELDS)
_INSERT = f"INSERT INTO records ({_COLUMNS}) VALUES ({', '.join('?' * len(FIELDS))})"
_BUSY_TIMEOUT_S = 30.0
_WAL_RETRY_S = 0.05


def _use_wal(conn: sqlite3.Connection, timeout_s: float) -> None:
    """Switch a new log file to WAL. Processes that open a new file at the same moment race
    for that switch, and SQLite answers the loser "database is locked" at once, without its
    busy timeout: so the mode is read first (once one process switched, the others find WAL)
    and the switch retried until ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(_WAL_RETRY_S)


KEY_FILE = "audit.key"
SIGNING_KEY_FILE = "audit-signing.key"
PUBLIC_KEY_FILE = "audit-signing.pub"
DB_FILE = "audit.sqlite3"


def create_once(path: Path, make: Callable[[], bytes]) -> bytes:
    """The content of ``path``, creating it (mode 0600) with ``make()`` if it does not exist.

    Safe when several processes race: the file appears atomically, complete, exactly once.
    """
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(make())
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first
            os.link(tmp, path)  # atomic: the file appears complete or not at all
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


def _decode(value: object) -> object:
    """Verification reads raw bytes: invalid UTF-8 (a byte edit) is reported, not raised."""
    if isinstance(value, bytes):
        return value.decode("utf-8")  # UnicodeDecodeError -> the row is reported as unreadable
    return value


class SqliteAuditLog:
    """The durable audit log: ``<data_dir>/audit.sqlite3`` (WAL, synchronous=FULL), the
    pseudonym key ``audit.key`` and the signing key pair ``audit-signing.key``/``.pub``.

    Safe for concurrent writers in threads and processes: every append takes the write lock
    (``BEGIN IMMEDIATE``), reads the head, inserts and commits, so the chain stays linear.
    A process killed mid-write leaves no half record: SQLite rolls the transaction back.
    """

    def __init__(
        self, data_dir: Path, policy: RetentionPolicy | None = None, *, clock: Clock = utc_now
    ) -> None:
        self.policy = policy or RetentionPolicy()
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_FILE
        self._clock = clock
        self._lock = threading.Lock()
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._key = create_once(self.data_dir / KEY_FILE, lambda: secrets.token_bytes(32))
            self._conn = self._connect()
            with self._lock:
                self._conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"cannot open the audit log {self.path}: {exc}",
                hint="check that the data directory is writable and the disk is not full",
            ) from exc

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
        _use_wal(conn, _BUSY_TIMEOUT_S)
        conn.execute("PRAGMA synchronous = FULL")  # an audit record survives a power cut
        return conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write the audit log {self.path}: {exc}") from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise StoreError(
                    f"cannot write the audit log {self.path}: {exc}",
                    hint="check free disk space; the answer was not recorded",
                ) from exc
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def pseudonym(self, user_id: str) -> str:
        return pseudonym(self._key, user_id)

    @staticmethod
    def _anchor(conn: sqlite3.Connection) -> Anchor | None:
        row = conn.execute("SELECT seq, hash FROM anchor WHERE id = 1").fetchone()
        return None if row is None else Anchor(int(row[0]), _text(row[1]))

    def _append_locked(self, conn: sqlite3.Connection, event: AuditEvent) -> AuditRecord:
        head = conn.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        if head is not None:
            seq, prev = int(head[0]), _text(head[1])
        else:
            anchor = self._anchor(conn)
            seq, prev = (anchor.seq, anchor.hash) if anchor else (0, GENESIS)
        actor = self.pseudonym(event.user_id)
        row = new_row(seq + 1, prev, event, actor, self._clock())
        conn.execute(_INSERT, [row[name] for name in FIELDS])
        if self.policy.store_texts and (event.question is not None or event.answer is not None):
            conn.execute(
                "INSERT OR REPLACE INTO texts (seq, time, actor, question, answer) "
                "VALUES (?, ?, ?, ?, ?)",
                (seq + 1, row["time"], actor, event.question, event.answer),
            )
        return AuditRecord.from_row(row)

    def append(self, event: AuditEvent) -> AuditRecord:
        with self._write() as conn:
            return self._append_locked(conn, event)

    def records(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        event: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[AuditRecord]:
        return list(
            self._select(
                since=since, until=until, event=event, limit=limit, newest_first=newest_first
            )
        )

    def _select(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        event: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> Iterator[AuditRecord]:
        where, args = [], []
        if since is not None:
            where.append("time >= ?")
            args.append(iso(since))
        if until is not None:
            where.append("time < ?")
            args.append(iso(until))
        if event is not None:
            where.append("event = ?")
            args.append(event)
        sql = f"SELECT {_COLUMNS} FROM records"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC" if newest_first else " ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        conn = self._connect()  # its own connection: a long export never blocks appends
        try:
            for values in conn.execute(sql, args):
                yield AuditRecord.from_row(dict(zip(FIELDS, values, strict=True)))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the audit log {self.path}: {exc}") from exc
        finally:
            conn.close()

    def text(self, seq: int) -> AuditText | None:
        cutoff = iso(self._clock() - timedelta(days=self.policy.text_days))
        with self._lock:
            row = self._conn.execute(
                "SELECT time, question, answer FROM texts WHERE seq = ? AND time >= ?",
                (seq, cutoff),
            ).fetchone()
        return None if row is None else AuditText(seq, row[0], row[1], row[2])

    def forget_texts(self, user_id: str) -> int:
        actor = self.pseudonym(user_id)
        with self._write() as conn:
            return conn.execute("DELETE FROM texts WHERE actor = ?", (actor,)).rowcount

    def forget_matching(self, needle: str, *, dry_run: bool = False) -> int:
        folded = needle.casefold()
        with self._write() as conn:
            gone = [
                int(seq)
                for seq, question, answer in conn.execute(
                    "SELECT seq, question, answer FROM texts"
                ).fetchall()
                if _contains(question, folded) or _contains(answer, folded)
            ]
            if not dry_run:
                conn.executemany("DELETE FROM texts WHERE seq = ?", [(seq,) for seq in gone])
        return len(gone)

    def _rows(self, conn: sqlite3.Connection) -> Iterator[Row | BaseException]:
        cursor = conn.execute(f"SELECT {_COLUMNS} FROM records ORDER BY seq")
        while True:
            try:
                values = cursor.fetchone()
            except sqlite3.Error as exc:  # a damaged page
                yield exc
                return
            if values is None:
                return
            try:
                yield {name: _decode(v) for name, v in zip(FIELDS, values, strict=True)}
            except UnicodeDecodeError:
                yield ValueError(f"record {values[0]} holds bytes that are not valid UTF-8")
                return

    def verify(self, checkpoint: Checkpoint | None = None) -> VerifyResult:
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            return VerifyResult(False, 0, 0, GENESIS, None, f"cannot open {self.path}: {exc}")
        conn.text_factory = bytes
        try:
            conn.execute("BEGIN")  # one consistent snapshot while writers go on
            anchor = self._anchor(conn)
            result = walk(self._rows(conn), anchor)
            if checkpoint is None:
                return result

            def hash_at(seq: int) -> str | None:
                row = conn.execute("SELECT hash FROM records WHERE seq = ?", (seq,)).fetchone()
                return None if row is None else _text(row[0])

            return check_checkpoint(
                result,
                checkpoint,
                hash_at=hash_at,
                anchor=anchor,
                own_public_key=self._own_public_key(),
            )
        except sqlite3.Error as exc:
            return VerifyResult(False, 0, 0, GENESIS, None, f"cannot read {self.path}: {exc}")
        finally:
            conn.close()

    def _own_public_key(self) -> str | None:
        try:
            return (self.data_dir / PUBLIC_KEY_FILE).read_text(encoding="ascii")
        except OSError:
            return None

    def _signing_key(self) -> Ed25519PrivateKey:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        def make() -> bytes:
            return Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )

        pem = create_once(self.data_dir / SIGNING_KEY_FILE, make)
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise StoreError(f"{self.data_dir / SIGNING_KEY_FILE} is not an Ed25519 key")
        public = self.data_dir / PUBLIC_KEY_FILE
        if not public.exists():
            tmp = public.with_name(f".{public.name}.{os.getpid()}.tmp")
            tmp.write_text(_public_pem(key), encoding="ascii")
            os.replace(tmp, public)
        return key

    def checkpoint(self) -> Checkpoint:
        try:
            key = self._signing_key()
        except OSError as exc:
            raise StoreError(f"cannot create the audit signing key: {exc}") from exc
        with self._write() as conn:
            record = self._append_locked(conn, _checkpoint_event())
        return sign_head(key, record)

    def prune(self, now: datetime | None = None) -> PruneResult:
        now = now or self._clock()
        text_cut = iso(now - timedelta(days=self.policy.text_days))
        meta_cut = iso(now - timedelta(days=self.policy.metadata_days))
        with self._write() as conn:
            texts = conn.execute("DELETE FROM texts WHERE time < ?", (text_cut,)).rowcount
            first_kept = conn.execute(
                "SELECT MIN(seq) FROM records WHERE time >= ?", (meta_cut,)
            ).fetchone()[0]
            if first_kept is None:
                last = conn.execute("SELECT MAX(seq) FROM records").fetchone()[0]
            else:
                last = conn.execute(
                    "SELECT MAX(seq) FROM records WHERE seq < ?", (first_kept,)
                ).fetchone()[0]
            records = 0
            if last is not None:
                last_hash = _text(
                    conn.execute("SELECT hash FROM records WHERE seq = ?", (last,)).fetchone()[0]
                )
                texts += conn.execute("DELETE FROM texts WHERE seq <= ?", (last,)).rowcount
                records = conn.execute("DELETE FROM records WHERE seq <= ?", (last,)).rowcount
                conn.execute(
                    "INSERT OR REPLACE INTO anchor (id, seq, hash, time) VALUES (1, ?, ?, ?)",
                    (last, last_hash, iso(now)),
                )
            anchor = self._anchor(conn)
            details = retention_details(self.policy, texts, records, anchor)
            record = self._append_locked(conn, _retention_event(details))
        logger.info(
            "audit_retention texts_pruned=%d records_pruned=%d anchor=%s",
            texts,
            records,
            anchor.seq if anchor else None,
        )
        return PruneResult(texts, records, anchor.seq if anchor else None, record)

    def export(
        self,
        out: TextIO,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        format: ExportFormat = "jsonl",
    ) -> int:
        return write_export(self._select(since=since, until=until), out, format)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def read_checkpoint(path: Path) -> Checkpoint:
    try:
        return Checkpoint.from_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read the checkpoint {path}: {exc}", field="checkpoint") from exc
