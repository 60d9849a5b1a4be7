"""The audit log: one contract suite for the in-memory fake and SQLite, tamper detection
(including property-based single-byte edits, deletions and swaps), checkpoints, retention."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from assistant.audit import (
    DB_FILE,
    FIELDS,
    GENESIS,
    KEY_FILE,
    PUBLIC_KEY_FILE,
    SIGNING_KEY_FILE,
    AuditEvent,
    AuditLog,
    Checkpoint,
    InMemoryAuditLog,
    RetentionPolicy,
    Row,
    SqliteAuditLog,
    record_hash,
    record_settings,
    sha256_text,
    utc_now,
    verify_recorded,
)


class Clock:
    """A settable clock for retention tests."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


START = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)

QUESTIONS = [
    ("de", "Wie verbinde ich mich mit dem VPN von zu Hause?", "Öffnen Sie AnyConnect [1]."),
    ("en", "How much is the per diem for a full day?", "It is 28 euros [1]."),
    ("de", "Wo beantrage ich Urlaub für Überstunden?", "Im Personalportal (HR) [1]."),
]


def answer_event(i: int, user: str = "anna.schmidt") -> AuditEvent:
    lang, question, answer = QUESTIONS[i % len(QUESTIONS)]
    return AuditEvent(
        event="answer",
        user_id=user,
        role="employee",
        request_id=f"answer-{i}",
        question=question,
        answer=answer,
        chunk_ids=(f"chunk-{i}a", f"chunk-{i}b"),
        content_hashes=("a" * 64, "b" * 64),
        acl_filter=("everyone", "it"),
        model_id="qwen2.5-0.5b",
        model_sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        prompt_version="answer-v2",
        decision="answered" if i % 2 == 0 else "abstained",
        latency_ms={"retrieval_ms": 12.34, "total_ms": 1500.0 + i},
        details={"endpoint": "chat", "language": lang, "note": "Grüße"},
    )


class Tamper(Protocol):
    """Raw access to the stored rows, bypassing the log (what an attacker could do)."""

    def rows(self) -> list[Row]: ...
    def set(self, seq: int, field: str, value: object) -> None: ...
    def delete(self, seq: int) -> None: ...
    def swap(self, a: int, b: int) -> None: ...
    def set_anchor(self, seq: int, hash: str) -> None: ...


class FakeTamper:
    def __init__(self, log: InMemoryAuditLog) -> None:
        self.log = log

    def _index(self, seq: int) -> int:
        return next(i for i, r in enumerate(self.log.rows) if r["seq"] == seq)

    def rows(self) -> list[Row]:
        return [dict(r) for r in self.log.rows]

    def set(self, seq: int, field: str, value: object) -> None:
        self.log.rows[self._index(seq)][field] = value

    def delete(self, seq: int) -> None:
        del self.log.rows[self._index(seq)]

    def swap(self, a: int, b: int) -> None:  # reorder: the two records change places
        i, j = self._index(a), self._index(b)
        rows = self.log.rows
        rows[i], rows[j] = rows[j], rows[i]

    def set_anchor(self, seq: int, hash: str) -> None:
        from assistant.audit import Anchor

        self.log.anchor = Anchor(seq, hash)


class SqliteTamper:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _run(self, sql: str, args: tuple[object, ...] = ()) -> None:
        conn = sqlite3.connect(self.path)
        try:
            conn.execute(sql, args)
            conn.commit()
        finally:
            conn.close()

    def rows(self) -> list[Row]:
        conn = sqlite3.connect(self.path)
        try:
            cur = conn.execute(f"SELECT {', '.join(FIELDS)} FROM records ORDER BY seq")
            return [dict(zip(FIELDS, values, strict=True)) for values in cur]
        finally:
            conn.close()

    def set(self, seq: int, field: str, value: object) -> None:
        self._run(f"UPDATE records SET {field} = ? WHERE seq = ?", (value, seq))

    def delete(self, seq: int) -> None:
        self._run("DELETE FROM records WHERE seq = ?", (seq,))

    def swap(self, a: int, b: int) -> None:  # the contents change places, seq stays
        rows = {r["seq"]: r for r in self.rows()}
        for target, source in ((a, rows[b]), (b, rows[a])):
            cols = [f for f in FIELDS if f != "seq"]
            assignments = ", ".join(f"{c} = ?" for c in cols)
            self._run(
                f"UPDATE records SET {assignments} WHERE seq = ?",
                (*[source[c] for c in cols], target),
            )

    def set_anchor(self, seq: int, hash: str) -> None:
        self._run(
            "INSERT OR REPLACE INTO anchor (id, seq, hash, time) VALUES (1, ?, ?, 'x')",
            (seq, hash),
        )


