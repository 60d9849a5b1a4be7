"""LLM backend for any OpenAI-compatible chat server (llama.cpp's server, vLLM, …).

Streams ``POST {base}/v1/chat/completions`` with ``stream=true`` (server-sent events) and asks for
usage in the final chunk (``stream_options.include_usage``); servers that do not send usage get
an estimate. Closing a stream early closes the HTTP response, which servers take as a
cancellation; so does ``GenerationParams.interrupt``, asked at every event the server sends
(while the server still reads the prompt, before its first event, nothing arrives to ask at:
its own request timeout bounds that wait).

Token counting asks the server: llama.cpp's ``POST /tokenize`` (``{"content": …}``, also
vLLM's ``{"prompt": …}``), then llama-cpp-python's ``POST /extras/tokenize`` (``{"input": …}``);
if neither exists, ``len(text) / 4`` is used. The first endpoint that works is remembered.

Errors: the server cannot be reached -> ``ModelUnavailable``; the server answers with an error
status, sends garbage, or times out -> ``GenerationFailed`` carrying the server's message.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from models.errors import GenerationFailed, GenerationInterrupted, ModelUnavailable
from models.llm import (
    ChatMessage,
    Completion,
    GenerationParams,
    StreamChunk,
    TokenCountMemo,
    Usage,
    collect,
)

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

_CHARS_PER_TOKEN = 4
_PER_MESSAGE_OVERHEAD = 4
_NO_TOKENIZER = "estimate"


class OpenAICompatibleLLM:
    """``LLM`` talking to a remote OpenAI-compatible server.

    ``base_url`` is the server root (``http://127.0.0.1:8080``); a trailing ``/v1`` is accepted.
    ``transport`` replaces the network (``httpx.MockTransport`` in tests).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 120,
        context_size: int = 4096,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        import httpx

        root = base_url.rstrip("/")
        if root.endswith("/v1"):
            root = root[: -len("/v1")]
        self.base_url = root
        self.model = model
        self.model_id = model
        self.context_size = context_size
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(
            base_url=root,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            transport=transport,
        )
        self._tokenize_route: str | None = None  # discovered on first count_tokens
        self._token_counts = TokenCountMemo(self._server_count)

    def close(self) -> None:
        self._client.close()

    # --- tokens -------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        return self._token_counts(text)

    def _server_count(self, text: str) -> int:
        for route in self._tokenize_routes():
            count = self._tokenize(route, text)
            if count is not None:
                if self._tokenize_route != route:
                    logger.info("llm_tokenizer_found base_url=%s route=%s", self.base_url, route)
                self._tokenize_route = route
                return count
        if self._tokenize_route != _NO_TOKENIZER:
            logger.info("llm_tokenizer_missing base_url=%s using=len/4", self.base_url)
        self._tokenize_route = _NO_TOKENIZER
        return max(1, math.ceil(len(text) / _CHARS_PER_TOKEN))

    def _tokenize_routes(self) -> tuple[str, ...]:
        if self._tokenize_route == _NO_TOKENIZER:
            return ()
        if self._tokenize_route is not None:
            return (self._tokenize_route,)
        return ("/tokenize", "/extras/tokenize")

    def _tokenize(self, route: str, text: str) -> int | None:
        import httpx

        if route == "/tokenize":  # llama.cpp ("content") and vLLM ("prompt", "model")
            body: dict[str, Any] = {
                "content": text,
                "prompt": text,
                "model": self.model,
                "add_special": False,
                "add_special_tokens": False,
            }
        else:  # llama-cpp-python
            body = {"input": text, "model": self.model}
        try:
            response = self._client.post(route, json=body)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code >= 400:
            return None
        try:
            tokens = response.json()["tokens"]
        except (ValueError, KeyError, TypeError):
            return None
        return len(tokens) if isinstance(tokens, list) else None

    def _estimate_prompt(self, messages: Sequence[ChatMessage]) -> int:
        text = "\n".join(m.content for m in messages)
        return self.count_tokens(text) + _PER_MESSAGE_OVERHEAD * len(messages)

    # --- generation ---------------------------------------------------------------------

    def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        return collect(self.stream(messages, params))

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Iterator[StreamChunk]:
        import httpx

        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if params.stop:
            body["stop"] = list(params.stop)
        started = time.perf_counter()
        parts: list[str] = []
        finish: str | None = None
        usage: Usage | None = None
        try:
            with self._client.stream("POST", "/v1/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise GenerationFailed(
                        f"the LLM server at {self.base_url} answered {response.status_code}: "
                        f"{_error_message(response)}"
                    )
                for event in _sse_events(response.iter_lines()):
                    if params.interrupt is not None and params.interrupt():
                        raise GenerationInterrupted(
                            f"{self.model_id} was interrupted after {len(parts)} pieces"
                        )
                    if event == "[DONE]":
                        break
                    chunk = _parse_chunk(event, self.base_url)
                    if chunk.get("error"):
                        raise GenerationFailed(
                            f"the LLM server at {self.base_url} failed: {_describe(chunk['error'])}"
                        )
                    if isinstance(chunk.get("usage"), dict):
                        usage = _usage(chunk["usage"]) or usage
                    for choice in chunk.get("choices") or []:
                        if choice.get("finish_reason"):
                            finish = str(choice["finish_reason"])
                        text = (choice.get("delta") or {}).get("content") or ""
                        if text:
                            parts.append(text)
                            yield StreamChunk(text=text)
        except GeneratorExit:
            logger.info(
                "llm_stream_abandoned backend=openai model_id=%s pieces=%d seconds=%.2f",
                self.model_id,
                len(parts),
                time.perf_counter() - started,
            )
            raise
        except httpx.TimeoutException as exc:
            raise GenerationFailed(
                f"the LLM server at {self.base_url} did not answer in time: {exc!r}"
            ) from exc
        except httpx.TransportError as exc:
            if not parts and isinstance(exc, httpx.ConnectError):
                raise self._unreachable(exc) from exc
            raise GenerationFailed(
                f"the connection to the LLM server at {self.base_url} broke: {exc}"
            ) from exc
        if usage is None or usage.prompt_tokens <= 0:
            usage = Usage(
                prompt_tokens=self._estimate_prompt(messages),
                completion_tokens=self.count_tokens("".join(parts)),
            )
        finish = _normalise_finish(finish)
        logger.info(
            "llm_generated backend=openai model_id=%s prompt_tokens=%d completion_tokens=%d "
            "finish=%s seconds=%.2f",
            self.model_id,
            usage.prompt_tokens,
            usage.completion_tokens,
            finish,
            time.perf_counter() - started,
        )
        yield StreamChunk(text="", finish_reason=finish, usage=usage)

    def _unreachable(self, exc: Exception) -> ModelUnavailable:
        return ModelUnavailable(
            self.model_id,
            f"cannot reach the LLM server at {self.base_url}: {exc}",
            hint="start the server or fix the configured URL",
        )


def _sse_events(lines: Iterator[str]) -> Iterator[str]:
    """The ``data`` payloads of a server-sent event stream (multi-line data joined)."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def _parse_chunk(event: str, base_url: str) -> dict[str, Any]:
    try:
        chunk = json.loads(event)
    except ValueError as exc:
        raise GenerationFailed(
            f"the LLM server at {base_url} sent a stream event that is not JSON: {event[:200]!r}"
        ) from exc
    if not isinstance(chunk, dict):
        raise GenerationFailed(f"the LLM server at {base_url} sent an unexpected event")
    return chunk


def _usage(raw: dict[str, Any]) -> Usage | None:
    try:
        return Usage(int(raw["prompt_tokens"]), int(raw.get("completion_tokens") or 0))
    except (KeyError, TypeError, ValueError):
        return None


def _normalise_finish(finish: str | None) -> str:
    if finish in (None, "eos", "stop_sequence"):
        return "stop"
    return finish


def _describe(error: object) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def _error_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(data, dict):
        for key in ("error", "detail", "message"):
            if key in data:
                return _describe(data[key])[:500]
    return str(data)[:500]
