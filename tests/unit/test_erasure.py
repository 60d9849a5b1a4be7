"""Erasure with the in-memory fakes: what goes, what stays, tombstones, dry runs, the audit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.wiring import build_services
from assistant.audit import AuditEvent, InMemoryAuditLog, sha256_text
from assistant.conversations import InMemoryConversationStore, SqliteConversationStore, Turn
from assistant.erasure import Eraser
from assistant.identity import OPERATOR, Caller
from knowledge.documents import Document, sha256_bytes
from knowledge.indexer import Indexer, InProcessLoader
from knowledge.lexical import InMemoryLexicalIndex
from knowledge.manifest import Manifest
from knowledge.vectorstore import InMemoryVectorStore
from models.embedder import FakeEmbedder
from models.errors import InvalidInput, NotFound
from models.llm import FakeLLM

CANARY = "KANARIENVOGEL-7f3a"

DOCS = {
    "it/vpn.md": (
        "de",
        "# VPN\n\n## Zugang\n\nDer VPN-Zugang von Frau Erika Beispiel lautet "
        f"{CANARY}. Bitte nicht weitergeben.",
    ),
    "it/printer.md": ("en", f"# Printer\n\nThe printer PIN of John Example is {CANARY.lower()}."),
    "it/wlan.md": ("de", "# WLAN\n\nGäste erhalten einen Voucher am Empfang."),
    "hr/travel.md": ("en", "# Travel\n\nThe per diem for a full day in Germany is 28 euros."),
}


def _doc(source_id: str, lang: str, text: str, source: str = "kb") -> Document:
    return Document(
        source_id=source_id,
        title=source_id.rsplit("/", 1)[-1],
        text=text,
        format="markdown",
        language=lang,
        content_hash=sha256_bytes(text.encode()),
        source=source,
    )


class FakeKeys:
    def __init__(self) -> None:
        self.deleted: list[str] = []

    def delete_user(self, user_id: str) -> int:
        self.deleted.append(user_id)
        return 2


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.vectors = InMemoryVectorStore()
        self.lexical = InMemoryLexicalIndex()
        self.manifest = Manifest(tmp_path / "manifest.sqlite3")
        self.indexer = Indexer(
            embedder=FakeEmbedder(),
            vectors=self.vectors,
            lexical=self.lexical,
            manifest=self.manifest,
            loader=InProcessLoader(),
        )
        self.conversations = InMemoryConversationStore()
        self.audit = InMemoryAuditLog()
        self.keys = FakeKeys()
        self.eraser = Eraser(
            indexer=self.indexer,
            manifest=self.manifest,
            conversations=self.conversations,
            audit=self.audit,
            keys=self.keys,
        )
        self.indexer.sync_documents("kb", [_doc(s, lang, text) for s, (lang, text) in DOCS.items()])

    def chat(self, user: str, question: str, answer: str, answer_id: str) -> str:
        conversation = self.conversations.create(user)
        self.conversations.append(
            conversation.conversation_id,
            [Turn("user", question), Turn("assistant", answer, answer_id=answer_id)],
        )
        self.audit.append(
            AuditEvent(
                event="answer", user_id=user, role="employee", question=question, answer=answer
            )
        )
        return conversation.conversation_id

    def texts(self) -> list[str]:
        """Every text still held anywhere: chunks (both indexes), turns, audit texts."""
        chunks = self.lexical.get(sorted(self.lexical.ids())) + self.vectors.get(
            sorted(self.vectors.ids())
        )
        out = [c.text for c in chunks] + [e.title for e in self.manifest.entries()]
        for record in self.audit.records():
            stored = self.audit.text(record.seq)
            if stored is not None:
                out += [stored.question or "", stored.answer or ""]
            out.append(json.dumps(record.as_dict()))
        return out


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.manifest.close()


ADMIN = Caller("admin-1", "admin")


def test_erase_by_match_removes_documents_turns_and_audit_texts_de_en(world: World) -> None:
    anna = world.chat("anna", f"Wie lautet der Code {CANARY}?", "Das weiß ich nicht.", "a1")
    bob = world.chat("bob", "How do I print?", f"Use the PIN {CANARY.lower()}.", "b1")
    clean = world.chat("carl", "Wie bekomme ich WLAN?", "Am Empfang gibt es einen Voucher.", "c1")

    report = world.eraser.erase_matching(CANARY.lower(), ADMIN)

    assert [(d.source, d.source_id) for d in report.documents] == [
        ("kb", "it/printer.md"),
        ("kb", "it/vpn.md"),
    ]
    assert report.chunks == 2
    assert report.conversation_texts == 2  # anna's question, bob's answer
    assert report.audit_texts == 2
    assert report.match_sha256 == sha256_text(CANARY.casefold())
    assert not any(CANARY.casefold() in t.casefold() for t in world.texts())
    assert sorted(e.source_id for e in world.manifest.entries()) == ["hr/travel.md", "it/wlan.md"]
    assert len(world.lexical.ids()) == len(world.vectors.ids()) == 2
    # the rest of each conversation stays
    assert [t.text for t in world.conversations.turns(anna)] == ["Das weiß ich nicht."]
    assert [t.text for t in world.conversations.turns(bob)] == ["How do I print?"]
    assert len(world.conversations.turns(clean)) == 2
    # audited: counts and a digest, never the content; the chain still verifies
    record = world.audit.records(event="erasure")[-1]
    assert record.seq == report.audit_seq
    assert record.actor == world.audit.pseudonym("admin-1")
    assert record.details["documents"] == 2
    assert record.details["source_ids"] == ["kb/it/printer.md", "kb/it/vpn.md"]
    assert record.details["match_sha256"] == report.match_sha256
    assert world.audit.text(record.seq) is None
    assert world.audit.verify().ok


def test_tombstones_keep_erased_documents_out_of_later_syncs(world: World) -> None:
    world.eraser.erase_matching(CANARY, ADMIN)
    again = [_doc(s, lang, text) for s, (lang, text) in DOCS.items()]
    edited = _doc("it/vpn.md", "de", f"# VPN\n\nNeu: {CANARY} gilt weiter.")
    copied = _doc("archive/printer-copy.md", "en", DOCS["it/printer.md"][1], source="archive")

    summary = world.indexer.sync_documents("kb", [*again[1:], edited])
    copy_summary = world.indexer.sync_documents("archive", [copied])

    assert (summary.new, summary.changed, summary.unchanged) == (0, 0, 2)
    assert sorted(s for s, _ in summary.skipped) == ["it/printer.md", "it/vpn.md"]
    assert copy_summary.skipped == [("archive/printer-copy.md", "erased earlier (tombstoned)")]
    assert world.eraser.matching_chunks(CANARY) == []


def test_tombstones_hold_for_folder_ingest(tmp_path: Path, world: World) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "geheim.md").write_text(f"# Geheim\n\nPasswort {CANARY}\n", encoding="utf-8")
    (folder / "open.md").write_text("# Open\n\nThe canteen opens at noon.\n", encoding="utf-8")
    assert world.indexer.ingest(folder, source="files").new == 2

    report = world.eraser.erase_documents("files", "geheim.md", ADMIN)
    summary = world.indexer.ingest(folder, source="files")

    assert [d.source_id for d in report.documents] == ["geheim.md"]
    assert summary.new == 0 and summary.unchanged == 1
    assert summary.skipped == [("geheim.md", "erased earlier (tombstoned)")]
    assert world.manifest.get("files", "geheim.md") is None


def test_dry_run_changes_nothing(world: World) -> None:
    world.chat("anna", f"Code {CANARY}?", "Nein.", "a1")
    before = sorted(world.texts())

    report = world.eraser.erase_matching(CANARY, ADMIN, dry_run=True)

    assert report.dry_run and report.audit_seq is None
    assert [d.source_id for d in report.documents] == ["it/printer.md", "it/vpn.md"]
    assert (report.conversation_texts, report.audit_texts) == (1, 1)
    assert sorted(world.texts()) == before
    assert world.audit.records(event="erasure") == []
    assert not world.manifest.is_tombstoned("kb", "it/vpn.md", "x")


def test_match_finds_parts_of_words_and_is_case_insensitive(world: World) -> None:
    chunks = world.eraser.matching_chunks("ARIENVOGEL-7F")
    assert sorted(c.source_id for c in chunks) == ["it/printer.md", "it/vpn.md"]
    umlaut = world.eraser.matching_chunks("GÄSTE")
    assert [c.source_id for c in umlaut] == ["it/wlan.md"]


def test_erase_by_user_removes_only_that_users_data(world: World) -> None:
    anna = world.chat("anna", "Wie beantrage ich Urlaub?", "Im HR-Portal.", "a1")
    bob = world.chat("bob", "How do I book travel?", "Use the travel tool.", "b1")
    world.conversations.add_feedback("a1", "down", "Meine Chefin heißt Frau Beispiel")

    report = world.eraser.erase_user("anna", ADMIN)

    assert (report.conversations, report.audit_texts, report.api_keys) == (1, 1, 2)
    assert world.keys.deleted == ["anna"]
    with pytest.raises(NotFound):
        world.conversations.get(anna)
    assert len(world.conversations.turns(bob)) == 2
    texts = world.texts()
    assert "Wie beantrage ich Urlaub?" not in texts
    assert "How do I book travel?" in texts
    record = world.audit.records(event="erasure")[-1]
    assert record.details["user"] == world.audit.pseudonym("anna")
    assert "anna" not in json.dumps(record.as_dict())
    assert world.audit.verify().ok
    assert len(world.manifest.entries()) == 4  # documents untouched


def test_erase_a_whole_source_and_errors(world: World) -> None:
    report = world.eraser.erase_documents("kb", None, OPERATOR)
    assert len(report.documents) == 4
    assert world.vectors.count() == world.lexical.count() == 0
    with pytest.raises(NotFound):
        world.eraser.erase_documents("kb", None, OPERATOR)
    with pytest.raises(NotFound):
        world.eraser.erase_documents("kb", "nope.md", OPERATOR)
    with pytest.raises(InvalidInput):
        world.eraser.erase_matching(" a ", OPERATOR)
    with pytest.raises(InvalidInput):
        world.eraser.erase_user("  ", OPERATOR)


def test_source_ids_containing_the_match_are_audited_as_digests(world: World) -> None:
    world.indexer.sync_documents(
        "hr", [_doc("people/erika-beispiel.md", "de", "# Akte\n\nPersonalakte.", source="hr")]
    )
    world.eraser.erase_matching("Erika Beispiel", ADMIN)
    world.eraser.erase_matching("erika-beispiel", ADMIN)

    first, second = world.audit.records(event="erasure")
    assert first.details["source_ids"] == ["kb/it/vpn.md"]
    assert second.details["source_ids"] == ["hr/sha256:" + sha256_text("people/erika-beispiel.md")]
    assert "erika" not in json.dumps([first.as_dict(), second.as_dict()]).casefold()


def test_admin_route_erases_and_dry_runs(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        models={"llm_backend": "fake", "embedder": "fake"},  # type: ignore[arg-type]
        knowledge={"store": "memory"},  # type: ignore[arg-type]
    )
    services = build_services(settings, llm=FakeLLM())
    services.knowledge.indexer.sync_documents(
        "kb", [_doc(s, lang, text) for s, (lang, text) in DOCS.items()]
    )
    try:
        with TestClient(create_app(services=services)) as client:
            preview = client.post("/v1/admin/erase", json={"match": CANARY, "dry_run": True})
            assert preview.status_code == 200, preview.text
            assert preview.json()["dry_run"] is True
            assert preview.json()["chunks"] == 2
            assert services.knowledge.lexical.count() == 4

            done = client.post("/v1/admin/erase", json={"match": CANARY})
            assert done.status_code == 200, done.text
            body = done.json()
            assert [d["source_id"] for d in body["documents"]] == ["it/printer.md", "it/vpn.md"]
            assert isinstance(body["audit_seq"], int)
            assert services.knowledge.lexical.count() == 2

            one = client.post("/v1/admin/erase", json={"source": "kb", "document": "it/wlan.md"})
            assert one.status_code == 200, one.text
            assert one.json()["kind"] == "source"

            user = client.post("/v1/admin/erase", json={"user": "anna"})
            assert user.status_code == 200, user.text
            assert user.json()["conversations"] == 0

            assert client.post("/v1/admin/erase", json={}).status_code == 422
            both = client.post("/v1/admin/erase", json={"user": "a", "match": "abc"})
            assert both.status_code == 422
            lone = client.post("/v1/admin/erase", json={"document": "x.md", "user": "a"})
            assert lone.status_code == 422
            missing = client.post("/v1/admin/erase", json={"source": "nope"})
            assert missing.status_code == 404
    finally:
        services.close()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_conversation_stores_erase_matching_turns_sources_and_comments(
    kind: str, tmp_path: Path
) -> None:
    store = (
        InMemoryConversationStore()
        if kind == "memory"
        else SqliteConversationStore(tmp_path / "conversations.sqlite3")
    )
    try:
        cid = store.create("anna").conversation_id
        store.append(
            cid,
            [
                Turn("user", "Wie verbinde ich mich mit dem VPN?"),
                Turn(
                    "assistant",
                    "Mit AnyConnect [1].",
                    answer_id="a1",
                    sources=({"title": f"Zugang für {CANARY}", "source_id": "it/vpn.md"},),
                ),
                Turn("user", "And the printer?"),
                Turn("assistant", "Ask the front desk.", answer_id="a2"),
            ],
        )
        store.add_feedback("a2", "down", f"Mein Code ist {CANARY.lower()}")
        store.add_feedback("a1", "up", "Danke, das Gäste-WLAN klappt")

        assert store.erase_matching(CANARY, dry_run=True) == 2
        assert len(store.turns(cid)) == 4
        assert store.erase_matching(CANARY.upper()) == 2
        assert [t.text for t in store.turns(cid)] == [
            "Wie verbinde ich mich mit dem VPN?",
            "And the printer?",
            "Ask the front desk.",
        ]
        assert store.erase_matching("GÄSTE-wlan") == 1  # the other comment, umlaut folded
        assert store.erase_matching(CANARY) == 0
    finally:
        store.close()


def test_audit_forget_matching_keeps_the_chain() -> None:
    log = InMemoryAuditLog()
    for user, question in [("anna", f"Code {CANARY}?"), ("bob", "Wo ist die Kantine?")]:
        log.append(AuditEvent(event="answer", user_id=user, role="employee", question=question))
    assert log.forget_matching(CANARY.lower(), dry_run=True) == 1
    assert log.text(1) is not None
    assert log.forget_matching(CANARY.lower()) == 1
    assert log.text(1) is None
    kept = log.text(2)
    assert kept is not None and kept.question == "Wo ist die Kantine?"
    assert log.verify().ok
