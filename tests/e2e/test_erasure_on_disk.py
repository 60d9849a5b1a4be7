"""Erasure on the real stores (Chroma, SQLite FTS5, manifest, conversations, audit log): after
``erase --match`` a planted canary is found nowhere, not even in the raw bytes on disk."""

from __future__ import annotations

import json
import sqlite3
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from api.keys import KeyStore
from api.settings import Settings
from api.wiring import Knowledge, build_eraser, open_knowledge
from assistant.audit import AuditEvent, SqliteAuditLog
from assistant.conversations import SqliteConversationStore, Turn
from assistant.erasure import Eraser
from assistant.identity import Caller
from assistant.ticket_store import TICKETS_FILE, StoredTicket, TicketStore
from knowledge.chroma import ChromaVectorStore, scrub_hnsw_capacity
from knowledge.documents import Chunk, Document, sha256_bytes
from models.errors import NotFound

CANARY = "KANARIENVOGEL-7f3a"
NEEDLE = b"kanarienvog"  # the canary's word, in any case, also as an index term
ADMIN = Caller("admin-1", "admin")

pytestmark = pytest.mark.e2e


def _settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        models={"llm_backend": "fake", "embedder": "fake"},  # type: ignore[arg-type]
    )


def _ticket(ticket_id: str, title: str, text: str) -> Document:
    return Document(
        source_id=ticket_id,
        title=title,
        text=text,
        format="ticket",
        language="de",
        content_hash=sha256_bytes(text.encode()),
        source="tickets",
    )


TICKETS = [
    _ticket(
        "T-1",
        f"Code {CANARY} gesperrt",
        f"# Drucker\n\nKollegin meldet: Zugangscode {CANARY} funktioniert nicht.",
    ),
    _ticket(
        "T-2", "Toner empty", "# Printer\n\nThe printer on floor 2 is out of toner; replaced it."
    ),
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "it").mkdir(parents=True)
    (root / "it" / "vpn.md").write_text(
        f"# VPN\n\n## Zugang\n\nDer persönliche VPN-Schlüssel lautet {CANARY}. "
        "Bitte nicht weitergeben.\n",
        encoding="utf-8",
    )
    (root / "it" / "wlan.md").write_text(
        "# WLAN\n\n## Gäste\n\nGäste erhalten einen Voucher für NW-Guest am Empfang.\n",
        encoding="utf-8",
    )
    (root / "travel.md").write_text(
        "# Travel expenses\n\nThe per diem for a full day in Germany is 28 euros.\n",
        encoding="utf-8",
    )
    return root


class Stores:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.knowledge: Knowledge = open_knowledge(settings, purpose="e2e erasure")
        self.conversations = SqliteConversationStore(settings.data_dir / "conversations.sqlite3")
        self.audit = SqliteAuditLog(settings.data_dir)
        self.tickets = TicketStore(settings.data_dir / TICKETS_FILE)
        self.eraser: Eraser = build_eraser(
            settings, self.knowledge, self.conversations, self.audit, tickets=self.tickets
        )

    def close(self) -> None:
        self.tickets.close()
        self.conversations.close()
        self.audit.close()
        self.knowledge.close()

    def chat(self, user: str, question: str, answer: str, answer_id: str) -> str:
        conversation = self.conversations.create(user)
        self.conversations.append(
            conversation.conversation_id,
            [Turn("user", question), Turn("assistant", answer, answer_id=answer_id)],
        )
        self.audit.append(
            AuditEvent(
                event="answer",
                user_id=user,
                role="employee",
                request_id=answer_id,
                question=question,
                answer=answer,
                decision="answered",
            )
        )
        return conversation.conversation_id


@pytest.fixture
def stores(tmp_path: Path, folder: Path) -> Iterator[Stores]:
    s = Stores(_settings(tmp_path / "data"))
    assert s.knowledge.indexer.ingest(folder, source="wiki").new == 3
    assert s.knowledge.indexer.sync_documents("tickets", TICKETS).new == 2
    # the agents' ticket store holds the ticket and an AI draft that repeats the canary
    s.tickets.upsert([StoredTicket(t.source_id, t.title, t.text) for t in TICKETS])
    s.tickets.add_suggestion("T-1", "agent-1", {"draft": f"Der Code {CANARY} wurde entsperrt."})
    yield s
    s.close()


def _rows_containing(path: Path, needle: str) -> list[str]:
    """Every table (FTS shadow tables included) of a SQLite file, scanned value by value."""
    folded = needle.casefold()
    found = []
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", "replace")
                    if isinstance(value, str) and folded in value.casefold():
                        found.append(table)
    finally:
        conn.close()
    return found


