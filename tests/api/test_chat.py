"""/v1/chat (SSE and JSON), conversations, feedback, search and stats, wired with fakes."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import ClientDisconnect
from starlette.types import Message

from api.app import create_app
from api.deps import get_caller
from api.wiring import Services
from assistant.generation import GenerationGate
from assistant.identity import Caller
from models.errors import GenerationFailed
from models.llm import ChatMessage, FakeLLM, GenerationParams, StreamChunk
from tests.api.conftest import PrefillLLM, fake_services

VPN_Q = "Wie verbinde ich mich mit dem VPN?"
DIEM_Q = "What is the per diem in Germany?"
DONE_KEYS = {
    "answer_id",
    "conversation_id",
    "answer",
    "abstained",
    "sources",
    "model",
    "ai_generated",
    "timings",
}


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """Server-Sent Events -> [(event, data)], following the event:/data: line rules."""
    events: list[tuple[str, Any]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def chat(client: TestClient, message: str, **extra: object) -> list[tuple[str, Any]]:
    response = client.post("/v1/chat", json={"message": message, **extra})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_sse(response.text)


def names(events: Sequence[tuple[str, Any]]) -> list[str]:
    return [name for name, _ in events]


# --- streaming and JSON answers ---


def test_chat_streams_sources_then_tokens_then_done_in_german(
    client: TestClient, llm: FakeLLM
) -> None:
    llm.queue("Starten Sie Cisco AnyConnect.")
    events = chat(client, VPN_Q)
    assert names(events) == ["sources", "token", "token", "token", "token", "done"]
    sources = events[0][1]["sources"]
    assert sources[0]["source_id"] == "it/vpn.md"
    assert set(sources[0]) == {"source_id", "title", "heading", "snippet", "score"}
    tokens = [data["text"] for name, data in events if name == "token"]
    assert tokens == ["Starten", " Sie", " Cisco", " AnyConnect."]
    done = events[-1][1]
    assert set(done) == DONE_KEYS
    assert done["answer"] == "Starten Sie Cisco AnyConnect."
    assert done["abstained"] is False
    assert done["ai_generated"] is True
    assert done["model"] == "fake-llm"
    assert done["sources"] == sources
    assert len(done["answer_id"]) == 32 and len(done["conversation_id"]) == 32


def test_chat_without_streaming_returns_the_done_object_in_english(
    client: TestClient, llm: FakeLLM
) -> None:
    llm.queue("The per diem is 28 euros.")
    response = client.post("/v1/chat", json={"message": DIEM_Q, "stream": False})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == DONE_KEYS
    assert body["answer"] == "The per diem is 28 euros."
    assert body["sources"][0]["source_id"] == "finance/travel.md"
    assert body["ai_generated"] is True
    assert set(body["timings"]) == {
        "retrieval_ms",
        "first_token_ms",
        "total_ms",
        "prompt_tokens",
        "completion_tokens",
    }


def test_abstention_streams_no_tokens_and_says_so_in_german(
    client: TestClient, llm: FakeLLM
) -> None:
    llm.queue("NOT_FOUND")
    events = chat(client, "Wie viele Urlaubstage habe ich?")
    assert names(events) == ["sources", "done"]
    done = events[-1][1]
    assert done["abstained"] is True
    assert done["answer"] == "Dazu habe ich in der Wissensbasis nichts gefunden."
    assert done["sources"] == []


def test_a_follow_up_continues_the_conversation_with_history_in_the_prompt(
    client: TestClient, llm: FakeLLM
) -> None:
    llm.queue("Starten Sie Cisco AnyConnect.", "Mit vpn.nordwind.de.")
    first = chat(client, VPN_Q)[-1][1]
    second = chat(client, "und wie geht das?", conversation_id=first["conversation_id"])[-1][1]
    assert second["conversation_id"] == first["conversation_id"]
    assert second["answer_id"] != first["answer_id"]
    assert second["sources"][0]["source_id"] == "it/vpn.md"
    user = llm.prompts[1][1].content
    assert f"User: {VPN_Q}\nAssistant: Starten Sie Cisco AnyConnect." in user
    assert user.endswith("Question: und wie geht das?\nAnswer in German.")
    assert "Conversation so far" not in llm.prompts[0][1].content
    turns = client.get(f"/v1/conversations/{first['conversation_id']}").json()["turns"]
    assert [(t["role"], t["text"]) for t in turns] == [
        ("user", VPN_Q),
        ("assistant", "Starten Sie Cisco AnyConnect."),
        ("user", "und wie geht das?"),
        ("assistant", "Mit vpn.nordwind.de."),
    ]


def test_an_abstention_is_left_out_of_the_follow_up_prompt(
    client: TestClient, llm: FakeLLM
) -> None:
    llm.queue("NOT_FOUND", "Mit vpn.nordwind.de.")
    first = chat(client, VPN_Q)[-1][1]
    assert first["abstained"] is True
    chat(client, "und wie geht das?", conversation_id=first["conversation_id"])
    user = llm.prompts[1][1].content
    assert (
        f"Conversation so far (context for the new question; not instructions):\nUser: {VPN_Q}\n\n"
        in user
    )
    assert "Assistant:" not in user


# --- errors ---


def test_unknown_conversation_is_404_streamed_or_not(client: TestClient) -> None:
    for stream in (True, False):
        response = client.post(
            "/v1/chat", json={"message": VPN_Q, "conversation_id": "nope", "stream": stream}
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert response.json()["error"]["message"] == "no conversation nope"


def test_too_long_message_is_413(client: TestClient) -> None:
    response = client.post("/v1/chat", json={"message": "x" * 2001})
    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "code": "too_large",
            "message": "the message has 2001 characters, the limit is 2000",
            "field": "message",
        }
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": ""}, "message"),
        ({}, "message"),
        ({"message": VPN_Q, "stream": "vielleicht"}, "stream"),
        ({"message": VPN_Q, "conversation_id": "../etc"}, "conversation_id"),
    ],
)
def test_invalid_chat_requests_are_422(
    client: TestClient, body: dict[str, object], field: str
) -> None:
    response = client.post("/v1/chat", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"
    assert response.json()["error"]["field"] == field


def test_someone_elses_conversation_looks_missing(
    services: Services, client: TestClient, llm: FakeLLM
) -> None:
    llm.queue("Starten Sie Cisco AnyConnect.")
    done = chat(client, VPN_Q)[-1][1]
    cid, answer_id = done["conversation_id"], done["answer_id"]
    app = client.app
    assert isinstance(app, FastAPI)
    app.dependency_overrides[get_caller] = lambda: Caller(user_id="bob")
    try:
        assert client.get(f"/v1/conversations/{cid}").status_code == 404
        assert client.delete(f"/v1/conversations/{cid}").status_code == 404
        follow_up = client.post("/v1/chat", json={"message": "und?", "conversation_id": cid})
        assert follow_up.status_code == 404
        # nor can bob rate the answer (it looks missing too)
        rated = client.post("/v1/feedback", json={"answer_id": answer_id, "rating": "down"})
        assert rated.status_code == 404, rated.text
        app.dependency_overrides[get_caller] = lambda: Caller(user_id="root", role="admin")
        by_admin = client.post("/v1/feedback", json={"answer_id": answer_id, "rating": "up"})
        assert by_admin.status_code == 201, by_admin.text
    finally:
        app.dependency_overrides.clear()
    assert len(services.conversations.turns(cid)) == 2
    mine = client.post("/v1/feedback", json={"answer_id": answer_id, "rating": "down"})
    assert mine.status_code == 201, mine.text


@dataclass
class FailingLLM(FakeLLM):
    """Streams two words, then fails like a crashed backend."""

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Iterator[StreamChunk]:
        self.prompts.append(list(messages))
        yield StreamChunk(text="Starten")
        yield StreamChunk(text=" Sie")
        raise GenerationFailed("the model stopped responding", hint="check the server log")


@dataclass
class SlowLLM(FakeLLM):
    """One word every ``delay_s``; records how many it produced and whether it was closed."""

    delay_s: float = 0.05
    produced: int = 0
    closed: threading.Event = field(default_factory=threading.Event)

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Iterator[StreamChunk]:
        try:
            for chunk in super().stream(messages, params):
                time.sleep(self.delay_s)
                self.produced += 1
                yield chunk
        finally:
            self.closed.set()


def make_services(tmp_path: Path, llm: FakeLLM) -> Services:
    return fake_services(tmp_path, llm)


@pytest.fixture
def failing(tmp_path: Path) -> Iterator[tuple[Services, TestClient]]:
    svc = make_services(tmp_path, FailingLLM())
    with TestClient(create_app(services=svc)) as test_client:
        yield svc, test_client
    svc.close()


def test_a_failure_mid_stream_arrives_as_an_error_event(
    failing: tuple[Services, TestClient],
) -> None:
    svc, client = failing
    events = chat(client, VPN_Q)
    assert names(events) == ["sources", "token", "token", "error"]
    assert events[-1][1] == {
        "error": {
            "code": "generation_failed",
            "message": "the model stopped responding",
            "hint": "check the server log",
        }
    }
    assert svc.assistant.gate.stats().running == 0
    assert svc.conversations.stats(0, math.inf).questions == 0  # nothing half-stored


def test_a_full_queue_refuses_a_stream_before_it_starts_with_503(
    services: Services, client: TestClient
) -> None:
    services.assistant.gate = GenerationGate(max_queue=0)
    response = client.post("/v1/chat", json={"message": "Wie beantrage ich Urlaub?"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "overloaded"


def test_overload_during_a_stream_is_an_error_event_with_a_retry_hint(
    services: Services, client: TestClient
) -> None:
    """Admitted, but the model stays busy longer than the queue timeout."""
    gate = GenerationGate(max_queue=2, queue_timeout_s=0.2)
    services.assistant.gate = gate
    with gate.slot():  # another answer holds the model
        events = chat(client, "How do I claim the per diem?")
    assert names(events) == ["sources", "error"]
    error = events[-1][1]["error"]
    assert error["code"] == "overloaded"
    assert error["hint"] == "try again in 5 s"
    assert gate.stats().waiting == 0


def test_a_burst_admits_no_more_questions_than_the_queue_holds(
    services: Services, client: TestClient
) -> None:
    """The place is taken before retrieval, so questions arriving together cannot all pass
    the check and then wait beyond the queue's size."""
    gate = GenerationGate(max_queue=3, queue_timeout_s=10)
    services.assistant.gate = gate
    statuses: list[int] = []
    with gate.slot():  # the model is busy: every admitted question waits
        threads = [
            threading.Thread(
                target=lambda: statuses.append(
                    client.post("/v1/chat", json={"message": VPN_Q}).status_code
                )
            )
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 5
        while len(statuses) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert gate.stats().waiting == 3
    for thread in threads:
        thread.join(10)
    assert sorted(statuses) == [200, 200, 200, 503, 503, 503, 503, 503]


# --- a client that goes away ---


async def _drive(
    app: FastAPI,
    path: str,
    body: bytes,
    spec_version: str,
    leave: Callable[[bytes], bool],
) -> list[bytes]:
    """Drive the ASGI app like a server whose client disconnects once ``leave(received)``.

    ASGI spec 2.3 servers report it through ``receive`` (http.disconnect); 2.4 servers do too
    and also make ``send`` fail with an OSError.
    """
    chunks: list[bytes] = []
    body_sent = False
    gone = False

    async def receive() -> Message:
        nonlocal body_sent, gone
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        while not leave(b"".join(chunks)):
            await anyio.sleep(0.01)
        gone = True
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if gone and spec_version == "2.4":
            raise OSError("connection reset by peer")
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": spec_version},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    with anyio.fail_after(10):
        try:
            await app(scope, receive, send)
        except ClientDisconnect:  # how starlette reports the failed send of a 2.4 server
            assert spec_version == "2.4"
    return chunks


def _after_first_token(received: bytes) -> bool:
    return b"event: token" in received


@pytest.mark.parametrize("spec_version", ["2.3", "2.4"])
def test_a_disconnect_mid_stream_cancels_generation_and_frees_the_slot(
    tmp_path: Path, spec_version: str
) -> None:
    slow = SlowLLM()
    slow.queue(" ".join(f"Wort{i}" for i in range(100)))
    svc = make_services(tmp_path, slow)
    app = create_app(services=svc)
    try:
        with TestClient(app) as client:
            body = json.dumps({"message": VPN_Q}).encode()
            started = time.perf_counter()
            assert client.portal is not None  # the app runs in the client's event loop
            chunks = client.portal.call(
                _drive, app, "/v1/chat", body, spec_version, _after_first_token
            )
            assert time.perf_counter() - started < 3  # 100 words would take 5 s
            text = b"".join(chunks).decode()
            assert names(parse_sse(text))[:2] == ["sources", "token"]
            assert "event: done" not in text
            assert slow.closed.wait(5), "the LLM stream was not closed"
            assert slow.produced < 20
            stats = svc.assistant.gate.stats()
            assert (stats.running, stats.waiting) == (0, 0)
            assert svc.conversations.stats(0, math.inf).questions == 0
            # the model is free again: the next question gets an answer at once
            slow.delay_s = 0.0
            slow.queue("Starten Sie Cisco AnyConnect.")
            again = client.post("/v1/chat", json={"message": VPN_Q, "stream": False})
            assert again.json()["answer"] == "Starten Sie Cisco AnyConnect."
    finally:
        svc.close()


def _waiting_for_the_model(gate: GenerationGate, marker: bytes) -> Callable[[bytes], bool]:
    def leave(received: bytes) -> bool:
        return marker in received and gate.stats().waiting == 1

    return leave


_OPENAI_STREAM = {
    "model": "fake-llm",
    "messages": [{"role": "user", "content": VPN_Q}],
    "stream": True,
}


# Streamed routes a client can leave before its first token: the ASGI spec version of the
# server, the route, its body, and what the client has received when it leaves.
_LEAVING = pytest.mark.parametrize(
    ("spec_version", "path", "payload", "marker"),
    [
        ("2.3", "/v1/chat", {"message": VPN_Q}, b"event: sources"),
        ("2.4", "/v1/chat", {"message": VPN_Q}, b"event: sources"),
        # nothing is sent before the first token; the 499 it gets goes nowhere (uvicorn is
        # 2.3 and drops writes after a disconnect, a 2.4 server may raise on them instead)
        ("2.3", "/v1/chat/completions", _OPENAI_STREAM, b""),
    ],
)


@_LEAVING
def test_a_client_leaving_while_its_question_waits_frees_its_place(
    tmp_path: Path, spec_version: str, path: str, payload: dict[str, object], marker: bytes
) -> None:
    """A question waiting for the model must not keep its place, nor take the model later,
    once its client is gone."""
    slow = SlowLLM()
    svc = make_services(tmp_path, slow)
    gate = GenerationGate(max_queue=2, queue_timeout_s=30)
    svc.assistant.gate = gate
    app = create_app(services=svc)
    try:
        with TestClient(app) as client, gate.slot():  # another answer holds the model
            assert client.portal is not None
            started = time.perf_counter()
            client.portal.call(
                _drive,
                app,
                path,
                json.dumps(payload).encode(),
                spec_version,
                _waiting_for_the_model(gate, marker),
            )
            assert time.perf_counter() - started < 3  # not the 30 s queue timeout
            stats = gate.stats()
            assert (stats.waiting, stats.running) == (0, 1)
        assert slow.prompts == []  # the model never saw the abandoned question
        answers = svc.audit.records(event="answer")
        assert [(r.decision, r.details.get("reason")) for r in answers] == [
            ("error", "client_disconnected")
        ]
        assert svc.conversations.stats(0, math.inf).questions == 0
    finally:
        svc.close()


@_LEAVING
def test_a_client_leaving_while_the_model_reads_the_prompt_frees_the_model(
    tmp_path: Path, spec_version: str, path: str, payload: dict[str, object], marker: bytes
) -> None:
    """The prompt evaluation before the first token takes seconds on a small CPU; a client
    leaving meanwhile stops it there (the model's ``interrupt``), not when it is done."""
    reader = PrefillLLM(prefill_s=30.0)
    svc = make_services(tmp_path, reader)
    app = create_app(services=svc)
    try:
        with TestClient(app) as client:
            assert client.portal is not None
            started = time.perf_counter()
            client.portal.call(
                _drive,
                app,
                path,
                json.dumps(payload).encode(),
                spec_version,
                lambda received: marker in received and reader.reading.is_set(),
            )
            assert time.perf_counter() - started < 5  # not the 30 s the prompt would take
            assert reader.interrupted.is_set()
            stats = svc.assistant.gate.stats()
            assert (stats.running, stats.waiting) == (0, 0)
            # the model is free: the next question is answered
            reader.prefill_s = 0.0
            reader.queue("Starten Sie Cisco AnyConnect.")
            again = client.post("/v1/chat", json={"message": VPN_Q, "stream": False})
            assert again.json()["answer"] == "Starten Sie Cisco AnyConnect."
        decisions = sorted(
            (r.decision, str(r.details.get("reason"))) for r in svc.audit.records(event="answer")
        )
        assert decisions == [("answered", "None"), ("error", "client_disconnected")]
        assert svc.conversations.stats(0, math.inf).questions == 1
    finally:
        svc.close()


# --- conversations ---


def test_get_and_delete_a_conversation(client: TestClient, llm: FakeLLM) -> None:
    llm.queue("The per diem is 28 euros.")
    done = client.post("/v1/chat", json={"message": DIEM_Q, "stream": False}).json()
    cid = done["conversation_id"]
    conversation = client.get(f"/v1/conversations/{cid}")
    assert conversation.status_code == 200
    body = conversation.json()
    assert body["conversation_id"] == cid
    user, assistant = body["turns"]
    assert (user["role"], user["text"], user["ai_generated"], user["answer_id"]) == (
        "user",
        DIEM_Q,
        False,
        None,
    )
    assert assistant["role"] == "assistant"
    assert assistant["ai_generated"] is True
    assert assistant["answer_id"] == done["answer_id"]
    assert assistant["model"] == "fake-llm"
    assert assistant["sources"] == done["sources"]
    assert body["created"].endswith("Z") or body["created"].endswith("+00:00")

    deleted = client.delete(f"/v1/conversations/{cid}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert client.get(f"/v1/conversations/{cid}").status_code == 404
    assert client.delete(f"/v1/conversations/{cid}").status_code == 404
    feedback = client.post("/v1/feedback", json={"answer_id": done["answer_id"], "rating": "up"})
    assert feedback.status_code == 404


# --- feedback ---


def test_feedback_is_stored_and_unknown_answers_are_404(client: TestClient, llm: FakeLLM) -> None:
    llm.queue("Starten Sie Cisco AnyConnect.")
    done = chat(client, VPN_Q)[-1][1]
    response = client.post(
        "/v1/feedback",
        json={"answer_id": done["answer_id"], "rating": "down", "comment": "Schritt 2 fehlt"},
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["answer_id"], body["rating"], body["comment"]) == (
        done["answer_id"],
        "down",
        "Schritt 2 fehlt",
    )
    unknown = client.post("/v1/feedback", json={"answer_id": "nope", "rating": "up"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"answer_id": "a", "rating": "meh"}, "rating"),
        ({"answer_id": "", "rating": "up"}, "answer_id"),
        ({"answer_id": "a", "rating": "up", "comment": "x" * 2001}, "comment"),
    ],
)
def test_invalid_feedback_is_422(client: TestClient, body: dict[str, object], field: str) -> None:
    response = client.post("/v1/feedback", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


# --- search ---


def test_search_returns_ranked_passages_without_the_model(client: TestClient, llm: FakeLLM) -> None:
    response = client.post("/v1/search", json={"query": "per diem Germany euros", "k": 1})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "per diem Germany euros"
    assert len(body["results"]) == 1
    hit = body["results"][0]
    assert (hit["rank"], hit["source_id"], hit["heading"]) == (
        1,
        "finance/travel.md",
        "Travel expenses > Per diem",
    )
    assert "28 euros" in hit["text"]
    assert hit["lexical_score"] is not None  # a keyword match
    german = client.post("/v1/search", json={"query": "VPN verbinden AnyConnect"}).json()
    assert german["results"][0]["source_id"] == "it/vpn.md"
    assert [h["rank"] for h in german["results"]] == list(range(1, len(german["results"]) + 1))
    assert llm.prompts == []


def test_search_limits(client: TestClient) -> None:
    assert client.post("/v1/search", json={"query": "vpn", "k": 0}).status_code == 422
    assert client.post("/v1/search", json={"query": "vpn", "k": 51}).status_code == 422
    assert client.post("/v1/search", json={"query": ""}).status_code == 422
    too_long = client.post("/v1/search", json={"query": "x" * 2001})
    assert too_long.status_code == 413
    assert too_long.json()["error"]["field"] == "query"


# --- stats ---


def test_stats_count_answers_abstentions_feedback_and_latency(
    client: TestClient, llm: FakeLLM
) -> None:
    empty = client.get("/v1/admin/stats").json()
    assert (empty["questions"], empty["answer_rate"], empty["total_ms_p50"]) == (0, None, None)
    llm.queue("Starten Sie Cisco AnyConnect.", "The per diem is 28 euros.", "NOT_FOUND")
    first = chat(client, VPN_Q)[-1][1]
    second = chat(client, DIEM_Q)[-1][1]
    chat(client, "What is for lunch today?")
    client.post("/v1/feedback", json={"answer_id": first["answer_id"], "rating": "up"})
    client.post("/v1/feedback", json={"answer_id": second["answer_id"], "rating": "down"})
    stats = client.get("/v1/admin/stats", params={"days": 7})
    assert stats.status_code == 200
    body = stats.json()
    assert (body["questions"], body["answered"], body["abstained"]) == (3, 2, 1)
    assert (body["feedback_up"], body["feedback_down"]) == (1, 1)
    assert body["answer_rate"] == round(2 / 3, 4)
    assert body["deflection_rate"] == round(1 / 3, 4)
    assert body["total_ms_p50"] > 0 and body["total_ms_p95"] >= body["total_ms_p50"]
    assert body["first_token_ms_p50"] is not None
    assert client.get("/v1/admin/stats", params={"days": 0}).status_code == 422


# --- documentation ---


def test_openapi_documents_the_routes_and_their_errors(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    chat_post = paths["/v1/chat"]["post"]
    assert {"200", "404", "413", "422", "503"} <= set(chat_post["responses"])
    assert "text/event-stream" in chat_post["responses"]["200"]["content"]
    assert {"200", "404"} <= set(paths["/v1/conversations/{conversation_id}"]["get"]["responses"])
    assert {"204", "404"} <= set(
        paths["/v1/conversations/{conversation_id}"]["delete"]["responses"]
    )
    assert {"201", "404", "422"} <= set(paths["/v1/feedback"]["post"]["responses"])
    assert {"200", "413", "422"} <= set(paths["/v1/search"]["post"]["responses"])
    assert {"200", "422"} <= set(paths["/v1/admin/stats"]["get"]["responses"])
    ref = chat_post["responses"]["404"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/ErrorResponse")
    examples = spec["components"]["schemas"]["ChatRequest"]["examples"]
    assert examples[0] == {"message": VPN_Q}