LogFactory = Callable[..., tuple[AuditLog, Tamper]]


@pytest.fixture(params=["memory", "sqlite"])
def make_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogFactory]:
    opened: list[AuditLog] = []

    def factory(
        policy: RetentionPolicy | None = None, clock: Callable[[], datetime] | None = None
    ) -> tuple[AuditLog, Tamper]:
        when = clock or utc_now
        if request.param == "memory":
            mem = InMemoryAuditLog(policy, clock=when)
            opened.append(mem)
            return mem, FakeTamper(mem)
        folder = tmp_path / f"data{len(opened)}"
        db = SqliteAuditLog(folder, policy, clock=when)
        opened.append(db)
        return db, SqliteTamper(folder / DB_FILE)

    yield factory
    for log in opened:
        log.close()


def filled(make_log: LogFactory, n: int = 5, **kwargs: object) -> tuple[AuditLog, Tamper]:
    log, tamper = make_log(**kwargs)
    for i in range(n):
        log.append(answer_event(i))
    return log, tamper


# -- contract: appending and reading ------------------------------------------------------------
def test_records_form_one_chain_of_digests_and_pseudonyms(make_log: LogFactory) -> None:
    log, _ = make_log()
    records = [log.append(answer_event(i)) for i in range(3)]
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[0].prev_hash == GENESIS
    assert [r.prev_hash for r in records[1:]] == [r.hash for r in records[:-1]]
    first = records[0]
    assert first.question_sha256 == sha256_text(QUESTIONS[0][1])
    assert first.answer_sha256 == sha256_text(QUESTIONS[0][2])
    assert first.chunk_ids == ("chunk-0a", "chunk-0b")
    assert first.content_hashes == ("a" * 64, "b" * 64)
    assert first.acl_filter == ("everyone", "it")
    assert (first.decision, records[1].decision) == ("answered", "abstained")
    assert first.latency_ms == {"retrieval_ms": 12.3, "total_ms": 1500.0}
    assert first.details == {"endpoint": "chat", "language": "de", "note": "Grüße"}
    # neither the user id nor any text is part of the record
    exported = json.dumps([r.as_dict() for r in log.records()], ensure_ascii=False)
    assert "anna.schmidt" not in exported
    assert "VPN" not in exported and "per diem" not in exported
    assert first.actor == log.pseudonym("anna.schmidt") != log.pseudonym("ben.meyer")
    assert len(first.actor) == 32
    assert log.verify().ok


def test_verify_reports_the_head(make_log: LogFactory) -> None:
    log, _ = filled(make_log, 4)
    result = log.verify()
    assert (result.ok, result.records, result.head_seq) == (True, 4, 4)
    assert result.head_hash == log.records()[-1].hash
    assert result.describe().startswith("ok: 4 records verified")


def test_empty_log_verifies(make_log: LogFactory) -> None:
    log, _ = make_log()
    result = log.verify()
    assert (result.ok, result.records, result.head_seq, result.head_hash) == (
        True,
        0,
        0,
        GENESIS,
    )