def _files_containing(data_dir: Path, needle: bytes) -> list[str]:
    return sorted(
        str(p.relative_to(data_dir))
        for p in data_dir.rglob("*")
        if p.is_file() and needle in p.read_bytes().lower()
    )


def _everything_with_canary(stores: Stores) -> dict[str, object]:
    k = stores.knowledge
    chunks = k.vectors.get(sorted(k.vectors.ids()))
    data_dir = stores.settings.data_dir
    return {
        "chroma": [c.chunk_id for c in chunks if "kanarienvog" in json.dumps(c.__dict__).lower()],
        "fts": [h.chunk.chunk_id for h in k.lexical.search(CANARY, 50)],
        "sqlite": {
            p.name: _rows_containing(p, "kanarienvog")
            for p in sorted(data_dir.rglob("*.sqlite3"))
            if _rows_containing(p, "kanarienvog")
        },
        "files": _files_containing(data_dir, NEEDLE),
    }


def test_erase_by_match_leaves_no_trace(stores: Stores, folder: Path) -> None:
    stores.chat("anna", f"Mein Schlüssel {CANARY} geht nicht, was tun?", "Ticket öffnen.", "a1")
    stores.chat("bob", "How do I claim travel expenses?", "Use the travel tool.", "b1")
    planted = _everything_with_canary(stores)
    assert planted["chroma"] and planted["fts"]  # the canary really was everywhere
    in_sqlite = planted["sqlite"]
    assert isinstance(in_sqlite, dict)
    assert set(in_sqlite) >= {
        "lexical.sqlite3",
        "manifest.sqlite3",
        "conversations.sqlite3",
        "audit.sqlite3",
        "chroma.sqlite3",
        "tickets.sqlite3",
    }

    preview = stores.eraser.erase_matching(CANARY, ADMIN, dry_run=True)
    assert _everything_with_canary(stores) == planted
    report = stores.eraser.erase_matching(CANARY, ADMIN)

    expected = [("tickets", "T-1"), ("wiki", "it/vpn.md")]
    assert [(d.source, d.source_id) for d in preview.documents] == expected
    assert [(d.source, d.source_id) for d in report.documents] == expected
    assert (report.conversation_texts, report.audit_texts, report.tickets) == (1, 1, 2)
    assert _everything_with_canary(stores) == {"chroma": [], "fts": [], "sqlite": {}, "files": []}
    # everything else is still there and searchable
    k = stores.knowledge
    assert k.vectors.count() == k.lexical.count() == 3
    assert [h.chunk.source_id for h in k.lexical.search("Voucher Gäste", 3)] == ["it/wlan.md"]
    assert [t.text for t in stores.conversations.turns(stores.chat("c", "x?", "y", "c1"))] == [
        "x?",
        "y",
    ]
    record = stores.audit.records(event="erasure")[-1]
    assert record.details["source_ids"] == ["tickets/T-1", "wiki/it/vpn.md"]
    assert stores.audit.verify().ok

    # neither a re-ingest nor a ticket re-sync brings the documents back
    again = k.indexer.ingest(folder, source="wiki")
    resync = k.indexer.sync_documents("tickets", TICKETS)
    assert (again.new, again.unchanged) == (0, 2)
    assert again.skipped == [("it/vpn.md", "erased earlier (tombstoned)")]
    assert (resync.new, resync.unchanged) == (0, 1)
    assert resync.skipped == [("T-1", "erased earlier (tombstoned)")]
    assert k.lexical.search(CANARY, 5) == []
    assert stores.eraser.matching_chunks(CANARY) == []


