"""The admin review of ticket knowledge candidates over HTTP (auth mode ``keys``, fakes):
roles, the list, approve (retrievable by an employee at once), reject, audit, erasure."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import KeyStore
from api.settings import AuthSettings, TicketSettings
from api.wiring import Services, build_services
from assistant.ticket_review import publish_candidates
from assistant.ticket_store import candidate_documents
from models.llm import FakeLLM
from tests.api.conftest import fake_settings, sample_documents
from tests.tickets import resolved_ticket

SOURCE = "tickets"


GERMAN = resolved_ticket(
    "NW-101",
    "Plotter Zeichensaal meldet Fehler E-204",
    "Guten Morgen,\nder Plotter meldet E-204.\n\nViele Grüße\nErika Mustermann\nTel. 0170 1234567",
    "Fehler E-204: Tintenkopf Kalibrierung im Menü Wartung starten, danach druckt der Plotter.",
    "de",
)
ENGLISH = resolved_ticket(
    "NW-102",
    "Badge reader at the loading dock blinks red",
    "Hi,\nthe badge reader at the loading dock blinks red.\n\nBest regards\nJohn Smith\n"
    "john.smith@example.com",
    "A blinking red badge reader needs a power cycle: switch fuse F7 off and on again.",
    "en",
)


@dataclass
class Review:
    client: TestClient
    services: Services
    admin: dict[str, str]
    employee: dict[str, str]
    agent: dict[str, str]


def review_services(tmp_path: Path, mode: str = "review") -> Services:
    settings = fake_settings(tmp_path).model_copy(
        update={
            "auth": AuthSettings(mode="keys"),
            "tickets": TicketSettings(knowledge_review=mode),  # type: ignore[arg-type]
        }
    )
    services = build_services(settings, llm=FakeLLM())
    services.knowledge.indexer.sync_documents("sample", sample_documents())
    _, candidates = candidate_documents([GERMAN, ENGLISH], source=SOURCE, acl=("everyone",))
    publish_candidates(
        services.tickets,
        services.knowledge.indexer,
        services.knowledge.manifest,
        SOURCE,
        candidates,
        mode=settings.tickets.knowledge_review,
    )
    return services


@pytest.fixture
def review(tmp_path: Path) -> Iterator[Review]:
    services = review_services(tmp_path)
    keys = KeyStore(services.settings.data_dir)
    headers = {
        role: {"X-API-Key": keys.create(f"{role}.user", role)[1]}
        for role in ("admin", "employee", "agent")
    }
    with TestClient(create_app(services=services)) as client:
        yield Review(client, services, headers["admin"], headers["employee"], headers["agent"])
    services.close()


def search(review: Review, query: str) -> list[str]:
    response = review.client.post(
        "/v1/search", json={"query": query, "k": 10}, headers=review.employee
    )
    assert response.status_code == 200, response.text
    return [hit["source_id"] for hit in response.json()["results"]]


def listing(review: Review, **params: Any) -> dict[str, Any]:
    response = review.client.get("/v1/admin/candidates", params=params, headers=review.admin)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def decide(review: Review, ticket_id: str, decision: str, **body: Any) -> dict[str, Any]:
    response = review.client.post(
        f"/v1/admin/candidates/{SOURCE}/{ticket_id}/{decision}",
        json=body or None,
        headers=review.admin,
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_only_admins_review_candidates(review: Review) -> None:
    calls = [
        ("GET", "/v1/admin/candidates"),
        ("POST", f"/v1/admin/candidates/{SOURCE}/NW-101/approve"),
        ("POST", f"/v1/admin/candidates/{SOURCE}/NW-102/reject"),
    ]
    for method, path in calls:
        assert review.client.request(method, path).status_code == 401
        for role, headers in (("employee", review.employee), ("agent", review.agent)):
            response = review.client.request(method, path, headers=headers)
            assert response.status_code == 403, (path, role, response.text)
            assert response.json()["error"]["message"] == (
                f"this needs the role admin; you have {role}"
            )
    assert review.services.tickets.candidate_counts(SOURCE)["pending"] == 2
    assert review.services.audit.records(event="candidate_decision") == []
    refused = [
        r.details["path"]
        for r in review.services.audit.records(event="access_denied")
        if r.details["status"] == 403
    ]
    assert refused == [p for _, p in calls for _ in range(2)]


def test_the_list_shows_redacted_german_and_english_candidates(review: Review) -> None:
    body = listing(review)
    assert body["mode"] == "review"
    assert body["total"] == 2 and body["counts"] == {"pending": 2, "approved": 0, "rejected": 0}
    german, english = body["candidates"]
    assert (german["ticket_id"], german["language"]) == ("NW-101", "de")
    assert (english["ticket_id"], english["language"]) == ("NW-102", "en")
    assert german["source"] == SOURCE and german["source_id"] == "tickets/NW-101"
    assert german["status"] == "pending" and german["live"] is False
    assert german["decided_by"] is None
    assert german["title"] == "Plotter Zeichensaal meldet Fehler E-204"
    assert "## Lösung" in german["text"] and "Tintenkopf Kalibrierung" in german["text"]
    assert "Erika" not in german["text"] and "0170" not in german["text"]
    assert "[NAME]" in german["text"] and "[PHONE]" in german["text"]
    assert german["redactions"] == {"name": 1, "phone": 1}
    assert "## Resolution" in english["text"] and "fuse F7" in english["text"]
    assert "john.smith" not in english["text"] and english["redactions"] == {
        "name": 1,
        "email": 1,
    }
    page = listing(review, limit=1, offset=1)
    assert [c["ticket_id"] for c in page["candidates"]] == ["NW-102"]
    assert (page["total"], page["limit"], page["offset"]) == (2, 1, 1)
    assert listing(review, status="approved")["candidates"] == []
    assert listing(review, source="other")["total"] == 0
    assert len(listing(review, status="all")["candidates"]) == 2
    bad = review.client.get("/v1/admin/candidates", params={"status": "live"}, headers=review.admin)
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("ticket_id", "query", "needle"),
    [
        ("NW-101", "Plotter Fehler E-204 Tintenkopf", "Tintenkopf Kalibrierung"),
        ("NW-102", "badge reader loading dock blinks red", "fuse F7"),
    ],
)
def test_approve_makes_it_retrievable_and_reject_removes_it(
    review: Review, ticket_id: str, query: str, needle: str
) -> None:
    source_id = f"tickets/{ticket_id}"
    assert source_id not in search(review, query)  # pending: not in the index
    shown = next(c for c in listing(review)["candidates"] if c["ticket_id"] == ticket_id)

    approved = decide(review, ticket_id, "approve", content_hash=shown["content_hash"])
    candidate = approved["candidate"]
    assert candidate["status"] == "approved" and candidate["live"] is True
    assert approved["chunks_written"] >= 1 and approved["documents_removed"] == 0
    hits = review.client.post(
        "/v1/search", json={"query": query, "k": 10}, headers=review.employee
    ).json()["results"]
    mine = [h for h in hits if h["source_id"] == source_id]
    assert mine and needle in mine[0]["text"]
    assert "Erika" not in mine[0]["text"] and "john.smith" not in mine[0]["text"]

    audit = review.services.audit
    record = audit.records(event="candidate_decision")[-1]
    assert record.seq == approved["audit_seq"]
    assert record.actor == audit.pseudonym("admin.user") == candidate["decided_by"]
    assert record.role == "admin"
    assert record.details["ticket_id"] == ticket_id
    assert record.details["decision"] == "approved"
    assert record.content_hashes == (shown["content_hash"],)
    assert listing(review)["total"] == 1  # one pending left

    rejected = decide(review, ticket_id, "reject", reason="Interne Notiz im Text")
    assert rejected["candidate"]["status"] == "rejected" and rejected["documents_removed"] == 1
    assert rejected["candidate"]["reason"] == "Interne Notiz im Text"
    assert source_id not in search(review, query)
    last = audit.records(event="candidate_decision")[-1]
    assert last.details["decision"] == "rejected" and last.details["reason"] is True
    assert "Interne Notiz" not in str(last.as_dict())  # a digest only
    assert audit.verify().ok


def test_stale_unknown_and_busy_decisions_are_refused(review: Review) -> None:
    admin = review.admin
    stale = review.client.post(
        f"/v1/admin/candidates/{SOURCE}/NW-101/approve",
        json={"content_hash": "0" * 64},
        headers=admin,
    )
    assert stale.status_code == 409
    assert "changed since it was shown" in stale.json()["error"]["message"]
    unknown = review.client.post(f"/v1/admin/candidates/{SOURCE}/NW-999/approve", headers=admin)
    assert unknown.status_code == 404
    assert "NW-999" in unknown.json()["error"]["message"]
    with review.services.jobs.exclusive("a test holding the knowledge base"):
        busy = review.client.post(f"/v1/admin/candidates/{SOURCE}/NW-101/approve", headers=admin)
    assert busy.status_code == 409
    too_long = review.client.post(
        f"/v1/admin/candidates/{SOURCE}/NW-101/reject", json={"reason": "x" * 1001}, headers=admin
    )
    assert too_long.status_code == 422
    assert review.services.tickets.candidate(SOURCE, "NW-101").status == "pending"
    assert review.services.audit.records(event="candidate_decision") == []


def test_erasure_by_text_also_deletes_candidates(review: Review) -> None:
    decide(review, "NW-102", "approve")
    response = review.client.post(
        "/v1/admin/erase", json={"match": "Tintenkopf Kalibrierung"}, headers=review.admin
    )
    assert response.status_code == 200, response.text
    assert response.json()["tickets"] == 1  # the German candidate (the ticket store has no row)
    assert [c["ticket_id"] for c in listing(review, status="all")["candidates"]] == ["NW-102"]


def test_auto_mode_publishes_at_import_and_lists_them_approved(tmp_path: Path) -> None:
    services = review_services(tmp_path, mode="auto")
    try:
        _, secret = KeyStore(services.settings.data_dir).create("root", "admin")
        with TestClient(create_app(services=services)) as client:
            body = client.get(
                "/v1/admin/candidates", params={"status": "approved"}, headers={"X-API-Key": secret}
            ).json()
            hits = client.post(
                "/v1/search",
                json={"query": "Plotter E-204", "k": 10},
                headers={"X-API-Key": secret},
            ).json()["results"]
    finally:
        services.close()
    assert body["mode"] == "auto" and body["total"] == 2
    assert {c["decided_by"] for c in body["candidates"]} == {"auto"}
    assert all(c["live"] for c in body["candidates"])
    assert "tickets/NW-101" in [h["source_id"] for h in hits]


def test_erasing_the_ticket_source_deletes_its_candidates(review: Review) -> None:
    decide(review, "NW-102", "approve")  # English live, German still pending
    one = review.client.post(
        "/v1/admin/erase",
        json={"source": SOURCE, "document": "tickets/NW-102", "dry_run": True},
        headers=review.admin,
    )
    assert one.status_code == 200, one.text
    assert one.json()["tickets"] == 1
    whole = review.client.post("/v1/admin/erase", json={"source": SOURCE}, headers=review.admin)
    assert whole.status_code == 200, whole.text
    assert whole.json()["tickets"] == 2  # the live English and the pending German candidate
    assert listing(review, status="all")["candidates"] == []