def test_records_filter_by_event_time_and_limit(make_log: LogFactory) -> None:
    clock = Clock(START)
    log, _ = make_log(clock=clock)
    for i in range(4):
        clock.now = START + timedelta(hours=i)
        log.append(answer_event(i))
    clock.now = START + timedelta(hours=5)
    log.append(AuditEvent(event="reindex", user_id="admin", role="admin"))
    assert [r.seq for r in log.records(event="answer")] == [1, 2, 3, 4]
    assert [r.seq for r in log.records(event="reindex")] == [5]
    since, until = START + timedelta(hours=1), START + timedelta(hours=3)
    assert [r.seq for r in log.records(since=since, until=until)] == [2, 3]
    assert [r.seq for r in log.records(limit=2, newest_first=True)] == [5, 4]
    assert [r.seq for r in log.records(limit=2)] == [1, 2]


def test_texts_live_outside_the_chain(make_log: LogFactory) -> None:
    log, _ = filled(make_log, 3)
    text = log.text(2)
    assert text is not None
    assert (text.question, text.answer) == (QUESTIONS[1][1], QUESTIONS[1][2])
    log.append(answer_event(3, user="ben.meyer"))
    assert log.forget_texts("anna.schmidt") == 3
    assert log.text(1) is None and log.text(4) is not None
    assert log.verify().ok  # erasing texts leaves the chain intact


def test_no_texts_when_the_policy_says_so(make_log: LogFactory) -> None:
    log, _ = filled(make_log, 2, policy=RetentionPolicy(store_texts=False))
    assert log.text(1) is None
    assert log.records()[0].question_sha256 == sha256_text(QUESTIONS[0][1])


def test_threads_append_one_linear_chain(make_log: LogFactory) -> None:
    log, _ = make_log()

    def work(worker: int) -> None:
        for i in range(20):
            log.append(answer_event(i, user=f"user{worker}"))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = log.verify()
    assert (result.ok, result.records) == (True, 120)
    assert [r.seq for r in log.records()] == list(range(1, 121))


# -- contract: tampering is detected ----------------------------------------------------------
def test_an_edited_field_is_named(make_log: LogFactory) -> None:
    log, tamper = filled(make_log)
    tamper.set(3, "decision", "abstained" if log.records()[2].decision == "answered" else "x")
    result = log.verify()
    assert (result.ok, result.bad_seq) == (False, 3)
    assert "altered" in result.reason
    assert result.describe().startswith("record 3: was altered")


def test_an_edit_with_a_recomputed_hash_breaks_the_link(make_log: LogFactory) -> None:
    log, tamper = filled(make_log)
    row = tamper.rows()[1]
    row["answer_sha256"] = sha256_text("eine andere Antwort")
    tamper.set(2, "answer_sha256", row["answer_sha256"])
    tamper.set(2, "hash", record_hash(row))  # a careful forger re-seals the record …
    result = log.verify()
    assert (result.ok, result.bad_seq) == (False, 3)  # … but the next one points elsewhere
    assert "not linked to record 2" in result.reason


def test_a_deleted_record_is_named(make_log: LogFactory) -> None:
    log, tamper = filled(make_log)
    tamper.delete(2)
    result = log.verify()
    assert (result.ok, result.bad_seq) == (False, 2)
    assert "missing" in result.reason


def test_a_deleted_first_record_is_named(make_log: LogFactory) -> None:
    log, tamper = filled(make_log)
    tamper.delete(1)
    result = log.verify()
    assert (result.ok, result.bad_seq) == (False, 1)


def test_a_swapped_pair_is_detected(make_log: LogFactory) -> None:
    log, tamper = filled(make_log)
    tamper.swap(2, 4)
    result = log.verify()
    assert (result.ok, result.bad_seq) == (False, 2)


def test_a_torn_last_record_is_reported(make_log: LogFactory) -> None:
    log, tamper = filled(make_log)
    last = tamper.rows()[-1]
    tamper.set(5, "hash", str(last["hash"])[:20])  # the write stopped half-way
    result = log.verify()
    assert (result.ok, result.bad_seq) == (False, 5)


