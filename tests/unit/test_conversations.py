"""The conversation store contract, run against the in-memory fake and the SQLite store."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from assistant.conversations import (
    ConversationStore,
    InMemoryConversationStore,
    SqliteConversationStore,
    Turn,
    percentile,
)
from models.errors import Conflict, InvalidInput, NotFound


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "sqlite"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock
) -> Iterator[ConversationStore]:
    s: ConversationStore
    if request.param == "memory":
        s = InMemoryConversationStore(clock=clock)
    else:
        s = SqliteConversationStore(tmp_path / "conversations.sqlite3", clock=clock)
    yield s
    s.close()


SOURCES = ({"source_id": "it/vpn.md", "title": "VPN", "heading": "VPN > Mac", "score": 0.91},)


def exchange(
    answer_id: str,
    *,
    question: str = "Wie verbinde ich mich mit dem VPN?",
    answer: str = "Öffnen Sie Tunnelblick und wählen Sie „Nordwind“.",
    abstained: bool = False,
    total_ms: float = 1000.0,
    first_token_ms: float | None = 200.0,
) -> list[Turn]:
    return [
        Turn("user", question),
        Turn(
            "assistant",
            answer,
            answer_id=answer_id,
            abstained=abstained,
            sources=() if abstained else SOURCES,
            model="fake-llm",
            timings={"total_ms": total_ms, "first_token_ms": first_token_ms},
        ),
    ]


def test_a_new_conversation_is_empty_and_owned(store: ConversationStore, clock: Clock) -> None:
    conversation = store.create("u1")
    assert len(conversation.conversation_id) == 32
    assert conversation.owner == "u1"
    assert conversation.created == conversation.updated == clock.now
    assert store.get(conversation.conversation_id) == conversation
    assert store.turns(conversation.conversation_id) == ()


def test_unknown_conversations_are_not_found(store: ConversationStore) -> None:
    for call in (
        lambda: store.get("nope"),
        lambda: store.turns("nope"),
        lambda: store.append("nope", exchange("a1")),
        lambda: store.delete("nope"),
    ):
        with pytest.raises(NotFound, match="no conversation nope"):
            call()


def test_turns_come_back_in_order_with_everything_stored(
    store: ConversationStore, clock: Clock
) -> None:
    cid = store.create("u1").conversation_id
    clock.advance(5)
    store.append(cid, exchange("a1"))
    clock.advance(5)
    store.append(cid, exchange("a2", question="und auf dem Mac?", answer="Mit Tunnelblick."))
    turns = store.turns(cid)
    assert [(t.role, t.text) for t in turns] == [
        ("user", "Wie verbinde ich mich mit dem VPN?"),
        ("assistant", "Öffnen Sie Tunnelblick und wählen Sie „Nordwind“."),
        ("user", "und auf dem Mac?"),
        ("assistant", "Mit Tunnelblick."),
    ]
    first_answer = turns[1]
    assert first_answer.answer_id == "a1"
    assert first_answer.abstained is False
    assert first_answer.model == "fake-llm"
    assert first_answer.sources == SOURCES
    assert first_answer.timings == {"total_ms": 1000.0, "first_token_ms": 200.0}
    assert first_answer.created == 1_000_005.0
    assert turns[0].answer_id is None
    assert turns[3].created == 1_000_010.0
    assert store.get(cid).updated == 1_000_010.0


def test_invalid_turns_are_refused_and_nothing_is_half_written(store: ConversationStore) -> None:
    cid = store.create("u1").conversation_id
    with pytest.raises(InvalidInput, match="answer_id"):
        store.append(cid, [Turn("user", "Frage"), Turn("assistant", "Antwort")])
    store.append(cid, exchange("a1"))
    with pytest.raises(Conflict):
        store.append(cid, exchange("a1"))
    assert len(store.turns(cid)) == 2


def test_feedback_is_one_rating_per_answer(store: ConversationStore, clock: Clock) -> None:
    cid = store.create("u1").conversation_id
    store.append(cid, exchange("a1"))
    first = store.add_feedback("a1", "down", "Schritt 2 fehlt")
    assert (first.answer_id, first.rating, first.comment) == ("a1", "down", "Schritt 2 fehlt")
    clock.advance(1)
    second = store.add_feedback("a1", "up")
    assert (second.rating, second.comment, second.created) == ("up", None, clock.now)
    stats = store.stats(0, clock.now + 1)
    assert (stats.feedback_up, stats.feedback_down) == (1, 0)


def test_feedback_on_unknown_answers_and_bad_ratings_is_refused(store: ConversationStore) -> None:
    with pytest.raises(NotFound, match="no answer missing"):
        store.add_feedback("missing", "up")
    cid = store.create("u1").conversation_id
    store.append(cid, exchange("a1"))
    with pytest.raises(InvalidInput, match="rating"):
        store.add_feedback("a1", "meh")  # type: ignore[arg-type]


def test_feedback_for_an_owner_only_finds_their_answers(store: ConversationStore) -> None:
    cid = store.create("u1").conversation_id
    store.append(cid, exchange("a1"))
    with pytest.raises(NotFound, match="no answer a1"):
        store.add_feedback("a1", "down", "fremd", owner="u2")
    assert store.add_feedback("a1", "up", owner="u1").rating == "up"


def test_delete_removes_turns_and_comments_but_keeps_anonymous_stats(
    store: ConversationStore, clock: Clock
) -> None:
    keep = store.create("u1").conversation_id
    store.append(keep, exchange("keep"))
    store.add_feedback("keep", "up", "super")
    gone = store.create("u1").conversation_id
    store.append(gone, exchange("gone", abstained=True, first_token_ms=None))
    store.add_feedback("gone", "down", "Meine Telefonnummer ist 0171 1234567")
    before = store.stats(0, clock.now + 1)

    store.delete(gone)

    with pytest.raises(NotFound):
        store.get(gone)
    with pytest.raises(NotFound):
        store.turns(gone)
    with pytest.raises(NotFound, match="no answer gone"):
        store.add_feedback("gone", "up")
    assert store.stats(0, clock.now + 1) == before
    assert [t.answer_id for t in store.turns(keep)] == [None, "keep"]
    if isinstance(store, SqliteConversationStore):  # what is left in the file itself
        with closing(sqlite3.connect(store.path)) as db:
            comments = db.execute("SELECT answer_id, comment FROM feedback ORDER BY answer_id")
            assert comments.fetchall() == [("gone", None), ("keep", "super")]
            left = db.execute("SELECT count(*) FROM turns WHERE conversation_id = ?", (gone,))
            assert left.fetchone() == (0,)


def test_erase_user_removes_only_that_users_conversations(store: ConversationStore) -> None:
    a1 = store.create("alice").conversation_id
    a2 = store.create("alice").conversation_id
    b1 = store.create("bob").conversation_id
    store.append(a1, exchange("x1"))
    store.append(a2, exchange("x2"))
    store.append(b1, exchange("y1"))
    assert store.erase_user("alice") == 2
    assert store.erase_user("alice") == 0
    for cid in (a1, a2):
        with pytest.raises(NotFound):
            store.get(cid)
    assert len(store.turns(b1)) == 2
    with pytest.raises(NotFound):
        store.add_feedback("x1", "up")
    assert store.add_feedback("y1", "up").rating == "up"


def test_stats_count_a_time_window_with_exact_percentiles(
    store: ConversationStore, clock: Clock
) -> None:
    cid = store.create("u1").conversation_id
    store.append(cid, exchange("old", total_ms=99999.0))  # before the window
    clock.advance(100)
    since = clock.now
    for i, total in enumerate([100.0, 200.0, 300.0, 400.0]):
        store.append(cid, exchange(f"ok{i}", total_ms=total, first_token_ms=total / 10))
    store.append(cid, exchange("no", abstained=True, total_ms=50.0, first_token_ms=None))
    store.add_feedback("ok0", "up")
    store.add_feedback("ok1", "up")
    store.add_feedback("ok2", "down")
    stats = store.stats(since, clock.now + 1)
    assert (stats.questions, stats.answered, stats.abstained) == (5, 4, 1)
    assert (stats.feedback_up, stats.feedback_down) == (2, 1)
    assert stats.total_ms_p50 == 200.0
    assert stats.total_ms_p95 == 400.0
    assert stats.first_token_ms_p50 == 20.0
    assert stats.first_token_ms_p95 == 40.0
    assert stats.answer_rate == 0.8
    assert stats.deflection_rate == 0.6
    empty = store.stats(clock.now + 10, clock.now + 20)
    assert (empty.questions, empty.total_ms_p50, empty.answer_rate) == (0, None, None)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0


def test_concurrent_appends_from_worker_threads(store: ConversationStore) -> None:
    cid = store.create("u1").conversation_id
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                store.append(cid, exchange(f"t{n}-{i}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    turns = store.turns(cid)
    assert len(turns) == 120
    assert [t.role for t in turns] == ["user", "assistant"] * 60


def test_sqlite_store_is_durable_and_uses_wal(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "data" / "conversations.sqlite3"
    store = SqliteConversationStore(path, clock=clock)
    cid = store.create("u1").conversation_id
    store.append(cid, exchange("a1"))
    store.add_feedback("a1", "up", "danke")
    store.close()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    reopened = SqliteConversationStore(path, clock=clock)
    try:
        assert reopened.turns(cid)[0].text == "Wie verbinde ich mich mit dem VPN?"
        assert reopened.stats(0, clock.now + 1).feedback_up == 1
    finally:
        reopened.close()
