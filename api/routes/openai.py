"""OpenAI-compatible endpoints: ``POST /v1/chat/completions`` and ``GET /v1/models``.

Lotse acts as a *grounded* model. The last user message is the question; earlier user and
assistant messages are the conversation: a follow-up such as "und auf dem Mac?" is searched
together with the question before it, and the last few turns go into the prompt
(``assistant.condense``, the same rule as ``/v1/chat``). Client-supplied system and developer
messages are ignored (logged at DEBUG): Lotse's own instructions ground every answer. The
reply is the grounded answer or the abstention sentence; sources, ``abstained``,
``ai_generated`` and ``answer_id`` travel in the extra top-level field ``lotse`` that OpenAI
clients ignore.

Streaming (``stream: true``) sends server-sent events ``data: {chunk}`` and ends with
``data: [DONE]``. The response starts once the first token (or the abstention) is ready, so
that a full queue or a failing model is still a proper HTTP error (503 with Retry-After, which
OpenAI clients retry); an error after that arrives as one ``data: {"error": {...}}`` event.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import replace
from typing import Literal

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.auditing import audited_ask, audited_stream
from api.auth import Role
from api.deps import CallerDep, ServicesDep, require
from api.errors import ErrorBody, responses, status_for
from api.schemas import SourceOut
from api.schemas_openai import (
    AssistantMessage,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionRequest,
    ChatCompletionResponse,
    Choice,
    ChunkChoice,
    Delta,
    LotseExtras,
    ModelCard,
    ModelList,
    Usage,
)
from api.streaming import EventStreamResponse, until_disconnect
from api.wiring import Services
from assistant.abstention import abstain_message
from assistant.answering import Answer, AnswerEvent, Assistant, DoneEvent, SourcesEvent, TokenEvent
from assistant.condense import recent_history, standalone_query
from models.errors import ClientGone, InvalidInput, LotseError, NotFound

logger = logging.getLogger(__name__)

router = APIRouter(
    tags=["openai"],
    dependencies=[require(Role.employee)],
    responses=responses(401, 403),
)

FinishReason = Literal["stop", "length"]


def conversation_history(messages: Sequence[ChatCompletionMessage]) -> list[tuple[str, str]]:
    """The ``(role, text)`` user and assistant turns before the question, oldest first."""
    return [(m.role, m.text()) for m in messages[:-1] if m.role in ("user", "assistant")]


def served_models(services: Services) -> list[str]:
    """The model ids this server answers for (what ``GET /v1/models`` lists)."""
    return [services.llm.model_id]


def _check_model(services: Services, model: str) -> None:
    served = served_models(services)
    if model not in served:
        raise NotFound(
            f"the model {model!r} is not served here; available: {', '.join(served)}",
            hint="use a model id from GET /v1/models",
        )


def _assistant_for(base: Assistant, body: ChatCompletionRequest) -> tuple[Assistant, int]:
    """The assistant with the request's bounds: at most the configured answer length, the
    requested temperature. Shares retriever, model and generation gate with ``base``."""
    limit = base.config.max_tokens
    max_tokens = min(body.answer_tokens() or limit, limit)
    temperature = base.config.temperature if body.temperature is None else body.temperature
    if (max_tokens, temperature) == (limit, base.config.temperature):
        return base, max_tokens
    tuned = copy.copy(base)
    tuned.config = replace(base.config, max_tokens=max_tokens, temperature=temperature)
    return tuned, max_tokens


def _extras(answer: Answer) -> LotseExtras:
    return LotseExtras(
        sources=[SourceOut.model_validate(s.as_dict()) for s in answer.sources],
        abstained=answer.abstained,
        ai_generated=answer.ai_generated,
        answer_id=answer.answer_id,
    )


def _usage(answer: Answer) -> Usage:
    prompt, completion = answer.timings.prompt_tokens, answer.timings.completion_tokens
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def _finish_reason(answer: Answer, max_tokens: int) -> FinishReason:
    if not answer.abstained and answer.timings.completion_tokens >= max_tokens:
        return "length"
    return "stop"


@router.get(
    "/v1/models",
    response_model=ModelList,
    summary="The model ids /v1/chat/completions accepts (OpenAI-compatible)",
)
def list_models(services: ServicesDep) -> ModelList:
    now = int(time.time())
    return ModelList(data=[ModelCard(id=model, created=now) for model in served_models(services)])


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletionResponse,
    summary="Grounded answer in the OpenAI Chat Completions shape (streaming or not)",
    responses={
        **responses(404, 413, 422, 503),
        200: {
            "description": "A chat.completion object, or with stream=true server-sent "
            "chat.completion.chunk events ending with `data: [DONE]`.",
            "content": {"text/event-stream": {}},
        },
    },
)
async def chat_completions(
    body: ChatCompletionRequest, request: Request, services: ServicesDep, caller: CallerDep
) -> ChatCompletionResponse | StreamingResponse:
    _check_model(services, body.model)
    question = body.messages[-1].text().strip()
    limit = services.settings.api.max_question_chars
    if len(question) > limit:
        raise InvalidInput(
            f"the last user message has {len(question)} characters, the limit is {limit}",
            field="messages",
            too_large=True,
        )
    ignored = sum(1 for m in body.messages if m.role in ("system", "developer"))
    if ignored:
        logger.debug("openai_chat system_messages_ignored=%d", ignored)
    earlier = conversation_history(body.messages)
    query = standalone_query(earlier, question)
    history = recent_history(earlier)
    assistant, max_tokens = _assistant_for(services.assistant, body)
    logger.info(
        "openai_chat stream=%s messages=%d history=%d follow_up=%s max_tokens=%d",
        body.stream,
        len(body.messages),
        len(history),
        query != question,
        max_tokens,
    )
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        cancelled = threading.Event()
        events = audited_stream(
            services,
            assistant,
            question,
            caller,
            endpoint="chat_completions",
            search_query=query,
            history=history,
            cancelled=cancelled,
        )
        # the first token comes after the queue: a client leaving meanwhile frees its place
        started = await until_disconnect(request.receive, cancelled, lambda: _start(events))
        chunks = _ChunkWriter(
            completion_id=f"chatcmpl-{uuid.uuid4().hex}",
            created=int(time.time()),
            model=services.llm.model_id,
        )
        return EventStreamResponse(
            _sse(events, started, chunks, max_tokens, include_usage), cancelled
        )
    answer = await run_in_threadpool(
        audited_ask,
        services,
        assistant,
        question,
        caller,
        endpoint="chat_completions",
        search_query=query,
        history=history,
    )
    return ChatCompletionResponse(
        id=f"chatcmpl-{answer.answer_id}",
        created=int(time.time()),
        model=answer.model,
        choices=[
            Choice(
                message=AssistantMessage(content=answer.answer),
                finish_reason=_finish_reason(answer, max_tokens),
            )
        ],
        usage=_usage(answer),
        lotse=_extras(answer),
    )


def _advance(events: Iterator[AnswerEvent]) -> AnswerEvent | None:
    return next(events, None)


async def _close(events: Iterator[AnswerEvent]) -> None:
    """Close the answer stream (cancels generation, frees the model), even when cancelled."""
    close = getattr(events, "close", None)
    if close is None:
        return
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(close)


async def _start(events: Iterator[AnswerEvent]) -> list[AnswerEvent]:
    """Run the stream up to its first token or its end, so early failures stay HTTP errors."""
    started: list[AnswerEvent] = []
    try:
        while True:
            event = await run_in_threadpool(_advance, events)
            if event is None:
                break
            started.append(event)
            if not isinstance(event, SourcesEvent):
                break
    except BaseException:
        await _close(events)
        raise
    return started


class _ChunkWriter:
    """Formats the ``data:`` lines of one streamed completion (shared id, time and model)."""

    def __init__(self, *, completion_id: str, created: int, model: str) -> None:
        self.completion_id = completion_id
        self.created = created
        self.model = model
        self.sent_role = False

    def chunk(
        self,
        content: str | None = None,
        *,
        finish_reason: FinishReason | None = None,
        lotse: LotseExtras | None = None,
    ) -> str:
        delta = Delta(content=content)
        if not self.sent_role:
            delta.role = "assistant"
            self.sent_role = True
        chunk = ChatCompletionChunk(
            id=self.completion_id,
            created=self.created,
            model=self.model,
            choices=[ChunkChoice(delta=delta, finish_reason=finish_reason)],
            lotse=lotse,
        )
        payload = chunk.model_dump(mode="json", exclude_none=True)
        for choice in payload["choices"]:  # OpenAI sends these as explicit nulls
            choice.setdefault("finish_reason", None)
            choice.setdefault("logprobs", None)
        return _data(json.dumps(payload, ensure_ascii=False))

    def usage(self, usage: Usage) -> str:
        chunk = ChatCompletionChunk(
            id=self.completion_id,
            created=self.created,
            model=self.model,
            choices=[],
            usage=usage,
        )
        return _data(json.dumps(chunk.model_dump(mode="json", exclude_none=True)))


def _data(payload: str) -> str:
    return f"data: {payload}\n\n"


def _error_event(exc: LotseError) -> str:
    _, code = status_for(exc)
    body = ErrorBody(code=code, message=exc.message, hint=exc.hint)
    return _data(json.dumps({"error": body.model_dump(exclude_none=True)}))


async def _sse(
    events: Iterator[AnswerEvent],
    started: list[AnswerEvent],
    chunks: _ChunkWriter,
    max_tokens: int,
    include_usage: bool,
) -> AsyncIterator[str]:
    streamed: list[str] = []
    answer: Answer | None = None
    try:
        pending = iter(started)
        while answer is None:
            event = next(pending, None)
            if event is None:
                event = await run_in_threadpool(_advance, events)
            if event is None:
                break
            if isinstance(event, TokenEvent):
                streamed.append(event.text)
                yield chunks.chunk(event.text)
            elif isinstance(event, DoneEvent):
                answer = event.answer
        if answer is None:
            yield _error_event(
                LotseError("the answer stream ended without a result", hint="try again")
            )
            return
        if answer.abstained:
            sentence = abstain_message(answer.language)
            text = "".join(streamed)
            if sentence not in text:
                yield chunks.chunk(f"\n\n{sentence}" if text.strip() else sentence)
        yield chunks.chunk(finish_reason=_finish_reason(answer, max_tokens), lotse=_extras(answer))
        if include_usage:
            yield chunks.usage(_usage(answer))
        yield _data("[DONE]")
    except ClientGone:
        logger.info("openai_chat stream cancelled by the client; generation stopped")
    except LotseError as exc:
        logger.warning("openai_chat_stream_failed error=%s", exc)
        yield _error_event(exc)
    finally:
        await _close(events)