# -- contract: checkpoints ---------------------------------------------------------------------
def test_a_checkpoint_detects_a_cut_off_tail(make_log: LogFactory) -> None:
    log, tamper = filled(make_log, 4)
    checkpoint = log.checkpoint()
    assert checkpoint.count == 5  # the checkpoint event itself is the signed head
    assert log.records()[-1].event == "checkpoint"
    log.append(answer_event(9))
    assert log.verify(checkpoint).ok
    assert "matches the checkpoint" in log.verify(checkpoint).notes[0]
    tamper.delete(6)
    tamper.delete(5)
    assert log.verify().ok  # the chain alone cannot see a cut tail …
    result = log.verify(checkpoint)  # … the checkpoint can
    assert (result.ok, result.bad_seq) == (False, 5)
    assert "tail was cut off" in result.reason


def test_a_checkpoint_detects_a_rewritten_head(make_log: LogFactory) -> None:
    log, tamper = filled(make_log, 3)
    checkpoint = log.checkpoint()
    tamper.set(4, "details", '{"forged":true}')
    row = tamper.rows()[3]
    tamper.set(4, "hash", record_hash(row))  # re-sealed: the chain verifies again
    assert log.verify().ok
    result = log.verify(checkpoint)
    assert (result.ok, result.bad_seq) == (False, 4)
    assert "differs from the checkpoint" in result.reason


def test_a_checkpoint_survives_its_file_format(make_log: LogFactory) -> None:
    log, _ = filled(make_log, 2)
    checkpoint = Checkpoint.from_json(log.checkpoint().to_json())
    assert log.verify(checkpoint).ok


def test_a_forged_checkpoint_is_rejected(make_log: LogFactory) -> None:
    log, _ = filled(make_log, 2)
    checkpoint = log.checkpoint()
    forged = replace(checkpoint, count=2)
    result = log.verify(forged)
    assert not result.ok and "signature is invalid" in result.reason
    other = InMemoryAuditLog()
    other.append(answer_event(0))
    foreign = other.checkpoint()
    result = log.verify(foreign)
    assert not result.ok and "key this audit log does not have" in result.reason


# -- contract: retention -----------------------------------------------------------------------
def test_retention_prunes_texts_then_records_and_the_chain_still_verifies(
    make_log: LogFactory,
) -> None:
    clock = Clock(START)
    log, tamper = make_log(policy=RetentionPolicy(text_days=30, metadata_days=180), clock=clock)
    for day in (0, 10, 100, 200):
        clock.now = START + timedelta(days=day)
        log.append(answer_event(day))
    checkpoint = log.checkpoint()  # record 5, day 200
    clock.now = START + timedelta(days=215)
    result = log.prune()
    # texts: days 0, 10, 100 are older than 30 days; records: days 0, 10 older than 180
    assert (result.texts_pruned, result.records_pruned, result.anchor_seq) == (3, 2, 2)
    assert result.record.event == "retention" and result.record.seq == 6
    assert result.record.details["anchor_seq"] == 2
    assert [r.seq for r in log.records()] == [3, 4, 5, 6]
    assert log.text(3) is None and log.text(4) is not None
    verified = log.verify(checkpoint)
    assert (verified.ok, verified.records, verified.head_seq) == (True, 4, 6)
    # appending after a prune continues the chain
    assert log.append(answer_event(1)).seq == 7
    assert log.verify().ok
    # deleting more old records and moving the anchor by hand is detected
    rows = tamper.rows()
    tamper.delete(3)
    tamper.set_anchor(3, str(rows[0]["hash"]))
    bad = log.verify()
    assert (bad.ok, bad.bad_seq) == (False, 4)
    assert "no retention run recorded that anchor" in bad.reason


def test_retention_with_nothing_to_prune_is_still_recorded(make_log: LogFactory) -> None:
    log, _ = filled(make_log, 2)
    result = log.prune()
    assert (result.texts_pruned, result.records_pruned, result.anchor_seq) == (0, 0, None)
    assert log.records(event="retention")[0].details["records_pruned"] == 0
    assert log.verify().ok


def test_retention_of_every_record_keeps_an_anchor(make_log: LogFactory) -> None:
    clock = Clock(START)
    log, _ = filled(make_log, 3, clock=clock)
    clock.now = START + timedelta(days=400)
    result = log.prune()
    assert (result.records_pruned, result.anchor_seq, result.record.seq) == (3, 3, 4)
    assert log.verify().ok and log.verify().records == 1


