"""A ticket export imported for a group (``lotse tickets import --acl hr``) stays with the
agents of that group: its full records carry ``agents+hr`` (``knowledge.tickets.agent_acl``),
and an agent outside hr gets none of it — not in the ticket list, not as a ticket, not as a
similar ticket, not in a draft — while an hr agent gets all of it. German and English."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.wiring import Services
from assistant.identity import Caller
from assistant.ticket_store import StoredTicket, TicketStore
from knowledge.tickets import agent_acl, agent_groups, ticket_documents
from models.llm import FakeLLM
from tests.api.conftest import agent_keys, bearer, fake_services, keys_settings
from tests.tickets import resolved_ticket

HR_DE = resolved_ticket(
    "HR-1",
    "Abmahnung Personalakte Kühne",
    "Die Abmahnung von Frau Kühne fehlt in der Personalakte.",
    "Die Abmahnung liegt im Personalordner K-17 und wurde nachgetragen.",
    "de",
)
HR_EN = resolved_ticket(
    "HR-2",
    "Severance agreement Kühne",
    "The severance agreement for Ms Kühne needs the payroll code.",
    "The payroll code for the severance agreement is PX-4471.",
    "en",
)
IT_DE = resolved_ticket(
    "IT-1",
    "Drucker druckt nicht",
    "Der Drucker im 2. Stock druckt nicht.",
    "Druckerwarteschlange geleert, Drucker neu gestartet.",
    "de",
)


def test_the_agent_acl_of_an_export_follows_its_groups() -> None:
    assert agent_acl(("everyone",)) == ("agents",)
    assert agent_acl(()) == ("agents",)
    assert agent_acl(("hr",)) == ("agents+hr",)
    assert agent_acl(("hr", "legal", "agents")) == ("agents+hr", "agents+legal")
    assert agent_acl(("hr", "everyone")) == ("agents",)  # open to everyone: to all agents
    assert agent_groups(("hr", "everyone", "agents")) == ("agents", "agents+hr")
    # a combined group among the caller's own groups counts for nothing
    assert agent_groups(("agents+hr",)) == ("agents",)
    assert Caller("x", "agent", ("agents+hr", "it")).acl_groups == ("everyone", "it")
    docs = ticket_documents([HR_DE, IT_DE], source="hr-tickets", acl=("hr",))
    assert {d.acl for d in docs.agents} == {("agents+hr",)}
    assert {d.acl for d in docs.knowledge} == {("hr",)}


def test_a_ticket_store_from_before_gets_the_acl_column(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "tickets.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE tickets (ticket_id TEXT PRIMARY KEY, subject TEXT NOT NULL, "
            "body TEXT NOT NULL, resolution TEXT NOT NULL DEFAULT '', status TEXT NOT NULL "
            "DEFAULT 'open', queue TEXT NOT NULL DEFAULT '', priority TEXT NOT NULL DEFAULT '', "
            "type TEXT NOT NULL DEFAULT '', language TEXT NOT NULL DEFAULT 'und', created REAL, "
            "origin TEXT NOT NULL, source TEXT NOT NULL DEFAULT '', updated REAL NOT NULL)"
        )
        db.execute(
            "INSERT INTO tickets (ticket_id, subject, body, origin, updated) "
            "VALUES ('OLD-1', 'VPN', 'geht nicht', 'import', 1)"
        )
    store = TicketStore(path)
    try:
        assert store.get("OLD-1").acl == ("agents",)
        store.upsert([StoredTicket.from_ticket(HR_EN, origin="import", acl=("hr",))])
        assert store.get("HR-2").acl == ("agents+hr",)
        assert [t.ticket_id for t in store.recent(groups=("agents",))] == ["OLD-1"]
        assert {t.ticket_id for t in store.recent(groups=("agents", "agents+hr"))} == {
            "OLD-1",
            "HR-2",
        }
        assert len(store.recent(groups=None)) == 2
    finally:
        store.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[TestClient, Services, FakeLLM, dict[str, str]]]:
    settings = keys_settings(tmp_path)
    llm = FakeLLM()
    services = fake_services(tmp_path, llm, settings)
    for source, tickets, acl in (
        ("hr-tickets", [HR_DE, HR_EN], ("hr",)),
        ("tickets", [IT_DE], ("everyone",)),
    ):
        docs = ticket_documents(tickets, source=source, acl=acl)
        services.knowledge.indexer.sync_documents(source + "-full", docs.agents)
        services.tickets.upsert(
            [StoredTicket.from_ticket(t, origin="import", source=source, acl=acl) for t in tickets]
        )
    keys = agent_keys(settings, {"agent-hr": ("hr",), "agent-it": ("it",)})
    try:
        with TestClient(create_app(services=services)) as client:
            yield client, services, llm, keys
    finally:
        services.close()


def test_the_ticket_list_and_a_ticket_stay_with_the_group(
    world: tuple[TestClient, Services, FakeLLM, dict[str, str]],
) -> None:
    client, _, _, keys = world
    it, hr = bearer(keys["agent-it"]), bearer(keys["agent-hr"])
    listed = {t["ticket_id"] for t in client.get("/v1/tickets", headers=it).json()["tickets"]}
    assert listed == {"IT-1"}
    searched = client.get("/v1/tickets", params={"q": "Kühne"}, headers=it).json()["tickets"]
    assert searched == []
    for tid in ("HR-1", "HR-2"):
        hidden = client.get(f"/v1/tickets/{tid}", headers=it)
        assert hidden.status_code == 404, hidden.text
        assert "Kühne" not in hidden.text
        refused = client.post("/v1/tickets/suggest", json={"ticket_id": tid}, headers=it)
        assert refused.status_code == 404, refused.text
    listed = {t["ticket_id"] for t in client.get("/v1/tickets", headers=hr).json()["tickets"]}
    assert listed == {"IT-1", "HR-1", "HR-2"}
    assert client.get("/v1/tickets/HR-1", headers=hr).json()["ticket"]["subject"] == (HR_DE.subject)


@pytest.mark.parametrize(
    ("subject", "body", "secret", "tid"),
    [
        ("Abmahnung Kühne", "Wo liegt die Abmahnung von Frau Kühne?", "K-17", "HR-1"),
        ("Severance Kühne", "Which payroll code for the severance agreement?", "PX-4471", "HR-2"),
    ],
)
def test_similar_tickets_and_drafts_use_the_groups_tickets_only_for_its_agents(
    world: tuple[TestClient, Services, FakeLLM, dict[str, str]],
    subject: str,
    body: str,
    secret: str,
    tid: str,
) -> None:
    client, _, llm, keys = world
    pasted = {"subject": subject, "body": body}
    llm.queue(f"Das steht hier: {secret}")  # an echo of what it was given, at most
    hr = client.post("/v1/tickets/suggest", json=pasted, headers=bearer(keys["agent-hr"]))
    assert hr.status_code == 201, hr.text
    assert tid in [s["ticket_id"] for s in hr.json()["similar"]]
    prompt = "\n".join(m.content for m in llm.prompts[-1])
    assert secret in prompt  # the hr ticket's solution went into the hr agent's draft

    prompts_before = len(llm.prompts)
    it = client.post("/v1/tickets/suggest", json=pasted, headers=bearer(keys["agent-it"]))
    assert it.status_code == 201, it.text
    assert all(s["ticket_id"] not in ("HR-1", "HR-2") for s in it.json()["similar"])
    assert secret not in it.text and "Kühne" not in it.text.replace(subject, "")
    for messages in llm.prompts[prompts_before:]:
        assert secret not in "\n".join(m.content for m in messages)
