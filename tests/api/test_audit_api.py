"""Every answer, search, rating and admin action leaves an audit record; /v1/admin/audit
reads, filters and verifies the log. Wired with the fakes (in-memory audit log)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.auditing import audited_stream
from api.settings import Settings
from api.wiring import Services, build_audit, model_sha256
from assistant.answering import SourcesEvent, TokenEvent
from assistant.audit import AuditRecord, InMemoryAuditLog, SqliteAuditLog, sha256_text
from assistant.generation import GenerationGate
from assistant.identity import Caller
from assistant.prompting import PROMPT_VERSION
from knowledge.documents import sha256_bytes
from models.errors import GenerationFailed
from models.llm import ChatMessage, FakeLLM, GenerationParams, StreamChunk
from models.registry import LLM_MODELS
from tests.api.conftest import DOCS, fake_settings

VPN_Q = "Wie verbinde ich mich mit dem VPN?"
VPN_A = "Starten Sie Cisco AnyConnect und verbinden Sie sich mit vpn.nordwind.de [1]."
DIEM_Q = "What is the per diem for a full day in Germany?"
DIEM_A = "The per diem for a full day is 28 euros [1]."
DOC_HASHES = {sid: sha256_bytes(text.encode()) for sid, (_, _, text) in DOCS.items()}


class FailingLLM(FakeLLM):
    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Iterator[StreamChunk]:
        yield StreamChunk(text="Starten")
        raise GenerationFailed("the model stopped responding")


def answers(services: Services) -> list[AuditRecord]:
    return services.audit.records(event="answer")


def last_answer(services: Services) -> AuditRecord:
    records = answers(services)
    assert records, "no answer was recorded"
    return records[-1]


def given_chunks(services: Services, question: str) -> tuple[set[str], set[str]]:
    """The chunk ids (and their document hashes) retrieval hands to the model."""
    k = services.assistant.config.context_k
    results = services.knowledge.retriever.retrieve(question, ("everyone",)).results[:k]
    return {r.chunk.chunk_id for r in results}, {r.chunk.content_hash for r in results}


def sse_events(text: str) -> list[tuple[str, Any]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
        if "data" in lines:
            out.append((lines.get("event", "message"), json.loads(lines["data"])))
    return out


# -- answers -------------------------------------------------------------------------------------
def test_the_server_start_is_a_retention_run(services: Services) -> None:
    assert isinstance(services.audit, InMemoryAuditLog)
    first = services.audit.records()[0]
    assert (first.seq, first.event, first.details["records_pruned"]) == (1, "retention", 0)


def test_a_german_ask_records_the_answer_with_its_chunks_and_digests(
    services: Services, client: TestClient, llm: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    llm.queue(VPN_A)
    with caplog.at_level(logging.INFO):
        response = client.post("/v1/ask", json={"question": VPN_Q})
    assert response.status_code == 200, response.text
    assert response.json()["abstained"] is False
    record = last_answer(services)
    chunk_ids, content_hashes = given_chunks(services, VPN_Q)
    assert record.decision == "answered"
    assert set(record.chunk_ids) == chunk_ids and len(record.chunk_ids) == len(chunk_ids)
    assert set(record.content_hashes) == content_hashes
    assert DOC_HASHES["it/vpn.md"] in record.content_hashes
    assert record.question_sha256 == sha256_text(VPN_Q)
    assert record.answer_sha256 == sha256_text(response.json()["answer"])
    assert record.actor == services.audit.pseudonym("anonymous") != "anonymous"
    assert (record.role, record.acl_filter) == ("admin", ("everyone",))
    assert (record.model_id, record.model_sha256) == ("fake-llm", None)
    assert record.prompt_version == PROMPT_VERSION
    assert record.details["endpoint"] == "ask" and record.details["language"] == "de"
    assert record.latency_ms["total_ms"] >= record.latency_ms["retrieval_ms"] >= 0
    text = services.audit.text(record.seq)
    assert text is not None and (text.question, text.answer) == (VPN_Q, VPN_A)
    # personal data: the question never reaches the log at INFO
    assert all(VPN_Q not in r.getMessage() for r in caplog.records)
    assert services.audit.verify().ok


def test_an_english_chat_records_answer_and_later_feedback(
    services: Services, client: TestClient, llm: FakeLLM
) -> None:
    llm.queue(DIEM_A)
    body = client.post("/v1/chat", json={"message": DIEM_Q, "stream": False}).json()
    record = last_answer(services)
    assert (record.decision, record.request_id) == ("answered", body["answer_id"])
    assert (record.details["endpoint"], record.details["language"]) == ("chat", "en")
    assert DOC_HASHES["finance/travel.md"] in record.content_hashes
    rated = client.post("/v1/feedback", json={"answer_id": body["answer_id"], "rating": "down"})
    assert rated.status_code == 201
    feedback = services.audit.records(event="feedback")[-1]
    assert feedback.request_id == body["answer_id"]  # links the rating to the answer record
    assert feedback.details == {"rating": "down", "comment": False}


def test_a_streamed_german_abstention_is_recorded_as_abstained(
    services: Services, client: TestClient
) -> None:
    response = client.post("/v1/chat", json={"message": VPN_Q})  # the fake declines
    assert response.status_code == 200
    assert sse_events(response.text)[-1][0] == "done"
    record = last_answer(services)
    assert record.decision == "abstained"
    assert record.details["reason"] == "model_declined"
    assert record.answer_sha256 == sha256_text("Dazu habe ich in der Wissensbasis nichts gefunden.")


def test_a_streamed_english_answer_is_recorded_once(
    services: Services, client: TestClient, llm: FakeLLM
) -> None:
    llm.queue(DIEM_A)
    response = client.post("/v1/chat", json={"message": DIEM_Q})
    done = sse_events(response.text)[-1]
    assert done[0] == "done"
    records = answers(services)
    assert len(records) == 1
    assert (records[0].decision, records[0].request_id) == ("answered", done[1]["answer_id"])
    assert set(records[0].chunk_ids) == given_chunks(services, DIEM_Q)[0]


def test_overload_is_recorded_then_answered_with_503(
    services: Services, client: TestClient
) -> None:
    services.assistant.gate = GenerationGate(max_queue=0)
    response = client.post("/v1/ask", json={"question": DIEM_Q})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    record = last_answer(services)
    assert record.decision == "overloaded"
    assert record.details == {"endpoint": "ask", "error": "Overloaded", "retry_after": 5}
    assert record.question_sha256 == sha256_text(DIEM_Q)
    streamed = client.post("/v1/chat", json={"message": VPN_Q})
    assert streamed.status_code == 503  # refused before the stream starts
    assert last_answer(services).decision == "overloaded"
    assert last_answer(services).details["endpoint"] == "chat"


def test_a_failing_model_is_recorded_as_error(services: Services, client: TestClient) -> None:
    services.assistant.llm = FailingLLM()
    assert client.post("/v1/ask", json={"question": VPN_Q}).status_code == 502
    record = last_answer(services)
    assert (record.decision, record.details["error"]) == ("error", "GenerationFailed")
    events = sse_events(client.post("/v1/chat", json={"message": DIEM_Q}).text)
    assert events[-1][0] == "error"
    assert [r.decision for r in answers(services)] == ["error", "error"]


def test_an_abandoned_stream_is_recorded_as_error(services: Services, llm: FakeLLM) -> None:
    llm.queue(VPN_A)
    caller = Caller(user_id="anonymous", role="employee")
    events = audited_stream(services, services.assistant, VPN_Q, caller, endpoint="chat")
    assert isinstance(next(events), SourcesEvent)
    assert isinstance(next(events), TokenEvent)
    events.close()  # what the route does when the client goes away
    record = last_answer(services)
    assert record.decision == "error"
    assert record.details == {"endpoint": "chat", "reason": "client_disconnected"}
    assert services.assistant.gate.stats().running == 0


def test_the_openai_endpoint_records_its_answers(
    services: Services, client: TestClient, llm: FakeLLM
) -> None:
    llm.queue(DIEM_A, VPN_A)
    body = {"model": "fake-llm", "messages": [{"role": "user", "content": DIEM_Q}]}
    reply = client.post("/v1/chat/completions", json=body).json()
    record = last_answer(services)
    assert (record.decision, record.details["endpoint"]) == ("answered", "chat_completions")
    assert record.request_id == reply["lotse"]["answer_id"]
    streamed = {
        "model": "fake-llm",
        "stream": True,
        "messages": [{"role": "user", "content": VPN_Q}],
    }
    assert client.post("/v1/chat/completions", json=streamed).status_code == 200
    records = answers(services)
    assert len(records) == 2 and records[-1].decision == "answered"
    assert records[-1].question_sha256 == sha256_text(VPN_Q)


def test_a_search_records_the_chunks_it_returned(services: Services, client: TestClient) -> None:
    hits = client.post("/v1/search", json={"query": "VPN AnyConnect", "k": 2}).json()["results"]
    record = services.audit.records(event="search")[-1]
    assert list(record.chunk_ids) == [h["chunk_id"] for h in hits]
    assert record.question_sha256 == sha256_text("VPN AnyConnect")
    assert record.details == {"endpoint": "search", "hits": len(hits)}
    assert record.decision is None


def test_admin_actions_are_recorded(services: Services, client: TestClient, tmp_path: Path) -> None:
    folder = tmp_path / "wiki"
    folder.mkdir()
    (folder / "drucker.md").write_text("# Drucker\n\nMit dem Ausweis abholen.\n", "utf-8")
    source = {"name": "wiki", "kind": "folder", "location": str(folder)}
    assert client.post("/v1/admin/sources", json=source).status_code == 201
    job = client.post("/v1/admin/reindex", json={"sources": ["wiki"]}).json()
    services.jobs.wait(job["job_id"], 30)
    assert client.delete("/v1/admin/sources/wiki").status_code == 200
    events = [r.event for r in services.audit.records()]
    assert events[-3:] == ["source_registered", "reindex", "source_removed"]
    registered, reindexed, removed = services.audit.records()[-3:]
    assert registered.details == {"source": "wiki", "kind": "folder", "replaced": False}
    assert (reindexed.request_id, reindexed.details) == (job["job_id"], {"sources": ["wiki"]})
    assert removed.details["source"] == "wiki"


# -- /v1/admin/audit -----------------------------------------------------------------------------
def test_list_filters_by_event_time_and_limit(
    services: Services, client: TestClient, llm: FakeLLM
) -> None:
    llm.queue(VPN_A, DIEM_A)
    client.post("/v1/ask", json={"question": VPN_Q})
    client.post("/v1/ask", json={"question": DIEM_Q})
    client.post("/v1/search", json={"query": "Reisekosten"})
    listed = client.get("/v1/admin/audit", params={"event": "answer"}).json()
    assert listed["count"] == 2
    assert [r["question_sha256"] for r in listed["records"]] == [
        sha256_text(DIEM_Q),
        sha256_text(VPN_Q),
    ]  # newest first
    assert all(r["question"] is None for r in listed["records"])
    one = client.get("/v1/admin/audit", params={"limit": 1}).json()["records"]
    assert one[0]["event"] == "audit_viewed"  # the previous read was recorded
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert client.get("/v1/admin/audit", params={"since": future}).json()["count"] == 0
    past = client.get("/v1/admin/audit", params={"until": future, "event": "search"}).json()
    assert [r["event"] for r in past["records"]] == ["search"]
    with_texts = client.get(
        "/v1/admin/audit", params={"event": "answer", "include_texts": "true"}
    ).json()
    assert [r["question"] for r in with_texts["records"]] == [DIEM_Q, VPN_Q]
    viewed = services.audit.records(event="audit_viewed")[-1]
    assert viewed.details["texts"] is True and viewed.details["records"] == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [({"event": "party"}, "event"), ({"limit": 0}, "limit"), ({"since": "gestern"}, "since")],
)
def test_list_rejects_bad_filters(
    client: TestClient, params: dict[str, str | int], field: str
) -> None:
    response = client.get("/v1/admin/audit", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == f"query.{field}"


def test_verify_and_checkpoint_over_http(
    services: Services, client: TestClient, llm: FakeLLM
) -> None:
    llm.queue(VPN_A)
    client.post("/v1/ask", json={"question": VPN_Q})
    events = [r.event for r in services.audit.records()]
    assert events[:2] == ["retention", "settings_changed"], events  # written at start
    ok = client.post("/v1/admin/audit/verify").json()
    assert ok["ok"] is True and ok["records"] == ok["head_seq"] == len(events)
    (run,) = services.audit.records(event="audit_verified")  # the run, after what it judged
    assert run.seq == len(events) + 1 and run.actor and run.role == "admin"
    assert (run.details["ok"], run.details["records"]) == (True, len(events))
    checkpoint = client.post("/v1/admin/audit/checkpoint").json()
    assert checkpoint["count"] == len(events) + 2
    with_cp = client.post("/v1/admin/audit/verify", json={"checkpoint": checkpoint}).json()
    assert with_cp["ok"] is True and "matches the checkpoint" in with_cp["notes"][0]
    assert isinstance(services.audit, InMemoryAuditLog)
    del services.audit.rows[len(events) + 1 :]  # cut the tail from the checkpoint on …
    cut = client.post("/v1/admin/audit/verify", json={"checkpoint": checkpoint}).json()
    assert (cut["ok"], cut["bad_seq"]) == (False, len(events) + 2)
    answer = events.index("answer")
    services.audit.rows[answer]["decision"] = "abstained"  # … and edit an answer
    edited = client.post("/v1/admin/audit/verify").json()
    assert (edited["ok"], edited["bad_seq"]) == (False, answer + 1)
    assert "altered" in edited["reason"]


# -- settings and wiring -------------------------------------------------------------------------
def test_audit_settings_have_bounds_and_a_durable_default(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert (settings.audit.text_retention_days, settings.audit.retention_days) == (30, 180)
    assert settings.audit.store_texts is True
    log = build_audit(settings)
    try:
        assert isinstance(log, SqliteAuditLog)
        assert log.path == tmp_path / "audit.sqlite3"
    finally:
        log.close()
    assert isinstance(build_audit(fake_settings(tmp_path)), InMemoryAuditLog)
    with pytest.raises(ValidationError):
        Settings(audit={"text_retention_days": 0})
    with pytest.raises(ValidationError):
        Settings(audit={"text_retention_days": 200, "retention_days": 100})
    with pytest.raises(ValidationError):
        Settings(audit={"keep_forever": True})


def test_the_model_hash_comes_from_the_registry(tmp_path: Path) -> None:
    registered = Settings(data_dir=tmp_path, models={"llm": "qwen2.5-0.5b"})
    assert model_sha256(registered) == LLM_MODELS["qwen2.5-0.5b"].sha256
    assert model_sha256(fake_settings(tmp_path)) is None
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 60)
    custom = Settings(data_dir=tmp_path, models={"llm_path": gguf})
    assert model_sha256(custom) == sha256_bytes(gguf.read_bytes())


def test_a_start_with_changed_settings_is_recorded_once(tmp_path: Path) -> None:
    """The durable log gets a ``settings_changed`` record at the first start and whenever a
    start finds other settings; a restart with the same ones adds nothing."""
    from api.wiring import build_services

    settings = Settings(
        data_dir=tmp_path / "data",
        models={"llm_backend": "fake", "embedder": "fake"},  # type: ignore[arg-type]
    )

    def start(s: Settings) -> list[AuditRecord]:
        services = build_services(s)
        try:
            assert isinstance(services.audit, SqliteAuditLog)
            records = services.audit.records(event="settings_changed")
            assert services.audit.verify().ok
            return records
        finally:
            services.close()

    (first,) = start(settings)
    assert first.details["first"] is True and first.model_id == "fake-llm"
    assert len(start(settings)) == 1  # a restart, nothing changed
    fewer = settings.model_copy(update={"api": settings.api.model_copy(update={"max_queue": 2})})
    records = start(fewer)
    assert len(records) == 2
    assert records[-1].details["changed"] == ["api.max_queue"]