# -- contract: export ----------------------------------------------------------------------------
def test_export_jsonl_and_csv(make_log: LogFactory) -> None:
    clock = Clock(START)
    log, _ = make_log(clock=clock)
    for i in range(3):
        clock.now = START + timedelta(days=i)
        log.append(answer_event(i))
    buf = io.StringIO()
    assert log.export(buf, since=START + timedelta(days=1)) == 2
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [line["seq"] for line in lines] == [2, 3]
    assert lines[0]["chunk_ids"] == ["chunk-1a", "chunk-1b"]
    assert lines[0]["details"]["language"] == "en"

    buf = io.StringIO()
    assert log.export(buf, until=START + timedelta(days=2), format="csv") == 2
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert [r["seq"] for r in rows] == ["1", "2"]
    assert list(rows[0]) == list(FIELDS)
    # the CSV holds the stored strings: anyone can recompute the hashes from it
    for row in rows:
        stored: Row = {
            k: (int(v) if k == "seq" else v)
            if v or k not in ("question_sha256", "answer_sha256", "model_sha256", "decision")
            else None
            for k, v in row.items()
        }
        assert record_hash(stored) == row["hash"]


# -- SQLite specifics -----------------------------------------------------------------------------
def test_sqlite_log_persists_and_keeps_its_keys_private(tmp_path: Path) -> None:
    log = SqliteAuditLog(tmp_path)
    first = log.append(answer_event(0))
    log.checkpoint()
    log.close()
    for name in (KEY_FILE, SIGNING_KEY_FILE):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert (tmp_path / PUBLIC_KEY_FILE).read_text().startswith("-----BEGIN PUBLIC KEY-----")
    again = SqliteAuditLog(tmp_path)
    try:
        assert again.pseudonym("anna.schmidt") == first.actor  # the key is kept
        assert again.append(answer_event(1)).seq == 3
        assert again.verify().records == 3
    finally:
        again.close()
    other = SqliteAuditLog(tmp_path / "other")
    try:
        assert other.pseudonym("anna.schmidt") != first.actor  # another key, another id
    finally:
        other.close()


def test_two_handles_on_one_file_keep_one_chain(tmp_path: Path) -> None:
    a, b = SqliteAuditLog(tmp_path), SqliteAuditLog(tmp_path)
    try:
        for i in range(10):
            (a if i % 2 else b).append(answer_event(i))
        result = a.verify()
        assert (result.ok, result.records) == (True, 10)
    finally:
        a.close()
        b.close()


def test_invalid_utf8_in_a_record_is_reported(tmp_path: Path) -> None:
    log = SqliteAuditLog(tmp_path)
    try:
        for i in range(3):
            log.append(answer_event(i))
        SqliteTamper(tmp_path / DB_FILE).set(2, "role", b"employ\xffe")
        result = log.verify()
        assert (result.ok, result.bad_seq) == (False, 2)
        assert "not valid UTF-8" in result.reason
    finally:
        log.close()


# -- property-based: any single-byte edit, any deletion, any swap ------------------------------
N_RECORDS = 5


def _edited(value: object, position: int, byte: int) -> object | None:
    """``value`` with one byte changed (``None`` when that is no change)."""
    if isinstance(value, int):
        changed = int(str(value)[:-1] + str(byte % 10)) if len(str(value)) else None
        return None if changed == value else changed
    data = str(value).encode("utf-8")
    if not data:
        return None
    i = position % len(data)
    if data[i] == byte:
        return None
    new = data[:i] + bytes([byte]) + data[i + 1 :]
    try:
        return new.decode("utf-8")
    except UnicodeDecodeError:
        return new  # stored as raw bytes: what a hex editor leaves behind


EDITABLE = list(FIELDS)


def _fill(log: AuditLog) -> None:
    for i in range(N_RECORDS - 1):
        log.append(answer_event(i))
    log.append(AuditEvent(event="reindex", user_id="admin", role="admin", details={"j": "ä"}))