def test_erase_by_user_keeps_other_users(stores: Stores) -> None:
    anna = stores.chat("anna", "Wie beantrage ich Urlaub für Erika?", "Im HR-Portal.", "a1")
    bob = stores.chat("bob", "How do I book a train?", "Use the travel tool.", "b1")
    stores.conversations.add_feedback("a1", "down", "Erika ist meine Chefin")
    keys = KeyStore(stores.settings.data_dir)
    annas, anna_secret = keys.create("anna", "employee")
    bobs, bob_secret = keys.create("bob", "agent")
    _plant_in_hnsw_capacity(stores.settings.data_dir / "chroma", b"Urlaub fuer Erika")

    report = stores.eraser.erase_user("anna", ADMIN)

    assert (report.conversations, report.audit_texts, report.api_keys) == (1, 1, 1)
    assert keys.verify(anna_secret) is None
    assert keys.verify(bob_secret) == bobs
    assert annas.user_id == "anna"
    assert [t.text for t in stores.conversations.turns(bob)] == [
        "How do I book a train?",
        "Use the travel tool.",
    ]
    assert stores.conversations.erase_matching("Erika", dry_run=True) == 0
    data_dir = stores.settings.data_dir
    assert _files_containing(data_dir, b"erika") == []
    assert _files_containing(data_dir, b"how do i book a train")  # bob's data stays
    seqs = [r.seq for r in stores.audit.records(event="answer")]
    texts = [stores.audit.text(s) for s in seqs]
    assert [t.question if t else None for t in texts] == [None, "How do I book a train?"]
    assert stores.audit.verify().ok
    with pytest.raises(NotFound):
        stores.conversations.get(anna)


def test_cli_erase_is_refused_while_the_stores_are_owned_then_works(
    tmp_path: Path, folder: Path
) -> None:
    data_dir = tmp_path / "data"
    env = {
        "LOTSE_DATA_DIR": str(data_dir),
        "LOTSE_MODELS__LLM_BACKEND": "fake",
        "LOTSE_MODELS__EMBEDDER": "fake",
        "LOTSE_MODELS__CACHE_DIR": str(tmp_path / "models"),
        "LOTSE_LOG_LEVEL": "WARNING",
    }
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(folder), "--source", "wiki"], env=env).exit_code == 0

    owner = open_knowledge(_settings(data_dir), purpose="lotse serve")
    try:
        refused = runner.invoke(app, ["erase", "--match", CANARY], env=env)
    finally:
        owner.close()
    assert refused.exit_code == 1
    assert "lotse serve" in refused.stderr
    assert "POST /v1/admin/erase" in refused.stderr

    usage = runner.invoke(app, ["erase", "--match", CANARY, "--user", "x"], env=env)
    assert usage.exit_code == 1
    preview = runner.invoke(app, ["erase", "--match", CANARY, "--dry-run", "--json"], env=env)
    assert preview.exit_code == 0, preview.output
    assert [d["source_id"] for d in json.loads(preview.stdout)["documents"]] == ["it/vpn.md"]

    done = runner.invoke(app, ["erase", "--match", CANARY], env=env)
    assert done.exit_code == 0, done.output
    assert "erased wiki/it/vpn.md" in done.stdout
    assert _files_containing(data_dir, NEEDLE) == []
    verified = runner.invoke(app, ["audit", "verify", "--json"], env=env)
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["ok"] is True

    whole = runner.invoke(app, ["erase", "--source", "wiki"], env=env)
    assert whole.exit_code == 0, whole.output
    assert "erased: 2 documents" in whole.stdout
    again = runner.invoke(app, ["ingest", str(folder), "--source", "wiki", "--json"], env=env)
    assert json.loads(again.stdout)["new"] == 0


def _hnsw_dir(chroma_dir: Path) -> Path:
    (header,) = chroma_dir.glob("*/header.bin")
    return header.parent


def _hnsw_header(hnsw: Path) -> tuple[int, int, int, int]:
    """version, capacity, vector count and bytes per vector slot of a persisted HNSW index."""
    version, _, capacity, count, per_element = struct.unpack(
        "=iQQQQ", (hnsw / "header.bin").read_bytes()[:36]
    )
    return version, capacity, count, per_element


def _plant_in_hnsw_capacity(chroma_dir: Path, text: bytes) -> None:
    """Put ``text`` where uninitialised memory of a new HNSW index may leave it: past the
    vectors counted in its header."""
    hnsw = _hnsw_dir(chroma_dir)
    _, _, count, per_element = _hnsw_header(hnsw)
    with (hnsw / "data_level0.bin").open("r+b") as f:
        f.seek(count * per_element + 5)
        f.write(text)


