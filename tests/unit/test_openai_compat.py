"""OpenAICompatibleLLM against httpx.MockTransport: SSE parsing, usage, error mapping."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from models.errors import GenerationFailed, ModelUnavailable
from models.llm import ChatMessage, Completion, GenerationParams, StreamChunk, Usage
from models.openai_compat import OpenAICompatibleLLM

MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hallo Welt")]
Handler = Callable[[httpx.Request], httpx.Response]


def sse(*events: object, done: bool = True) -> bytes:
    lines = [f"data: {json.dumps(e)}\n\n" for e in events]
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def delta(text: str, finish: str | None = None) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}


def make(handler: Handler, **kwargs: object) -> OpenAICompatibleLLM:
    return OpenAICompatibleLLM(
        "http://llm.local:8080/v1/",
        "qwen",
        transport=httpx.MockTransport(handler),
        **kwargs,  # type: ignore[arg-type]
    )


def test_streams_sse_and_takes_usage_from_the_final_chunk() -> None:
    seen: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/chat/completions"
        assert request.headers["authorization"] == "Bearer secret"
        seen.append(json.loads(request.content))
        body = sse(
            delta("Hal"),
            delta("lo!"),
            delta("", "stop"),
            {"choices": [], "usage": {"prompt_tokens": 17, "completion_tokens": 2}},
        )
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    llm = make(handler, api_key="secret")
    chunks = list(llm.stream(MESSAGES, GenerationParams(max_tokens=5, stop=("\n\n",))))

    assert chunks == [
        StreamChunk("Hal"),
        StreamChunk("lo!"),
        StreamChunk("", finish_reason="stop", usage=Usage(17, 2)),
    ]
    assert seen[0]["stream"] is True and seen[0]["max_tokens"] == 5
    assert seen[0]["stop"] == ["\n\n"]
    assert seen[0]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hallo Welt"},
    ]


def test_without_usage_it_counts_with_the_servers_tokenizer() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/tokenize":
            text = json.loads(request.content)["content"]
            return httpx.Response(200, json={"tokens": list(range(len(text.split())))})
        return httpx.Response(200, content=sse(delta("eins zwei drei"), delta("", "length")))

    completion = make(handler).complete(MESSAGES, GenerationParams())
    # prompt: "Be brief.\nHallo Welt" -> 4 words + 4 per message; completion: 3 words
    assert completion == Completion("eins zwei drei", "length", Usage(4 + 8, 3))


def test_count_tokens_falls_back_to_extras_then_to_an_estimate() -> None:
    calls: list[str] = []

    def extras(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/extras/tokenize":
            return httpx.Response(200, json={"tokens": [1, 2, 3]})
        return httpx.Response(404, json={"detail": "Not Found"})

    llm = make(extras)
    assert llm.count_tokens("drei Wörter hier") == 3
    assert llm.count_tokens("noch einmal") == 3
    assert calls == ["/tokenize", "/extras/tokenize", "/extras/tokenize"]

    none = make(lambda request: httpx.Response(404))
    assert none.count_tokens("x" * 41) == 11
    assert none.count_tokens("") == 0


def test_http_error_is_generation_failed_with_the_servers_message() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"error": {"message": "Requested tokens (5000) exceed context window"}}
        )

    with pytest.raises(GenerationFailed) as caught:
        make(handler).complete(MESSAGES, GenerationParams())
    assert str(caught.value) == (
        "the LLM server at http://llm.local:8080 answered 400: "
        "Requested tokens (5000) exceed context window"
    )


def test_error_event_in_the_stream_is_generation_failed() -> None:
    body = sse(delta("Hal"), {"error": {"message": "out of memory"}})
    llm = make(lambda request: httpx.Response(200, content=body))
    with pytest.raises(GenerationFailed, match="failed: out of memory"):
        llm.complete(MESSAGES, GenerationParams())


def test_garbage_event_is_generation_failed() -> None:
    llm = make(lambda request: httpx.Response(200, content=b"data: {not json\n\n"))
    with pytest.raises(GenerationFailed, match="not JSON"):
        llm.complete(MESSAGES, GenerationParams())


def test_connection_refused_is_model_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    with pytest.raises(ModelUnavailable) as caught:
        make(handler).complete(MESSAGES, GenerationParams())
    assert str(caught.value).startswith(
        "cannot reach the LLM server at http://llm.local:8080: Connection refused"
    )


def test_timeout_is_generation_failed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(GenerationFailed, match="did not answer in time"):
        make(handler).complete(MESSAGES, GenerationParams())