@pytest.fixture(scope="module")
def pristine_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pristine")
    log = SqliteAuditLog(folder)
    _fill(log)
    log.close()
    return folder


def _sqlite_copy(pristine: Path) -> tuple[SqliteAuditLog, SqliteTamper, Path]:
    folder = Path(tempfile.mkdtemp(prefix="audit-prop-"))
    shutil.copy(pristine / DB_FILE, folder / DB_FILE)
    shutil.copy(pristine / KEY_FILE, folder / KEY_FILE)
    return SqliteAuditLog(folder), SqliteTamper(folder / DB_FILE), folder


def _check_byte_edit(
    log: AuditLog, tamper: Tamper, seq: int, field: str, position: int, byte: int
) -> None:
    original = next(r for r in tamper.rows() if r["seq"] == seq)[field]
    assume(original is not None)
    new = _edited(original, position, byte)
    assume(new is not None)
    if field == "seq":
        assume(new not in {r["seq"] for r in tamper.rows()})  # a primary key stays unique
    tamper.set(seq, field, new)
    result = log.verify()
    assert not result.ok, (seq, field, original, new)
    if field == "seq":  # the record moved: a gap or a disorder at or before it
        assert result.bad_seq is not None and result.bad_seq <= seq
    else:
        assert result.bad_seq == seq, result


_edit_args = {
    "seq": st.integers(1, N_RECORDS),
    "field": st.sampled_from(EDITABLE),
    "position": st.integers(0, 200),
    "byte": st.integers(0, 255),
}


@settings(max_examples=300, deadline=None)
@given(**_edit_args)
def test_property_any_byte_edit_is_detected_fake(
    seq: int, field: str, position: int, byte: int
) -> None:
    log = InMemoryAuditLog()
    _fill(log)
    _check_byte_edit(log, FakeTamper(log), seq, field, position, byte)


@settings(max_examples=60, deadline=None)
@given(**_edit_args)
def test_property_any_byte_edit_is_detected_sqlite(
    pristine_sqlite: Path, seq: int, field: str, position: int, byte: int
) -> None:
    log, tamper, folder = _sqlite_copy(pristine_sqlite)
    try:
        _check_byte_edit(log, tamper, seq, field, position, byte)
    finally:
        log.close()
        shutil.rmtree(folder)


@settings(max_examples=50, deadline=None)
@given(kind=st.sampled_from(["memory", "sqlite"]), seq=st.integers(1, N_RECORDS - 1))
def test_property_any_deleted_record_is_detected(
    pristine_sqlite: Path, kind: str, seq: int
) -> None:
    # the last record is the exception: only a checkpoint detects a cut tail (tested above)
    with _opened(kind, pristine_sqlite) as (log, tamper):
        tamper.delete(seq)
        result = log.verify()
        assert (result.ok, result.bad_seq) == (False, seq)


@settings(max_examples=50, deadline=None)
@given(
    kind=st.sampled_from(["memory", "sqlite"]),
    pair=st.lists(st.integers(1, N_RECORDS), min_size=2, max_size=2, unique=True),
)
def test_property_any_swapped_pair_is_detected(
    pristine_sqlite: Path, kind: str, pair: list[int]
) -> None:
    a, b = sorted(pair)
    with _opened(kind, pristine_sqlite) as (log, tamper):
        tamper.swap(a, b)
        result = log.verify()
        assert (result.ok, result.bad_seq) == (False, a)


class _opened:
    def __init__(self, kind: str, pristine: Path) -> None:
        self.kind, self.pristine = kind, pristine
        self.folder: Path | None = None

    def __enter__(self) -> tuple[AuditLog, Tamper]:
        if self.kind == "memory":
            mem = InMemoryAuditLog()
            _fill(mem)
            self.log: AuditLog = mem
            return mem, FakeTamper(mem)
        db, tamper, self.folder = _sqlite_copy(self.pristine)
        self.log = db
        return db, tamper

    def __exit__(self, *exc: object) -> None:
        self.log.close()
        if self.folder is not None:
            shutil.rmtree(self.folder)


