"""A stored suggestion is shown only to callers who may read what it was built from.

``GET /v1/tickets/{id}`` returns the ticket's latest suggestion. Its draft and sources come from
the knowledge articles *its requester* may read, so showing one agent's suggestion to another
agent would hand over passages of groups that agent is not in (found by the ACL-at-scale test,
tests/e2e/test_acl_at_scale.py). Each agent sees their own suggestions and those the ticket
webhook made (the webhook reads public knowledge only).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import KeyStore
from api.routes.tickets import WEBHOOK_CALLER
from api.wiring import Services
from assistant.ticket_store import StoredTicket
from knowledge.tickets import Message, Ticket, ticket_documents
from models.llm import FakeLLM
from tests.api.conftest import agent_keys, bearer, fake_services, keys_settings, sample_documents

SALARY = "Das Entgeltband E9 liegt zwischen 4.850 und 6.200 Euro brutto, geheim."
DOCS = {
    "hr/entgelt.md": ("Entgeltbänder", "de", f"# Entgeltbänder\n\n## Band E9\n\n{SALARY}"),
    "it/vpn.md": (
        "VPN",
        "de",
        "# VPN\n\n## Verbindung\n\nStarten Sie Cisco AnyConnect und verbinden Sie sich.",
    ),
}
SOLVED = Ticket(
    id="T-1",
    subject="Frage zum Entgeltband",
    thread=(
        Message("Jens Meyer", "Wie hoch ist mein Entgeltband E9?"),
        Message("HR", "Das Entgeltband E9 steht im Personalportal.", "agent"),
    ),
    resolution="Das Entgeltband E9 steht im Personalportal.",
    status="closed",
    queue="HR",
    priority="normal",
    type="question",
    language="de",
    created=datetime(2024, 3, 1, 9, 0),
    closed=datetime(2024, 3, 1, 11, 0),
)


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[TestClient, Services, FakeLLM, dict[str, str]]]:
    settings = keys_settings(tmp_path)
    llm = FakeLLM()
    services = fake_services(tmp_path, llm, settings)
    docs = [
        replace(d, acl=("hr",)) if d.source_id.startswith("hr/") else d
        for d in sample_documents(DOCS)
    ]
    services.knowledge.indexer.sync_documents("sample", docs)
    tickets = ticket_documents([SOLVED], source="tickets", acl=("everyone",))
    services.knowledge.indexer.sync_documents("tickets-full", tickets.agents)
    services.tickets.upsert(
        [
            StoredTicket.from_ticket(SOLVED, origin="import"),
            StoredTicket("T-2", "Entgeltband E9 unklar", "Wie hoch ist das Entgeltband E9?"),
        ]
    )
    keys = agent_keys(settings, {"agent-hr": ("hr",), "agent-it": ("it",)})
    keys["admin"] = KeyStore(settings.data_dir).create("admin", "admin", ())[1]
    try:
        with TestClient(create_app(services=services)) as client:
            yield client, services, llm, keys
    finally:
        services.close()


def test_another_agents_suggestion_is_not_shown(
    secured: tuple[TestClient, Services, FakeLLM, dict[str, str]],
) -> None:
    client, _, llm, keys = secured
    llm.queue(f"Hallo, {SALARY}")
    made = client.post(
        "/v1/tickets/suggest", json={"ticket_id": "T-2"}, headers=bearer(keys["agent-hr"])
    )
    assert made.status_code == 201, made.text
    assert SALARY in made.json()["draft"], "the hr agent's draft is built from the hr article"
    assert "hr/entgelt.md" in [s["source_id"] for s in made.json()["sources"]]

    own = client.get("/v1/tickets/T-2", headers=bearer(keys["agent-hr"])).json()
    assert own["suggestion"]["suggestion_id"] == made.json()["suggestion_id"]

    other = client.get("/v1/tickets/T-2", headers=bearer(keys["agent-it"]))
    assert other.status_code == 200, other.text
    assert other.json()["ticket"]["ticket_id"] == "T-2"
    assert other.json()["suggestion"] is None
    assert "Entgeltband E9 liegt" not in other.text and "hr/entgelt.md" not in other.text
    # the list still says that a suggestion exists (no text): the agent may ask for their own
    listed = client.get("/v1/tickets", headers=bearer(keys["agent-it"])).json()["tickets"]
    assert {t["ticket_id"]: t["has_suggestion"] for t in listed}["T-2"] is True

    llm.queue("Hallo, starten Sie Cisco AnyConnect und verbinden Sie sich.")
    mine = client.post(
        "/v1/tickets/suggest", json={"ticket_id": "T-2"}, headers=bearer(keys["agent-it"])
    )
    assert mine.status_code == 201, mine.text
    again = client.get("/v1/tickets/T-2", headers=bearer(keys["agent-it"])).json()
    assert again["suggestion"]["suggestion_id"] == mine.json()["suggestion_id"]


def test_the_webhooks_suggestion_is_shown_to_every_agent(
    secured: tuple[TestClient, Services, FakeLLM, dict[str, str]],
) -> None:
    client, services, llm, keys = secured
    llm.queue("Hallo, starten Sie Cisco AnyConnect und verbinden Sie sich.")
    suggestion = services.ticket_assist.suggest(
        "VPN", "AnyConnect verbindet nicht", WEBHOOK_CALLER, ticket_id="T-2"
    )
    stored = services.tickets.add_suggestion("T-2", WEBHOOK_CALLER.user_id, suggestion.as_dict())
    for name in ("agent-hr", "agent-it", "admin"):
        detail = client.get("/v1/tickets/T-2", headers=bearer(keys[name])).json()
        assert detail["suggestion"]["suggestion_id"] == stored.suggestion_id, name
