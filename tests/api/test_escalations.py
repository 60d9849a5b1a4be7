"""The escalation routes over HTTP: creating from your own conversation only (403/404),
status and listing, delivery and the admin's retry, knowledge gaps and erasure."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import KeyStore
from api.settings import AuthSettings, Settings
from api.wiring import Services, build_eraser, build_services, open_knowledge
from assistant.delivery import Delivered, Deliverer, DeliveryFailed, RetryPolicy
from assistant.escalation import Escalation, SqliteEscalationStore
from assistant.identity import OPERATOR
from models.llm import FakeLLM
from tests.api.conftest import fake_settings, sample_documents

HOLIDAY_Q = "Wie viele Urlaubstage habe ich?"
PARKING_Q = "How do I book a parking space?"
NOT_FOUND_DE = "Dazu habe ich in der Wissensbasis nichts gefunden."


@dataclass
class Desk:
    client: TestClient
    services: Services
    llm: FakeLLM
    keys: dict[str, str]  # user -> API key

    def call(self, user: str, method: str, path: str, body: Any = None) -> Any:
        return self.client.request(method, path, json=body, headers={"X-API-Key": self.keys[user]})

    def chat(self, user: str, message: str, reply: str, conversation_id: str | None = None) -> Any:
        self.llm.queue(reply)
        body: dict[str, Any] = {"message": message, "stream": False}
        if conversation_id:
            body["conversation_id"] = conversation_id
        response = self.call(user, "POST", "/v1/chat", body)
        assert response.status_code == 200, response.text
        return response.json()


def desk_services(tmp_path: Path, **escalation: Any) -> Services:
    settings = fake_settings(tmp_path).model_copy(update={"auth": AuthSettings(mode="keys")})
    if escalation:
        settings = Settings.model_validate({**settings.model_dump(), "escalation": escalation})
    llm = FakeLLM()
    services = build_services(settings, llm=llm)
    services.knowledge.indexer.sync_documents("sample", sample_documents())
    return services


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    services = desk_services(tmp_path)
    store = KeyStore(services.settings.data_dir)
    keys = {
        user: store.create(user, role)[1]
        for user, role in (("alice", "employee"), ("bob", "employee"), ("carol", "admin"))
    }
    assert isinstance(services.llm, FakeLLM)
    try:
        with TestClient(create_app(services=services)) as client:
            yield Desk(client, services, services.llm, keys)
    finally:
        services.close()


class ScriptedTarget:
    name = "webhook"

    def __init__(self, *outcomes: str | Exception) -> None:
        self.outcomes = list(outcomes)
        self.lock = threading.Lock()

    def deliver(self, escalation: Escalation) -> Delivered:
        with self.lock:
            outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return Delivered(outcome)

    def close(self) -> None:
        return None


def use_target(desk: Desk, target: ScriptedTarget, max_attempts: int = 2) -> Deliverer:
    assert desk.services.deliverer is not None
    desk.services.deliverer.close()
    deliverer = Deliverer(
        desk.services.escalations,
        target,
        RetryPolicy(max_attempts=max_attempts, backoff_s=0.01),
    )
    desk.services.deliverer = deliverer
    return deliverer


def test_an_employee_escalates_an_abstention_and_sees_it_stored(desk: Desk) -> None:
    done = desk.chat("alice", HOLIDAY_Q, "NOT_FOUND")
    assert done["abstained"] is True
    assert desk.call("alice", "GET", "/v1/escalations/config").json() == {
        "target": "none",
        "configured": False,
        "max_attempts": 5,
    }
    created = desk.call(
        "alice", "POST", "/v1/escalations", {"conversation_id": done["conversation_id"]}
    )
    assert created.status_code == 201, created.text
    e = created.json()
    assert (e["subject"], e["status"], e["target"], e["reason"], e["language"]) == (
        f"Anfrage: {HOLIDAY_Q}",
        "pending",
        "none",
        "abstained",
        "de",
    )
    assert (e["queue"], e["priority"], e["attempts"], e["external_ref"]) == (
        "Users",
        "normal",
        0,
        None,
    )
    assert e["description"].endswith(f"Antwort (KI-generiert, Modell fake-llm): {NOT_FOUND_DE}")
    assert "no delivery target is configured" in e["note"]
    escalation_id = e["escalation_id"]
    assert desk.call("alice", "GET", f"/v1/escalations/{escalation_id}").json() == e
    assert desk.call("carol", "GET", f"/v1/escalations/{escalation_id}").status_code == 200
    assert desk.call("bob", "GET", f"/v1/escalations/{escalation_id}").status_code == 404
    mine = desk.call("alice", "GET", "/v1/escalations").json()["escalations"]
    assert [x["escalation_id"] for x in mine] == [escalation_id]
    assert desk.call("bob", "GET", "/v1/escalations").json() == {"escalations": []}
    assert desk.call("bob", "GET", "/v1/escalations?all=true").status_code == 403
    everybody = desk.call("carol", "GET", "/v1/escalations?all=true").json()["escalations"]
    assert [x["escalation_id"] for x in everybody] == [escalation_id]
    assert desk.call("carol", "GET", "/v1/escalations").json() == {"escalations": []}


def test_only_the_owner_may_escalate_a_conversation(desk: Desk) -> None:
    done = desk.chat("alice", HOLIDAY_Q, "NOT_FOUND")
    body = {"conversation_id": done["conversation_id"]}
    other = desk.call("bob", "POST", "/v1/escalations", body)
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "not_found"
    admin = desk.call("carol", "POST", "/v1/escalations", body)
    assert admin.status_code == 403
    assert admin.json()["error"]["message"] == "only the owner of a conversation may escalate it"
    missing = desk.call("alice", "POST", "/v1/escalations", {"conversation_id": "nope"})
    assert missing.status_code == 404
    no_answer = desk.call("alice", "POST", "/v1/escalations", {**body, "answer_id": "x" * 32})
    assert no_answer.status_code == 404
    unauthenticated = desk.client.post("/v1/escalations", json=body)
    assert unauthenticated.status_code == 401
    assert desk.services.escalations.recent() == []


def test_an_edited_english_draft_is_stored_and_audited_with_digests_only(desk: Desk) -> None:
    done = desk.chat("alice", PARKING_Q, "Use the parking app.")
    created = desk.call(
        "alice",
        "POST",
        "/v1/escalations",
        {
            "conversation_id": done["conversation_id"],
            "answer_id": done["answer_id"],
            "subject": "Parking for my visitor on Friday",
            "description": "The app does not list visitor spaces.",
            "reason": "not_helpful",
        },
    )
    assert created.status_code == 201, created.text
    e = created.json()
    assert (e["subject"], e["description"], e["reason"], e["language"], e["answer_id"]) == (
        "Parking for my visitor on Friday",
        "The app does not list visitor spaces.",
        "not_helpful",
        "en",
        done["answer_id"],
    )
    records = desk.services.audit.records(event="escalation")
    assert len(records) == 1
    record = records[0]
    assert record.request_id == e["escalation_id"]
    assert record.details["action"] == "created"
    assert record.details["edited"] is True
    assert record.question_sha256 is None and desk.services.audit.text(record.seq) is None
    assert "visitor" not in str(record.as_dict())
    invalid = desk.call(
        "alice", "POST", "/v1/escalations", {"conversation_id": "c", "reason": "angry"}
    )
    assert invalid.status_code == 422


def test_a_triage_hint_suggests_queue_and_priority(desk: Desk) -> None:
    seen: list[str] = []

    def hint(subject: str, body: str) -> tuple[str | None, str | None]:
        seen.append(subject)
        return "HR::Urlaub", "high"

    desk.services.triage_hint = hint
    done = desk.chat("alice", HOLIDAY_Q, "NOT_FOUND")
    e = desk.call(
        "alice", "POST", "/v1/escalations", {"conversation_id": done["conversation_id"]}
    ).json()
    assert (e["queue"], e["priority"]) == ("HR::Urlaub", "high")
    assert seen == [f"Anfrage: {HOLIDAY_Q}"]


def test_delivery_status_failure_and_the_admin_retry(desk: Desk) -> None:
    failing = DeliveryFailed("webhook: the target refused the ticket (HTTP 503)", permanent=False)
    deliverer = use_target(desk, ScriptedTarget(failing, failing, "T-42"))
    assert desk.call("alice", "GET", "/v1/escalations/config").json()["configured"] is True
    done = desk.chat("alice", HOLIDAY_Q, "NOT_FOUND")
    created = desk.call(
        "alice", "POST", "/v1/escalations", {"conversation_id": done["conversation_id"]}
    ).json()
    assert created["target"] == "webhook" and created["note"] is None
    assert deliverer.wait_idle(10)
    path = f"/v1/escalations/{created['escalation_id']}"
    failed = desk.call("alice", "GET", path).json()
    assert (failed["status"], failed["attempts"], failed["max_attempts"]) == ("failed", 2, 2)
    assert failed["last_error"] == "webhook: the target refused the ticket (HTTP 503)"
    retry = f"/v1/admin/escalations/{created['escalation_id']}/retry"
    assert desk.call("alice", "POST", retry).status_code == 403
    again = desk.call("carol", "POST", retry)
    assert again.status_code == 200, again.text
    assert (again.json()["status"], again.json()["attempts"]) == ("pending", 0)
    assert deliverer.wait_idle(10)
    delivered = desk.call("alice", "GET", path).json()
    assert (delivered["status"], delivered["attempts"], delivered["external_ref"]) == (
        "delivered",
        1,
        "T-42",
    )
    assert delivered["last_error"] is None
    assert desk.call("carol", "POST", retry).status_code == 409
    assert desk.call("carol", "POST", "/v1/admin/escalations/nope/retry").status_code == 404
    actions = [r.details["action"] for r in desk.services.audit.records(event="escalation")]
    assert actions == ["created", "retried"]


def test_knowledge_gaps_group_abstentions_and_escalations(desk: Desk) -> None:
    first = desk.chat("alice", HOLIDAY_Q, "NOT_FOUND")
    desk.chat("bob", "Wie viele Urlaubstage habe ich noch?", "NOT_FOUND")
    desk.chat("bob", PARKING_Q, "NOT_FOUND")
    desk.chat("alice", "Wie verbinde ich mich mit dem VPN?", "Starten Sie Cisco AnyConnect.")
    desk.call("alice", "POST", "/v1/escalations", {"conversation_id": first["conversation_id"]})
    response = desk.call("carol", "GET", "/v1/admin/gaps?days=7")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["days"] == 7 and body["abstentions_without_text"] == 0
    summary = [(g["topic"], g["count"], g["abstained"], g["escalated"]) for g in body["gaps"]]
    assert summary == [("urlaubstage", 3, 2, 1), ("book parking space", 1, 1, 0)]
    assert body["gaps"][1]["example"] == PARKING_Q
    assert desk.call("alice", "GET", "/v1/admin/gaps").status_code == 403
    assert desk.call("carol", "GET", "/v1/admin/gaps?days=0").status_code == 422


def test_erasing_a_user_or_a_text_removes_their_escalations(desk: Desk) -> None:
    mine = desk.chat("alice", HOLIDAY_Q, "NOT_FOUND")
    desk.call("alice", "POST", "/v1/escalations", {"conversation_id": mine["conversation_id"]})
    theirs = desk.chat("bob", "Drucker im 2. OG von Erika Mustermann", "NOT_FOUND")
    desk.call("bob", "POST", "/v1/escalations", {"conversation_id": theirs["conversation_id"]})
    s = desk.services
    eraser = build_eraser(
        s.settings, s.knowledge, s.conversations, s.audit, escalations=s.escalations
    )
    report = eraser.erase_matching("erika mustermann", OPERATOR)
    assert report.escalations == 1
    assert report.as_dict()["escalations"] == 1
    assert [e.user_id for e in s.escalations.recent()] == ["alice"]
    report = eraser.erase_user("alice", OPERATOR)
    assert report.escalations == 1
    assert s.escalations.recent() == []
    erasures = s.audit.records(event="erasure")
    assert [r.details["escalations"] for r in erasures] == [1, 1]
    assert desk.call("bob", "GET", "/v1/escalations").json() == {"escalations": []}
    # the user erasure deleted alice's API key as well
    assert desk.call("alice", "GET", "/v1/escalations").status_code == 401


def test_erasure_on_disk_removes_escalations_from_the_file(tmp_path: Path) -> None:
    """The CLI's and the server's erasure on disk (no store handed in) reach the file."""
    memory = fake_settings(tmp_path)
    disk = memory.model_copy(
        update={"knowledge": memory.knowledge.model_copy(update={"store": "chroma"})}
    )
    store = SqliteEscalationStore.in_data_dir(disk.data_dir)
    try:
        from tests.unit.test_escalation import escalation

        store.add(escalation("alice"))
        store.add(escalation("bob", subject="Anfrage: Erika Mustermann"))
        store.add(escalation("dora"))
    finally:
        store.close()
    knowledge = open_knowledge(memory, purpose="test", lock=False)
    try:
        from assistant.audit import InMemoryAuditLog
        from assistant.conversations import InMemoryConversationStore

        audit = InMemoryAuditLog()
        eraser = build_eraser(disk, knowledge, InMemoryConversationStore(), audit)
        assert eraser.erase_user("alice", OPERATOR).escalations == 1
        assert eraser.erase_matching("Erika Mustermann", OPERATOR).escalations == 1
    finally:
        knowledge.close()
    reopened = SqliteEscalationStore.in_data_dir(disk.data_dir)
    try:
        assert [e.user_id for e in reopened.recent()] == ["dora"]
    finally:
        reopened.close()
    raw = (disk.data_dir / "escalations.sqlite3").read_bytes()
    assert b"Erika Mustermann" not in raw  # compacted by the disk purge