# -- settings and model changes ----------------------------------------------------------------
def test_settings_changes_are_recorded_by_name_with_keyed_digests_only(
    make_log: LogFactory, tmp_path: Path
) -> None:
    from pydantic import SecretStr

    from api.settings import Settings
    from api.wiring import settings_values

    log, _ = make_log()
    secret = "webhook-Geheimnis-9f2c"
    base = Settings(data_dir=tmp_path)
    first = record_settings(log, settings_values(base), model_id="qwen2.5-1.5b", model_sha256="a1")
    assert first is not None and first.event == "settings_changed" and first.role == "system"
    assert first.details["first"] is True
    assert "api.max_queue" in first.details["changed"]
    assert (first.model_id, first.model_sha256) == ("qwen2.5-1.5b", "a1")
    # an unchanged start records nothing
    assert (
        record_settings(log, settings_values(base), model_id="qwen2.5-1.5b", model_sha256="a1")
        is None
    )

    changed = base.model_copy(
        update={
            "api": base.api.model_copy(update={"max_queue": 3}),
            "tickets": base.tickets.model_copy(update={"webhook_secret": SecretStr(secret)}),
        }
    )
    second = record_settings(
        log, settings_values(changed), model_id="qwen2.5-1.5b", model_sha256="a1"
    )
    assert second is not None
    assert second.details["first"] is False
    assert second.details["changed"] == ["api.max_queue", "tickets.webhook_secret"]
    # the model file alone changing is a change too
    third = record_settings(
        log, settings_values(changed), model_id="qwen2.5-0.5b", model_sha256="b2"
    )
    assert third is not None and third.details["changed"] == ["models.model_sha256"]
    # values never reach the log: not the secret, not even the queue size next to its name
    stored = json.dumps([r.details for r in log.records()])
    assert secret not in stored and "Geheimnis" not in stored
    assert '"api.max_queue": 3' not in stored and "max_queue=3" not in stored
    assert log.verify().ok


def test_each_verification_run_is_recorded_after_the_chain_it_judged(make_log: LogFactory) -> None:
    log, tamper = make_log()
    for language, question, answer in QUESTIONS:
        log.append(
            AuditEvent(
                event="answer",
                user_id="erika",
                role="employee",
                question=question,
                answer=answer,
                decision="answered",
                details={"language": language},
            )
        )
    result = verify_recorded(log, None, user_id="operator", role="admin")
    assert result.ok and result.records == 3
    (run,) = log.records(event="audit_verified")
    assert run.seq == 4 and run.role == "admin"
    assert (run.details["ok"], run.details["records"], run.details["checkpoint"]) == (
        True,
        3,
        False,
    )
    tamper.set(2, "decision", "refused")
    damaged = verify_recorded(log, None, user_id="operator", role="admin")
    assert (damaged.ok, damaged.bad_seq) == (False, 2)
    last = log.records(event="audit_verified")[-1]
    assert (last.details["ok"], last.details["bad_seq"]) == (False, 2)


def test_the_switch_to_wal_waits_out_a_process_that_holds_the_new_file(tmp_path: Path) -> None:
    """Processes opening a new log at once race for the WAL switch, and SQLite may answer the
    loser "database is locked" without waiting; the switch is retried."""
    import sqlite3
    import threading

    from assistant.audit import _use_wal

    path = tmp_path / "audit.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")  # a rollback-journal file, locked by another connection
    late = sqlite3.connect(path, isolation_level=None, timeout=0)  # no busy wait of its own
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        late.execute("PRAGMA journal_mode = WAL")
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    _use_wal(late, timeout_s=10.0)
    release.join()
    assert late.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    holder.close()
    late.close()
    # a lock that is never released: the switch gives up at its time limit
    other = path.with_name("other.sqlite3")
    holder = sqlite3.connect(other, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    stuck = sqlite3.connect(other, isolation_level=None, timeout=0)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _use_wal(stuck, timeout_s=0.2)
    holder.execute("ROLLBACK")
    holder.close()
    stuck.close()
