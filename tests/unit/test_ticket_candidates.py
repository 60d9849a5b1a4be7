"""Ticket knowledge candidates: the store's review rules, the migration of an existing ticket
file, erasure, and an import's knowledge sync in both modes over in-memory indexes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from assistant.audit import InMemoryAuditLog
from assistant.identity import Caller
from assistant.ticket_review import decide_candidates, publish_candidates
from assistant.ticket_store import (
    AUTO_ACTOR,
    CandidateDocument,
    StoredTicket,
    TicketStore,
    candidate_documents,
)
from knowledge.indexer import Indexer, InProcessLoader
from knowledge.lexical import InMemoryLexicalIndex
from knowledge.manifest import Manifest
from knowledge.tickets import Ticket, ticket_documents
from knowledge.vectorstore import InMemoryVectorStore
from models.embedder import FakeEmbedder
from models.errors import Conflict, InvalidInput, NotFound
from tests.tickets import resolved_ticket

SOURCE = "tickets"
ADMIN = Caller(user_id="admin.anna", role="admin")


GERMAN = resolved_ticket(
    "DE-1",
    "Drucker im 2. OG druckt nicht",
    "Hallo,\nder Drucker steht.\n\nViele Grüße\nErika Mustermann\nTel. 0170 1234567",
    "Papierstau in Fach 2 beseitigt, Druckerwarteschlange neu gestartet.",
    "de",
)
ENGLISH = resolved_ticket(
    "EN-1",
    "VPN certificate expired",
    "Hi,\nmy VPN says the certificate expired.\n\nBest regards\nJohn Smith\njohn.smith@example.com",
    "Renew the VPN certificate in the company portal and restart AnyConnect.",
    "en",
)
OPEN = replace(resolved_ticket("OPEN-1", "Open", "Still broken", "", "en"), status="open")


def _candidates(*tickets: Ticket) -> list[CandidateDocument]:
    return candidate_documents(list(tickets), source=SOURCE, acl=("everyone",))[1]


@pytest.fixture
def store() -> Iterator[TicketStore]:
    clock = iter(float(n) for n in range(1000, 100000))
    s = TicketStore.memory(clock=lambda: next(clock))
    yield s
    s.close()


# -- building candidates --------------------------------------------------------------------------
def test_candidates_are_the_redacted_employee_documents_with_their_own_counts() -> None:
    tickets = [GERMAN, ENGLISH, OPEN]
    docs, candidates = candidate_documents(tickets, source=SOURCE, acl=("staff",))
    expected = ticket_documents(tickets, source=SOURCE, acl=("staff",))
    assert docs == expected  # the import's documents and totals are unchanged
    assert [c.ticket_id for c in candidates] == ["DE-1", "EN-1"]  # the open one is no candidate
    assert [c.document for c in candidates] == expected.knowledge
    assert dict(candidates[0].redactions) == {"name": 1, "phone": 1}
    assert dict(candidates[1].redactions) == {"name": 1, "email": 1}
    assert "Erika" not in candidates[0].document.text
    assert "[PHONE]" in candidates[0].document.text
    assert "john.smith" not in candidates[1].document.text
    assert "Smith" not in candidates[1].document.text
    assert candidates[0].document.language == "de" and candidates[1].document.language == "en"


# -- the store's rules ---------------------------------------------------------------------------
def test_review_mode_keeps_new_candidates_pending_until_approved(store: TicketStore) -> None:
    summary = store.record_candidates(SOURCE, _candidates(GERMAN, ENGLISH), mode="review")
    assert (summary.new, summary.pending, summary.approved, summary.live) == (2, 2, 0, 0)
    assert store.live_documents(SOURCE) == []
    pending = store.candidates(status="pending")
    assert [c.ticket_id for c in pending] == ["DE-1", "EN-1"]
    assert pending[0].decided_by is None and pending[0].decided_at is None
    assert pending[0].text == _candidates(GERMAN)[0].document.text

    approved = store.decide_candidate(SOURCE, "DE-1", "approve", actor="pseudo-anna")
    assert approved.status == "approved" and approved.live
    assert approved.decided_by == "pseudo-anna" and approved.decided_at is not None
    assert store.live_documents(SOURCE) == [_candidates(GERMAN)[0].document]

    rejected = store.decide_candidate(SOURCE, "EN-1", "reject", actor="pseudo-anna", reason="x")
    assert rejected.status == "rejected" and not rejected.live and rejected.reason == "x"
    assert [d.source_id for d in store.live_documents(SOURCE)] == ["tickets/DE-1"]
    assert store.candidate_counts() == {"pending": 0, "approved": 1, "rejected": 1}


def test_an_unchanged_reimport_keeps_every_decision(store: TicketStore) -> None:
    store.record_candidates(SOURCE, _candidates(GERMAN, ENGLISH), mode="review")
    store.decide_candidate(SOURCE, "DE-1", "approve", actor="a")
    store.decide_candidate(SOURCE, "EN-1", "reject", actor="a")
    again = store.record_candidates(SOURCE, _candidates(GERMAN, ENGLISH), mode="review")
    assert (again.new, again.changed, again.removed) == (0, 0, 0)
    assert store.candidate(SOURCE, "DE-1").status == "approved"
    assert store.candidate(SOURCE, "EN-1").status == "rejected"
    # mode auto does not overrule an admin's rejection either
    store.record_candidates(SOURCE, _candidates(GERMAN, ENGLISH), mode="auto")
    assert store.candidate(SOURCE, "EN-1").status == "rejected"
    assert [d.source_id for d in store.live_documents(SOURCE)] == ["tickets/DE-1"]


def test_a_changed_ticket_is_pending_again_and_withdrawn(store: TicketStore) -> None:
    store.record_candidates(SOURCE, _candidates(GERMAN, ENGLISH), mode="review")
    first = store.decide_candidate(SOURCE, "DE-1", "approve", actor="a")
    store.decide_candidate(SOURCE, "EN-1", "reject", actor="a", reason="no")
    edited_de = replace(GERMAN, resolution="Fach 2 geleert; Treiber neu installiert.")
    edited_en = replace(ENGLISH, resolution="Renew the certificate; reboot the laptop.")
    summary = store.record_candidates(SOURCE, _candidates(edited_de, edited_en), mode="review")
    assert (summary.new, summary.changed, summary.pending, summary.live) == (0, 2, 2, 0)
    now = store.candidate(SOURCE, "DE-1")
    assert now.status == "pending" and now.decided_by is None and now.reason is None
    assert "Treiber neu installiert" in now.text
    assert now.created_at == first.created_at and now.updated_at > first.updated_at
    assert store.candidate(SOURCE, "EN-1").status == "pending"  # rejected, but changed
    assert store.live_documents(SOURCE) == []  # the old approved text is not live any more


def test_auto_mode_approves_as_auto_and_publishes_pending_ones(store: TicketStore) -> None:
    store.record_candidates(SOURCE, _candidates(GERMAN), mode="review")
    summary = store.record_candidates(SOURCE, _candidates(GERMAN, ENGLISH), mode="auto")
    assert (summary.new, summary.approved, summary.pending, summary.live) == (1, 2, 0, 2)
    for ticket_id in ("DE-1", "EN-1"):
        candidate = store.candidate(SOURCE, ticket_id)
        assert candidate.decided_by == AUTO_ACTOR and candidate.live
    # switching to review later withdraws nothing
    store.record_candidates(SOURCE, _candidates(GERMAN, ENGLISH), mode="review")
    assert len(store.live_documents(SOURCE)) == 2


def test_documents_indexed_before_review_count_as_published(store: TicketStore) -> None:
    german, english = _candidates(GERMAN, ENGLISH)
    live = {german.document.source_id: german.document.content_hash, "tickets/EN-1": "old"}
    store.record_candidates(SOURCE, [german, english], mode="review", live=live)
    assert store.candidate(SOURCE, "DE-1").decided_by == AUTO_ACTOR
    assert store.candidate(SOURCE, "EN-1").status == "pending"  # indexed, but another text


def test_candidates_of_vanished_tickets_are_dropped(store: TicketStore) -> None:
    store.record_candidates(SOURCE, _candidates(GERMAN, ENGLISH), mode="review")
    store.record_candidates("other", _candidates(ENGLISH), mode="review")
    summary = store.record_candidates(SOURCE, _candidates(ENGLISH), mode="review")
    assert summary.removed == 1
    with pytest.raises(NotFound, match="DE-1"):
        store.candidate(SOURCE, "DE-1")
    assert store.candidate("other", "EN-1").status == "pending"  # other sources untouched


def test_deciding_on_a_stale_or_unknown_candidate_fails(store: TicketStore) -> None:
    store.record_candidates(SOURCE, _candidates(GERMAN), mode="review")
    shown = store.candidate(SOURCE, "DE-1").content_hash
    with pytest.raises(Conflict, match="changed since it was shown"):
        store.decide_candidate(SOURCE, "DE-1", "approve", actor="a", content_hash="0" * 64)
    assert store.candidate(SOURCE, "DE-1").status == "pending"
    assert store.decide_candidate(SOURCE, "DE-1", "approve", actor="a", content_hash=shown).live
    with pytest.raises(NotFound, match="no knowledge candidate 'nope'"):
        store.decide_candidate(SOURCE, "nope", "approve", actor="a")
    with pytest.raises(InvalidInput):
        store.decide_candidate(SOURCE, "DE-1", "maybe", actor="a")  # type: ignore[arg-type]
    # a change of mind: the latest decision wins
    assert store.decide_candidate(SOURCE, "DE-1", "reject", actor="b").status == "rejected"
    assert store.live_documents(SOURCE) == []


def test_listing_filters_pages_and_counts(store: TicketStore) -> None:
    extra = [
        resolved_ticket(f"EN-{n}", f"Printer {n}", "Jammed", f"Cleared the tray {n}.", "en")
        for n in range(2, 6)
    ]
    store.record_candidates(SOURCE, _candidates(GERMAN, ENGLISH, *extra), mode="review")
    store.record_candidates("hr-tickets", _candidates(ENGLISH), mode="review")
    store.decide_candidate(SOURCE, "EN-3", "approve", actor="a")
    assert store.count_candidates(status="pending") == 6
    assert store.count_candidates(status="pending", source=SOURCE) == 5
    assert store.count_candidates(status=None) == 7
    page1 = store.candidates(status="pending", source=SOURCE, limit=2)
    page2 = store.candidates(status="pending", source=SOURCE, limit=2, offset=2)
    page3 = store.candidates(status="pending", source=SOURCE, limit=2, offset=4)
    assert [c.ticket_id for c in page1 + page2 + page3] == ["DE-1", "EN-1", "EN-2", "EN-4", "EN-5"]
    assert [c.ticket_id for c in store.candidates(status="approved")] == ["EN-3"]
    assert store.candidate_counts(SOURCE) == {"pending": 5, "approved": 1, "rejected": 0}
    with pytest.raises(InvalidInput, match="status"):
        store.candidates(status="live")  # type: ignore[arg-type]


# -- an existing ticket file ----------------------------------------------------------------------
OLD_SCHEMA = """
CREATE TABLE tickets (
    ticket_id TEXT PRIMARY KEY, subject TEXT NOT NULL, body TEXT NOT NULL,
    resolution TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'open',
    queue TEXT NOT NULL DEFAULT '', priority TEXT NOT NULL DEFAULT '',
    type TEXT NOT NULL DEFAULT '', language TEXT NOT NULL DEFAULT 'und', created REAL,
    origin TEXT NOT NULL, source TEXT NOT NULL DEFAULT '', updated REAL NOT NULL
);
CREATE INDEX tickets_updated ON tickets(updated DESC);
CREATE TABLE suggestions (
    suggestion_id TEXT PRIMARY KEY, ticket_id TEXT, owner TEXT NOT NULL, created REAL NOT NULL,
    payload TEXT NOT NULL, decision TEXT, decided REAL, sent_text TEXT
);
CREATE INDEX suggestions_ticket ON suggestions(ticket_id, created DESC);
CREATE TABLE webhook_nonces (nonce TEXT PRIMARY KEY, seen REAL NOT NULL);
INSERT INTO tickets (ticket_id, subject, body, status, origin, source, updated)
VALUES ('OLD-7', 'Alter Drucker', 'Er druckt nicht', 'closed', 'import', 'tickets', 1.0);
INSERT INTO suggestions (suggestion_id, ticket_id, owner, created, payload)
VALUES ('s1', 'OLD-7', 'agent.jo', 2.0, '{"draft": "Hallo"}');
"""


def test_an_existing_ticket_file_gains_the_candidates_table(tmp_path: Path) -> None:
    path = tmp_path / "tickets.sqlite3"
    db = sqlite3.connect(path)
    try:
        db.executescript(OLD_SCHEMA)
    finally:
        db.close()
    store = TicketStore(path)
    try:
        assert store.get("OLD-7").subject == "Alter Drucker"  # old rows survive
        assert store.suggestion("s1").owner == "agent.jo"
        assert store.candidate_counts() == {"pending": 0, "approved": 0, "rejected": 0}
        store.record_candidates(SOURCE, _candidates(GERMAN, ENGLISH), mode="review")
        store.decide_candidate(SOURCE, "EN-1", "approve", actor="a")
    finally:
        store.close()
    reopened = TicketStore(path)
    try:
        assert reopened.candidate(SOURCE, "EN-1").live
        assert reopened.candidate(SOURCE, "DE-1").status == "pending"
        assert reopened.get("OLD-7").status == "closed"
    finally:
        reopened.close()


# -- erasure ------------------------------------------------------------------------------------
def test_erasure_by_text_deletes_matching_candidates(store: TicketStore) -> None:
    store.upsert([StoredTicket.from_ticket(GERMAN, origin="import", source=SOURCE)])
    store.record_candidates(SOURCE, _candidates(GERMAN, ENGLISH), mode="review")
    store.decide_candidate(SOURCE, "EN-1", "reject", actor="a", reason="Rückfrage bei Frau Özdemir")
    # the redacted candidate text has no name; the stored ticket has it (1 ticket, 0 candidates)
    assert store.forget_matching("erika mustermann", dry_run=True) == 1
    # the word is in the German candidate and the German ticket
    assert store.forget_matching("PAPIERSTAU", dry_run=True) == 2
    assert store.forget_matching("özdemir", dry_run=True) == 1  # a reason is text, too
    assert store.forget_matching("papierstau") == 2
    assert [c.ticket_id for c in store.candidates(status=None)] == ["EN-1"]
    assert store.forget_matching("ÖZDEMIR") == 1
    assert store.candidates(status=None) == []


def test_erasure_of_a_source_or_document_deletes_its_candidates(store: TicketStore) -> None:
    store.record_candidates(SOURCE, _candidates(GERMAN, ENGLISH), mode="review")
    store.record_candidates("other", _candidates(GERMAN), mode="review")
    assert store.forget_candidates(SOURCE, "tickets/DE-1", dry_run=True) == 1
    assert store.forget_candidates(SOURCE, "tickets/DE-1") == 1
    assert [c.ticket_id for c in store.candidates(source=SOURCE)] == ["EN-1"]
    assert store.forget_candidates(SOURCE) == 1
    assert store.count_candidates(status=None) == 1  # the other source keeps its own


# -- an import's knowledge sync, in-memory indexes -------------------------------------------------
@dataclass
class Stores:
    tickets: TicketStore
    indexer: Indexer
    manifest: Manifest
    audit: InMemoryAuditLog

    def indexed(self) -> dict[str, str]:
        """source_id -> the indexed text of the employee source."""
        out = {}
        for entry in self.manifest.entries(SOURCE):
            chunks = self.indexer.lexical.get(list(entry.chunk_ids))
            out[entry.source_id] = "\n".join(c.text for c in chunks)
        return out


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    manifest = Manifest(tmp_path / "manifest.sqlite3")
    indexer = Indexer(
        embedder=FakeEmbedder(dim=32),
        vectors=InMemoryVectorStore(),
        lexical=InMemoryLexicalIndex(),
        manifest=manifest,
        loader=InProcessLoader(),
    )
    tickets = TicketStore.memory()
    yield Stores(tickets, indexer, manifest, InMemoryAuditLog())
    tickets.close()
    manifest.close()


def _import(stores: Stores, *tickets: Ticket, mode: str) -> tuple[int, int]:
    review, index = publish_candidates(
        stores.tickets,
        stores.indexer,
        stores.manifest,
        SOURCE,
        _candidates(*tickets),
        mode=mode,  # type: ignore[arg-type]
    )
    return review.pending, index.new


def test_import_in_auto_mode_publishes_every_resolvedresolved_ticket(stores: Stores) -> None:
    assert _import(stores, GERMAN, ENGLISH, OPEN, mode="auto") == (0, 2)
    indexed = stores.indexed()
    assert sorted(indexed) == ["tickets/DE-1", "tickets/EN-1"]
    assert "Papierstau" in indexed["tickets/DE-1"] and "Erika" not in indexed["tickets/DE-1"]
    assert "AnyConnect" in indexed["tickets/EN-1"]


def test_import_in_review_mode_indexes_only_what_an_admin_approved(stores: Stores) -> None:
    assert _import(stores, GERMAN, ENGLISH, mode="review") == (2, 0)
    assert stores.indexed() == {}

    done = decide_candidates(
        stores.tickets,
        stores.indexer,
        stores.manifest,
        stores.audit,
        ADMIN,
        SOURCE,
        ["DE-1"],
        "approve",
        endpoint="test",
    )
    assert done.index.new == 1 and done.index.chunks_written >= 1
    assert list(stores.indexed()) == ["tickets/DE-1"]
    record = stores.audit.records(event="candidate_decision")[0]
    assert record.seq == done.audit_seqs[0]
    assert record.details["decision"] == "approved" and record.details["ticket_id"] == "DE-1"
    assert record.content_hashes == (done.candidates[0].content_hash,)
    assert record.actor == stores.audit.pseudonym("admin.anna") == done.candidates[0].decided_by

    # a re-import changes nothing; a changed ticket leaves the index until approved again
    assert _import(stores, GERMAN, ENGLISH, mode="review") == (1, 0)
    assert list(stores.indexed()) == ["tickets/DE-1"]
    edited = replace(GERMAN, resolution="Toner getauscht und Fach 2 geleert.")
    assert _import(stores, edited, ENGLISH, mode="review") == (2, 0)
    assert stores.indexed() == {}

    decide_candidates(
        stores.tickets,
        stores.indexer,
        stores.manifest,
        stores.audit,
        ADMIN,
        SOURCE,
        ["DE-1", "EN-1"],
        "approve",
        endpoint="test",
    )
    indexed = stores.indexed()
    assert "Toner getauscht" in indexed["tickets/DE-1"] and "tickets/EN-1" in indexed
    rejected = decide_candidates(
        stores.tickets,
        stores.indexer,
        stores.manifest,
        stores.audit,
        ADMIN,
        SOURCE,
        ["EN-1"],
        "reject",
        endpoint="test",
        reason="contains an internal host name",
    )
    assert rejected.index.deleted == 1
    assert list(stores.indexed()) == ["tickets/DE-1"]
    last = stores.audit.records(event="candidate_decision")[-1]
    assert last.details["decision"] == "rejected" and last.details["reason"] is True
    assert last.answer_sha256 is not None  # the reason as a digest, not in the details
    assert "internal host" not in str(last.details)
    assert len(stores.audit.records(event="candidate_decision")) == 4


def test_unknown_ids_fail_before_anything_changes(stores: Stores) -> None:
    _import(stores, GERMAN, ENGLISH, mode="review")
    with pytest.raises(NotFound, match="'nope'"):
        decide_candidates(
            stores.tickets,
            stores.indexer,
            stores.manifest,
            stores.audit,
            ADMIN,
            SOURCE,
            ["DE-1", "nope"],
            "approve",
            endpoint="test",
        )
    assert stores.tickets.candidate(SOURCE, "DE-1").status == "pending"
    assert stores.audit.records() == []
    assert stores.indexed() == {}


def test_switching_an_existing_auto_source_to_review_withdraws_nothing(stores: Stores) -> None:
    # indexed by an import that recorded no candidates (an older Lotse)
    docs = ticket_documents([GERMAN, ENGLISH], source=SOURCE, acl=("everyone",))
    stores.indexer.sync_documents(SOURCE, docs.knowledge)
    assert _import(stores, GERMAN, ENGLISH, mode="review") == (0, 0)
    assert sorted(stores.indexed()) == ["tickets/DE-1", "tickets/EN-1"]
    assert stores.tickets.candidate(SOURCE, "DE-1").decided_by == AUTO_ACTOR


# -- the command line -----------------------------------------------------------------------------
EXPORT_ROWS = [
    ("id", "subject", "body", "answer", "queue", "priority", "type", "language", "closed"),
    (
        "DE-1",
        GERMAN.subject,
        GERMAN.problem,
        GERMAN.resolution,
        "IT",
        "normal",
        "incident",
        "de",
        "2024-05-02T10:00:00",
    ),
    (
        "EN-1",
        ENGLISH.subject,
        ENGLISH.problem,
        ENGLISH.resolution,
        "IT",
        "normal",
        "incident",
        "en",
        "2024-05-02T10:00:00",
    ),
]


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return {
        "LOTSE_DATA_DIR": str(tmp_path / "data"),
        "LOTSE_MODELS__LLM_BACKEND": "fake",
        "LOTSE_MODELS__EMBEDDER": "fake",
        "LOTSE_MODELS__CACHE_DIR": str(tmp_path / "models"),
        "LOTSE_LOG_LEVEL": "WARNING",
        "LOTSE_TICKETS__KNOWLEDGE_REVIEW": "review",
    }


def _export(tmp_path: Path) -> Path:
    import csv

    path = tmp_path / "export.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(EXPORT_ROWS)
    return path


def _lotse(env: dict[str, str], *args: str, code: int = 0) -> str:
    from typer.testing import CliRunner

    from api.cli import app

    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.output


def _json(env: dict[str, str], *args: str) -> dict[str, object]:
    import json

    from typer.testing import CliRunner

    from api.cli import app

    result = CliRunner().invoke(app, [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    body: dict[str, object] = json.loads(result.stdout)
    return body


def _employee_search(env: dict[str, str], query: str) -> list[str]:
    body = _json(env, "search", query, "-k", "20", "--group", "everyone")
    return [str(r["source_id"]) for r in body["results"]]  # type: ignore[attr-defined, index]


def test_cli_review_import_list_approve_reject(cli_env: dict[str, str], tmp_path: Path) -> None:
    from api.settings import Settings
    from api.wiring import audit_policy
    from assistant.audit import SqliteAuditLog

    export = _export(tmp_path)
    _lotse(cli_env, "tickets", "candidates", code=1)  # nothing imported yet
    summary = _json(cli_env, "tickets", "import", str(export))
    assert summary["review"] == {
        "mode": "review",
        "new": 2,
        "changed": 0,
        "removed": 0,
        "pending": 2,
        "approved": 0,
        "rejected": 0,
        "live": 0,
    }
    assert summary["knowledge"]["new"] == 0  # type: ignore[index]
    assert summary["agents"]["new"] == 2  # type: ignore[index]  # agents see every ticket
    text = _lotse(cli_env, "tickets", "import", str(export))
    assert "0 live, 2 waiting for review, 0 rejected" in text
    assert "lotse tickets approve tickets TICKET_ID" in text

    listed = _json(cli_env, "tickets", "candidates", "--source", "tickets")
    assert listed["total"] == 2 and listed["mode"] == "review"
    rows = listed["candidates"]
    assert [(r["ticket_id"], r["language"]) for r in rows] == [("DE-1", "de"), ("EN-1", "en")]  # type: ignore[index, union-attr]
    assert "Erika" not in rows[0]["text"] and "[PHONE]" in rows[0]["text"]  # type: ignore[index]
    assert rows[1]["redactions"] == {"name": 1, "email": 1}  # type: ignore[index]
    table = _lotse(cli_env, "tickets", "candidates")
    assert "DE-1" in table and "EN-1" in table and "mode review: 2 pending" in table
    assert "tickets/DE-1" not in _employee_search(cli_env, "Papierstau Fach 2 Drucker")

    approved = _json(cli_env, "tickets", "approve", "tickets", "DE-1", "EN-1")
    assert [d["status"] for d in approved["decided"]] == ["approved", "approved"]  # type: ignore[attr-defined, index]
    assert approved["knowledge"]["new"] == 2  # type: ignore[index]
    found = _employee_search(cli_env, "Papierstau Fach 2 Drucker")
    assert "tickets/DE-1" in found and "tickets/EN-1" in found

    out = _lotse(cli_env, "tickets", "reject", "tickets", "EN-1", "--reason", "host name")
    assert "rejected 1 candidate(s) of tickets" in out and "1 removed" in out
    found = _employee_search(cli_env, "VPN certificate AnyConnect")
    assert "tickets/EN-1" not in found and "tickets/DE-1" in found
    # a re-import keeps the decisions
    again = _json(cli_env, "tickets", "import", str(export))
    assert again["review"]["live"] == 1 and again["review"]["rejected"] == 1  # type: ignore[index]

    missing = _lotse(cli_env, "tickets", "approve", "tickets", "NOPE", code=1)
    assert "no knowledge candidate 'NOPE'" in missing

    with pytest.MonkeyPatch.context() as mp:
        for key, value in cli_env.items():
            mp.setenv(key, value)
        settings = Settings()
    audit = SqliteAuditLog(settings.data_dir, audit_policy(settings))
    try:
        records = audit.records(event="candidate_decision")
        assert [(r.details["ticket_id"], r.details["decision"]) for r in records] == [
            ("DE-1", "approved"),
            ("EN-1", "approved"),
            ("EN-1", "rejected"),
        ]
        assert {r.actor for r in records} == {audit.pseudonym("operator")}
        assert [r.details["endpoint"] for r in records][-1] == "cli.tickets.reject"
        assert audit.verify().ok
    finally:
        audit.close()


def test_cli_decisions_are_refused_while_the_server_owns_the_stores(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    from api.lock import DataDirLock

    _json(cli_env, "tickets", "import", str(_export(tmp_path)))
    with DataDirLock(Path(cli_env["LOTSE_DATA_DIR"]), "lotse serve"):
        out = _lotse(cli_env, "tickets", "approve", "tickets", "DE-1", code=1)
        # listing needs no lock
        assert "DE-1" in _lotse(cli_env, "tickets", "candidates")
    assert "lotse serve" in out
    assert "POST /v1/admin/candidates/tickets/TICKET_ID/approve" in " ".join(out.split())
    assert "pending" in _lotse(cli_env, "tickets", "candidates", "--status", "pending")