def _write_index(
    chroma_dir: Path, n: int, words: str, *, seed: int
) -> tuple[list[Chunk], np.ndarray]:
    """``n`` German and English chunks with random unit vectors, written to a new embedded
    index 100 at a time (as an ingestion writes, document by document), which is closed."""
    chunks = [
        Chunk(
            chunk_id=f"c{i:04d}",
            text=f"Absatz {i}: {words} {i}",
            source_id=f"docs/{i}.md",
            title=f"Seite {i}",
            heading=f"Seite {i}",
            position=i,
            acl=("everyone",),
            language="de" if i % 2 else "en",
            content_hash=f"h{i}",
            source="wiki",
        )
        for i in range(n)
    ]
    vectors = np.random.default_rng(seed).normal(size=(n, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = ChromaVectorStore.persistent(chroma_dir)
    for start in range(0, n, 100):
        store.upsert(chunks[start : start + 100], vectors[start : start + 100])
    store.close()
    return chunks, vectors


@pytest.mark.parametrize("n", [150, 1100])
def test_erasure_zeroes_text_left_in_the_vector_index_capacity(tmp_path: Path, n: int) -> None:
    """Chroma writes a new HNSW index's whole capacity from uninitialised memory, so the slots
    without a vector may hold freed text (seen in CI: the canary's sentence in
    ``data_level0.bin``). The purge zeroes them and leaves the vectors in use alone. With 150
    chunks the header still counts 0 vectors (Chroma writes it every 1,000), with 1,100 it
    counts 1,000."""
    chroma_dir = tmp_path / "chroma"
    # past Chroma's brute-force buffer of 100, so HNSW holds vectors
    chunks, vectors = _write_index(chroma_dir, n, "Drucker und VPN / printer and VPN", seed=7)

    hnsw = _hnsw_dir(chroma_dir)
    version, capacity, count, per_element = _hnsw_header(hnsw)
    assert version == 1 and count < n and count <= capacity
    level0 = hnsw / "data_level0.bin"
    used = level0.read_bytes()[: count * per_element]
    # what malloc left behind, in German and English
    planted = f"Der Schlüssel lautet {CANARY}. The key is {CANARY}.".encode()

    probes = range(1, n, 7)

    def nearest(opened: ChromaVectorStore) -> list[str]:
        return [opened.query(vectors[i], k=1)[0].chunk.chunk_id for i in probes]

    store = ChromaVectorStore.persistent(chroma_dir)
    try:
        # planted while the index is open, as the running process's own heap would be
        _plant_in_hnsw_capacity(chroma_dir, planted)
        with (hnsw / "length.bin").open("r+b") as f:
            f.seek(count * 4)
            f.write(planted[:16])
        store.delete(["c0000"])
        before = nearest(store)
        store.purge_erased(["c0000"])
        assert _files_containing(chroma_dir, NEEDLE) == []  # the erasure did it, not the close
        after = nearest(store)
    finally:
        store.close()

    assert _files_containing(chroma_dir, NEEDLE) == []
    assert level0.read_bytes()[: count * per_element][per_element:] == used[per_element:]
    assert after == before == [chunks[i].chunk_id for i in probes]
    assert scrub_hnsw_capacity(chroma_dir) == 0  # nothing left to zero
    reopened = ChromaVectorStore.persistent(chroma_dir)
    try:
        assert reopened.count() == n - 1
        kept = reopened.get([c.chunk_id for c in chunks])
        assert [c.text for c in kept] == [c.text for c in chunks[1:]]
        assert nearest(reopened) == before
    finally:
        reopened.close()


def test_opening_and_closing_the_index_zero_text_left_in_its_capacity(tmp_path: Path) -> None:
    """An index Chroma creates or grows after an erasure writes the process's heap into its
    capacity again; what is there is zeroed when the index is opened (left by a process that
    was killed) and when it is closed, and the vectors keep finding their chunks."""
    chroma_dir = tmp_path / "chroma"
    n = 1100
    chunks, vectors = _write_index(
        chroma_dir, n, "Urlaub und Reisekosten / vacation and travel", seed=11
    )
    probes = range(0, n, 9)
    expected = [chunks[i].chunk_id for i in probes]

    _plant_in_hnsw_capacity(chroma_dir, f"Der Schlüssel lautet {CANARY}.".encode())
    assert _files_containing(chroma_dir, NEEDLE)  # the plant is there while nothing is open
    store = ChromaVectorStore.persistent(chroma_dir)
    try:
        assert _files_containing(chroma_dir, NEEDLE) == []  # zeroed on opening
        _plant_in_hnsw_capacity(chroma_dir, f"The key is {CANARY}.".encode())
        assert [store.query(vectors[i], k=1)[0].chunk.chunk_id for i in probes] == expected
    finally:
        store.close()
    assert _files_containing(chroma_dir, NEEDLE) == []  # zeroed on closing
    reopened = ChromaVectorStore.persistent(chroma_dir)
    try:
        assert reopened.count() == n
        assert [reopened.query(vectors[i], k=1)[0].chunk.chunk_id for i in probes] == expected
    finally:
        reopened.close()
