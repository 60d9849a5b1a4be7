"""Agent assist over HTTP with fakes: suggestions, similar tickets, triage, decisions, webhook."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.webhook_auth import lotse_signature, zammad_signature
from api.wiring import Services
from assistant.ticket_store import StoredTicket
from knowledge.tickets import Message, Ticket, ticket_documents
from models.llm import FakeLLM
from tests.api.conftest import (
    PrefillLLM,
    fake_services,
    fake_settings,
    post_stopped_by_the_time_limit,
)

SECRET = "s3cret-for-the-webhook-tests"


def _ticket(
    tid: str, subject: str, problem: str, resolution: str, queue: str, priority: str, lang: str
) -> Ticket:
    return Ticket(
        id=tid,
        subject=subject,
        thread=(Message("Jens Meyer", problem), Message("Servicedesk", resolution, "agent")),
        resolution=resolution,
        status="closed",
        queue=queue,
        priority=priority,
        type="incident",
        language=lang,
        created=datetime(2024, 3, 1, 9, 0),
        closed=datetime(2024, 3, 1, 11, 0),
    )


SOLVED = [
    _ticket(
        "T-1",
        "VPN Zertifikat ungültig",
        "AnyConnect meldet Zertifikat ungültig im Homeoffice.",
        "Bitte das VPN Zertifikat im Firmenportal erneuern und AnyConnect neu starten.",
        "IT-Netzwerk",
        "high",
        "de",
    ),
    _ticket(
        "T-2",
        "VPN Zertifikat abgelaufen",
        "AnyConnect sagt Zertifikat abgelaufen, VPN geht nicht.",
        "Das VPN Zertifikat im Firmenportal erneuern, dann AnyConnect neu starten.",
        "IT-Netzwerk",
        "normal",
        "de",
    ),
    _ticket(
        "T-3",
        "Printer jams on floor 2",
        "The printer on floor 2 jams with every print job.",
        "Remove the paper tray, clear the jammed paper and reload the printer tray.",
        "IT-Arbeitsplatz",
        "low",
        "en",
    ),
]


def seed(services: Services, tickets: list[Ticket]) -> None:
    docs = ticket_documents(tickets, source="tickets", acl=("everyone",))
    services.knowledge.indexer.sync_documents("tickets", docs.knowledge)
    services.knowledge.indexer.sync_documents("tickets-full", docs.agents)
    services.tickets.upsert([StoredTicket.from_ticket(t, origin="import") for t in tickets])


@pytest.fixture
def assist(tmp_path: Path) -> Iterator[tuple[TestClient, Services, FakeLLM]]:
    settings = fake_settings(tmp_path).model_copy(
        update={
            "tickets": fake_settings(tmp_path).tickets.model_copy(
                update={"webhook_secret": SecretStr(SECRET), "suggest_on_webhook": True}
            )
        }
    )
    llm = FakeLLM()
    services = fake_services(tmp_path, llm, settings)
    seed(services, SOLVED)
    try:
        with TestClient(create_app(services=services)) as client:
            yield client, services, llm
    finally:
        services.close()


def test_suggest_for_a_pasted_german_ticket(
    assist: tuple[TestClient, Services, FakeLLM],
) -> None:
    client, services, llm = assist
    llm.queue(
        "Hallo, bitte erneuern Sie das VPN Zertifikat im Firmenportal und starten AnyConnect neu."
    )
    r = client.post(
        "/v1/tickets/suggest",
        json={"subject": "VPN Zertifikat", "body": "AnyConnect: Zertifikat ungültig, kein VPN"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["ai_generated"] is True and body["model"] == llm.model_id
    assert body["language"] == "de" and not body["abstained"]
    assert "Firmenportal" in body["draft"]
    similar = [s["ticket_id"] for s in body["similar"]]
    assert similar[:2] == ["T-1", "T-2"] or similar[:2] == ["T-2", "T-1"]
    assert "T-3" not in similar[:2]
    assert body["triage"]["queue"]["value"] == "IT-Netzwerk"
    assert body["triage"]["queue"]["confidence"] > 0.5
    assert body["sources"], "a draft cites what it was built from"
    # another requester's name never reaches the prompt: solutions are redacted
    prompt = llm.prompts[-1][-1].content
    assert "Jens Meyer" not in prompt
    record = [r for r in services.audit.records() if r.event == "suggestion"][-1]
    assert record.request_id == body["suggestion_id"] and record.decision == "answered"


@pytest.mark.parametrize(
    ("subject", "body", "draft"),
    [
        (
            "VPN Zertifikat",
            "AnyConnect: Zertifikat ungültig, kein VPN",
            "Voici la réponse: erneuern Sie das VPN Zertifikat im Firmenportal.",
        ),
        (
            "VPN certificate",
            "AnyConnect says the certificate is invalid, no VPN",
            "Bitte erneuern Sie das VPN Zertifikat im Firmenportal und starten Sie AnyConnect neu.",
        ),
    ],
)
def test_a_draft_in_another_language_is_withdrawn(
    assist: tuple[TestClient, Services, FakeLLM], subject: str, body: str, draft: str
) -> None:
    client, _, llm = assist
    llm.queue(draft)
    r = client.post("/v1/tickets/suggest", json={"subject": subject, "body": body})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["abstained"] and out["draft"] == "", out
    assert out["similar"], "the similar tickets are still shown"


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("VPN Zertifikat", "AnyConnect: Zertifikat ungültig, kein VPN"),
        ("VPN certificate", "AnyConnect says the certificate is invalid, no VPN"),
    ],
)
def test_a_draft_longer_than_the_generation_timeout_is_stopped_and_502(
    tmp_path: Path, subject: str, body: str
) -> None:
    base = fake_settings(tmp_path)
    settings = base.model_copy(
        update={"api": base.api.model_copy(update={"generation_timeout_s": 0.2})}
    )
    reader = PrefillLLM(prefill_s=30.0)
    services = fake_services(tmp_path, reader, settings)
    seed(services, SOLVED)
    try:
        with TestClient(create_app(services=services)) as client:
            post_stopped_by_the_time_limit(
                client,
                "/v1/tickets/suggest",
                {"subject": subject, "body": body},
                reader,
                services,
                0.2,
            )
    finally:
        services.close()


def test_suggest_for_a_stored_english_ticket_and_decide(
    assist: tuple[TestClient, Services, FakeLLM],
) -> None:
    client, services, llm = assist
    services.tickets.upsert(
        [
            StoredTicket(
                "T-9",
                "Printer jams again",
                "The printer jams, paper stuck in the tray.",
                language="en",
            )
        ]
    )
    llm.queue("Hello, please remove the paper tray, clear the jammed paper and reload the tray.")
    r = client.post("/v1/tickets/suggest", json={"ticket_id": "T-9"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["ticket_id"] == "T-9" and body["language"] == "en"
    assert body["similar"][0]["ticket_id"] == "T-3"
    assert "T-9" not in [s["ticket_id"] for s in body["similar"]], "not similar to itself"
    listed = client.get("/v1/tickets", params={"q": "printer"}).json()["tickets"]
    assert [t["ticket_id"] for t in listed if t["has_suggestion"]] == ["T-9"]
    sid = body["suggestion_id"]
    r = client.post(
        f"/v1/tickets/T-9/suggestion/{sid}/decision",
        json={"decision": "edit", "text": "Hello, please clear the tray. Regards"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["decision"] == "edit"
    detail = client.get("/v1/tickets/T-9").json()
    assert detail["suggestion"]["decision"] == "edit"
    again = client.post(f"/v1/tickets/T-9/suggestion/{sid}/decision", json={"decision": "accept"})
    assert again.status_code == 409
    wrong = client.post(f"/v1/tickets/T-1/suggestion/{sid}/decision", json={"decision": "accept"})
    assert wrong.status_code == 404
    decisions = [r for r in services.audit.records() if r.event == "suggestion_decision"]
    assert decisions[-1].request_id == sid and decisions[-1].details["decision"] == "edit"
    assert services.audit.verify().ok


def test_edit_needs_the_sent_text_and_unknown_ticket_is_404(
    assist: tuple[TestClient, Services, FakeLLM],
) -> None:
    client, _, llm = assist
    llm.queue("Hello, please remove the paper tray and reload the printer tray.")
    sid = client.post(
        "/v1/tickets/suggest", json={"subject": "Printer jam", "body": "printer jams, tray"}
    ).json()["suggestion_id"]
    r = client.post(f"/v1/tickets/-/suggestion/{sid}/decision", json={"decision": "edit"})
    assert r.status_code == 422
    assert (
        client.post(
            f"/v1/tickets/-/suggestion/{sid}/decision", json={"decision": "reject"}
        ).status_code
        == 201
    )
    assert client.post("/v1/tickets/suggest", json={"ticket_id": "nope"}).status_code == 404
    assert client.post("/v1/tickets/suggest", json={"subject": "only"}).status_code == 422


def test_no_similar_ticket_and_no_article_abstains_but_still_answers(
    tmp_path: Path,
) -> None:
    settings = fake_settings(tmp_path).model_copy(
        update={
            "retrieval": fake_settings(tmp_path).retrieval.model_copy(update={"min_evidence": 0.99})
        }
    )
    llm = FakeLLM()
    services = fake_services(tmp_path, llm, settings)
    seed(services, SOLVED)
    try:
        with TestClient(create_app(services=services)) as client:
            r = client.post(
                "/v1/tickets/suggest",
                json={"subject": "Kantine", "body": "Wann öffnet die Kantine am Samstag?"},
            )
        assert r.status_code == 201
        body = r.json()
        assert body["abstained"] and body["draft"] == "" and body["reason"] == "weak_retrieval"
    finally:
        services.close()


def _signed(body: bytes, *, at: float | None = None) -> dict[str, str]:
    stamp = str(int(at if at is not None else time.time()))
    return {
        "X-Lotse-Timestamp": stamp,
        "X-Lotse-Signature": lotse_signature(SECRET, stamp, body),
        "Content-Type": "application/json",
    }


def test_webhook_stores_the_ticket_and_prepares_a_suggestion(
    assist: tuple[TestClient, Services, FakeLLM],
) -> None:
    client, _, llm = assist
    llm.queue(
        "Hallo, bitte das VPN Zertifikat im Firmenportal erneuern und AnyConnect neu starten."
    )
    raw = json.dumps(
        {
            "ticket_id": "Z-100",
            "subject": "VPN Zertifikat ungültig",
            "body": "AnyConnect Zertifikat",
        }
    ).encode()
    headers = _signed(raw)
    r = client.post("/v1/webhooks/ticket", content=raw, headers=headers)
    assert r.status_code == 202, r.text
    assert r.json() == {"ticket_id": "Z-100", "accepted": True, "suggestion": "queued"}
    detail = client.get("/v1/tickets/Z-100").json()
    assert detail["ticket"]["origin"] == "webhook"
    assert detail["suggestion"] is not None and "Firmenportal" in detail["suggestion"]["draft"]
    # the same call again is a replay
    replay = client.post("/v1/webhooks/ticket", content=raw, headers=headers)
    assert replay.status_code == 401 and "replay" in replay.json()["error"]["message"]


def test_webhook_refuses_bad_signatures_stale_calls_and_accepts_zammad(
    assist: tuple[TestClient, Services, FakeLLM],
) -> None:
    client, services, llm = assist
    raw = b'{"ticket_id": "X", "subject": "s", "body": "b"}'
    assert client.post("/v1/webhooks/ticket", content=raw).status_code == 401
    forged = _signed(raw)
    forged["X-Lotse-Signature"] = lotse_signature("wrong-secret", forged["X-Lotse-Timestamp"], raw)
    assert client.post("/v1/webhooks/ticket", content=raw, headers=forged).status_code == 401
    tampered = _signed(raw)
    assert (
        client.post("/v1/webhooks/ticket", content=raw + b" ", headers=tampered).status_code == 401
    )
    stale = _signed(raw, at=time.time() - 3600)
    assert client.post("/v1/webhooks/ticket", content=raw, headers=stale).status_code == 401
    denied = [r for r in services.audit.records() if r.event == "access_denied"]
    assert denied, "refused webhook calls are audited"
    assert services.tickets.find(["X"]) == {}

    llm.queue("Hello, please remove the paper tray and reload the printer tray.")
    zammad = json.dumps(
        {
            "ticket": {
                "id": 7,
                "number": "31007",
                "title": "Printer jams",
                "group": {"name": "Users"},
            },
            "article": {"body": "The printer jams in the tray", "subject": "Printer jams"},
        }
    ).encode()
    headers = {"X-Hub-Signature": zammad_signature(SECRET, zammad), "X-Zammad-Delivery": "d-1"}
    r = client.post("/v1/webhooks/ticket", content=zammad, headers=headers)
    assert r.status_code == 202, r.text
    assert services.tickets.get("31007").queue == "Users"
    assert client.post("/v1/webhooks/ticket", content=zammad, headers=headers).status_code == 401


def test_webhook_is_off_without_a_secret(client: TestClient) -> None:
    raw = b"{}"
    r = client.post("/v1/webhooks/ticket", content=raw, headers=_signed(raw))
    assert r.status_code == 403
    assert "LOTSE_TICKETS__WEBHOOK_SECRET" in r.json()["error"]["hint"]


def test_erasure_removes_tickets_and_suggestions(
    assist: tuple[TestClient, Services, FakeLLM],
) -> None:
    client, services, llm = assist
    canary = "Kanarienvogel-4711"
    services.tickets.upsert(
        [StoredTicket("T-50", "VPN Zertifikat", f"AnyConnect Zertifikat, Rückruf {canary}")]
    )
    llm.queue(f"Hallo, bitte das VPN Zertifikat im Firmenportal erneuern. {canary}")
    assert client.post("/v1/tickets/suggest", json={"ticket_id": "T-50"}).status_code == 201
    preview = client.post("/v1/admin/erase", json={"match": canary, "dry_run": True}).json()
    assert preview["tickets"] == 2  # the ticket and the draft that repeats the text
    r = client.post("/v1/admin/erase", json={"match": canary})
    assert r.status_code == 200, r.text
    assert r.json()["tickets"] == 2
    assert services.tickets.forget_matching(canary, dry_run=True) == 0
    assert services.tickets.find(["T-50"]) == {}
    assert services.audit.verify().ok
