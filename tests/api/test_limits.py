"""Overload (bounded generation queue), timeouts and the request body limit."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send

from api.app import create_app
from api.limits import BodyLimitMiddleware
from api.settings import Settings
from api.wiring import Services, build_services
from assistant.generation import GenerationGate
from knowledge.documents import Document, sha256_bytes
from models.errors import GenerationFailed
from models.llm import ChatMessage, FakeLLM, GenerationParams, StreamChunk
from tests.api.conftest import PrefillLLM, post_stopped_by_the_time_limit

WAIT_S = 20.0
MAX_QUEUE = 2
REPLY = "Starten Sie Cisco AnyConnect; the per diem is 28 euros."

DOCS = {
    "it/vpn.md": "# VPN\n\n## Verbindung\n\nStarten Sie Cisco AnyConnect und verbinden Sie sich.",
    "finance/travel.md": "# Travel\n\n## Per diem\n\nThe per diem for a full day is 28 euros.",
}


@dataclass
class BlockingLLM(FakeLLM):
    """A ``FakeLLM`` whose every generation waits until ``release`` is set."""

    release: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Iterator[StreamChunk]:
        self.started.set()
        if not self.release.wait(WAIT_S):
            raise GenerationFailed("the test never released the model")
        yield from super().stream(messages, params)


@dataclass
class SlowLLM(FakeLLM):
    """A ``FakeLLM`` that takes ``delay_s`` per token."""

    delay_s: float = 0.05

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Iterator[StreamChunk]:
        for chunk in super().stream(messages, params):
            time.sleep(self.delay_s)
            yield chunk


def limited_settings(tmp_path: Path, **api: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        models={"llm_backend": "fake", "embedder": "fake"},
        knowledge={"store": "memory"},
        retrieval={"min_evidence": -1.0, "min_answer_support": 0.0},
        api={"max_body_bytes": 2048, **api},
    )


def services_with(settings: Settings, llm: FakeLLM) -> Services:
    svc = build_services(settings, llm=llm)
    svc.knowledge.indexer.sync_documents(
        "sample",
        [
            Document(
                source_id=sid,
                title=sid,
                text=text,
                format="markdown",
                content_hash=sha256_bytes(text.encode()),
                source="sample",
            )
            for sid, text in DOCS.items()
        ],
    )
    return svc


@pytest.fixture
def blocking(tmp_path: Path) -> Iterator[tuple[TestClient, BlockingLLM, Services]]:
    llm = BlockingLLM(default_reply=REPLY)
    settings = limited_settings(tmp_path, max_queue=MAX_QUEUE, queue_timeout_s=WAIT_S)
    svc = services_with(settings, llm)
    try:
        with TestClient(create_app(services=svc)) as client:
            yield client, llm, svc
    finally:
        llm.release.set()
        svc.close()


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


# -- overload -----------------------------------------------------------------------------------
def test_beyond_the_queue_requests_get_503_with_retry_after_then_all_others_answer(
    blocking: tuple[TestClient, BlockingLLM, Services],
) -> None:
    """max_queue=N: one question generates, N wait, so of N+2 concurrent ones exactly one is
    refused at once; the rest are answered when the model is free again."""
    client, llm, svc = blocking
    gate = svc.assistant.gate
    questions = ["Wie verbinde ich mich mit dem VPN?", "What is the per diem?"]
    results: list[tuple[int, str]] = []
    lock = threading.Lock()

    def ask(question: str) -> None:
        response = client.post("/v1/ask", json={"question": question})
        with lock:
            results.append((response.status_code, response.json().get("answer", "")))

    first = threading.Thread(target=ask, args=(questions[0],))
    first.start()
    assert llm.started.wait(WAIT_S)
    wait_until(lambda: gate.stats().running == 1)
    waiting = [
        threading.Thread(target=ask, args=(questions[i % 2],)) for i in range(1, MAX_QUEUE + 1)
    ]
    for thread in waiting:
        thread.start()
    wait_until(lambda: gate.stats().waiting == MAX_QUEUE)

    refused = client.post("/v1/ask", json={"question": "Noch eine Frage zum VPN?"})
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == str(5 * (MAX_QUEUE + 1))
    assert refused.json() == {
        "error": {
            "code": "overloaded",
            "message": f"{MAX_QUEUE} questions are already waiting for the model",
        }
    }
    queue = client.get("/readyz").json()["queue"]
    assert queue == {"waiting": MAX_QUEUE, "running": 1, "rejected": 1, "max_queue": MAX_QUEUE}
    # a streamed chat is refused before its first event, with a real 503 (not an SSE error)
    streamed = client.post("/v1/chat", json={"message": "Und der VPN-Server?", "stream": True})
    assert streamed.status_code == 503
    assert streamed.headers["content-type"].startswith("application/json")
    assert streamed.headers["Retry-After"] == str(5 * (MAX_QUEUE + 1))
    assert streamed.json()["error"]["code"] == "overloaded"
    assert gate.stats().rejected == 2

    llm.release.set()
    for thread in [first, *waiting]:
        thread.join(WAIT_S)
    assert results == [(200, REPLY)] * (MAX_QUEUE + 1)
    assert gate.stats().waiting == gate.stats().running == 0
    assert client.post("/v1/ask", json={"question": "What is the per diem?"}).status_code == 200


def test_waiting_longer_than_the_queue_timeout_is_503(tmp_path: Path) -> None:
    llm = BlockingLLM()
    svc = services_with(limited_settings(tmp_path, queue_timeout_s=0.2), llm)
    try:
        with TestClient(create_app(services=svc)) as client:
            first = threading.Thread(
                target=client.post, args=("/v1/ask",), kwargs={"json": {"question": "VPN?"}}
            )
            first.start()
            assert llm.started.wait(WAIT_S)
            late = client.post("/v1/ask", json={"question": "What is the per diem?"})
            llm.release.set()
            first.join(WAIT_S)
        assert late.status_code == 503
        assert late.json()["error"]["code"] == "overloaded"
        assert late.json()["error"]["message"] == (
            "waited 0.2 s for the model without getting a turn"
        )
        assert "Retry-After" in late.headers
    finally:
        llm.release.set()
        svc.close()


def test_a_generation_longer_than_its_timeout_is_502(tmp_path: Path) -> None:
    llm = SlowLLM(default_reply="Die Antwort kommt sehr langsam an.", delay_s=0.05)
    svc = services_with(limited_settings(tmp_path, generation_timeout_s=0.01), llm)
    try:
        with TestClient(create_app(services=svc)) as client:
            response = client.post("/v1/ask", json={"question": "Wie verbinde ich das VPN?"})
        assert response.status_code == 502
        assert response.json()["error"] == {
            "code": "generation_failed",
            "message": "the model took longer than 0.01 s",
        }
        assert svc.assistant.gate.stats().running == 0
    finally:
        svc.close()


@pytest.mark.parametrize("question", ["Wie verbinde ich das VPN?", "How do I connect the VPN?"])
def test_a_prompt_evaluation_longer_than_the_generation_timeout_is_stopped_and_502(
    tmp_path: Path, question: str
) -> None:
    reader = PrefillLLM(prefill_s=30.0)
    svc = services_with(limited_settings(tmp_path, generation_timeout_s=0.2), reader)
    try:
        with TestClient(create_app(services=svc)) as client:
            post_stopped_by_the_time_limit(
                client, "/v1/ask", {"question": question}, reader, svc, 0.2
            )
    finally:
        svc.close()


def test_api_settings_reach_the_gate_and_the_answer_config(tmp_path: Path) -> None:
    settings = limited_settings(
        tmp_path, max_queue=3, queue_timeout_s=7.5, generation_timeout_s=42.0
    )
    svc = build_services(settings, llm=FakeLLM())
    try:
        assert (svc.assistant.gate.max_queue, svc.assistant.gate.queue_timeout_s) == (3, 7.5)
        assert svc.assistant.config.generation_timeout_s == 42.0
    finally:
        svc.close()
    defaults = Settings().api
    assert (defaults.max_queue, defaults.max_body_bytes) == (8, 1_000_000)
    assert (defaults.queue_timeout_s, defaults.generation_timeout_s) == (60.0, 120.0)


@pytest.mark.parametrize(
    "api",
    [
        {"max_queue": 0},
        {"max_queue": 1001},
        {"queue_timeout_s": 0},
        {"generation_timeout_s": -1},
        {"max_body_bytes": 10},
    ],
)
def test_api_limits_are_bounded(api: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(api=api)


# -- body limit ---------------------------------------------------------------------------------
@pytest.fixture
def small_body(tmp_path: Path) -> Iterator[TestClient]:
    svc = services_with(limited_settings(tmp_path), FakeLLM(default_reply=REPLY))
    try:
        with TestClient(create_app(services=svc)) as client:
            yield client
    finally:
        svc.close()


def test_a_declared_body_over_the_limit_is_413(small_body: TestClient) -> None:
    body = json.dumps({"question": "x" * 3000}).encode()
    response = small_body.post(
        "/v1/ask", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "code": "too_large",
            "message": "the request body has 3016 bytes, the limit is 2048 bytes",
            "hint": "send a smaller request (the limit is the setting api.max_body_bytes)",
        }
    }


def test_a_chunked_body_over_the_limit_is_413(small_body: TestClient) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(30):
            yield b"y" * 100
        yield b'"}'

    response = small_body.post(
        "/v1/admin/sources", content=body(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["message"] == (
        "the request body is larger than the limit of 2048 bytes"
    )


def test_a_body_under_the_limit_reaches_the_route(small_body: TestClient) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"question": '
        yield b'"Wie verbinde ich mich mit dem VPN?"}'

    response = small_body.post(
        "/v1/ask", content=body(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["sources"][0]["source_id"] == "it/vpn.md"


class Recorder:
    """A tiny ASGI app that reads the whole body and answers with its length."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        parts = []
        while True:
            message = await receive()
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        self.bodies.append(b"".join(parts))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def run_asgi(
    app: BodyLimitMiddleware, chunks: list[bytes], headers: list[tuple[bytes, bytes]]
) -> tuple[list[Message], int]:
    """Run one request through ``app``; the messages it sent and how often it read."""
    sent: list[Message] = []
    reads = 0

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        index = reads - 1
        if index >= len(chunks):
            return {"type": "http.disconnect"}
        return {
            "type": "http.request",
            "body": chunks[index],
            "more_body": index < len(chunks) - 1,
        }

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/v1/ask", "headers": headers}
    asyncio.run(app(scope, receive, send))
    return sent, reads


def test_the_middleware_stops_reading_once_the_limit_is_passed() -> None:
    inner = Recorder()
    sent, reads = run_asgi(BodyLimitMiddleware(inner, max_body_bytes=10), [b"123456"] * 5, [])
    assert reads == 2
    assert inner.bodies == []
    assert sent[0]["status"] == 413


def test_the_middleware_passes_chunked_bodies_whole() -> None:
    inner = Recorder()
    sent, reads = run_asgi(BodyLimitMiddleware(inner, max_body_bytes=10), [b"12345", b"678"], [])
    assert inner.bodies == [b"12345678"]
    assert sent[0]["status"] == 204
    assert reads == 2


def test_the_middleware_trusts_no_body_it_has_not_counted() -> None:
    inner = Recorder()
    headers = [(b"content-length", b"3")]  # a lie: 12 bytes follow
    sent, _ = run_asgi(BodyLimitMiddleware(inner, max_body_bytes=10), [b"123456"] * 2, headers)
    assert sent[0]["status"] == 413
    assert inner.bodies == []


def test_gate_default_matches_the_settings_default() -> None:
    assert GenerationGate().max_queue == Settings().api.max_queue
