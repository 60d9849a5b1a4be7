"""``POST /v1/chat`` (streamed or not) and the conversations it keeps.

A streamed answer is Server-Sent Events, in this order: one ``sources`` event as soon as
retrieval is done, ``token`` events, one ``done`` event (the ``ChatResponse``). A failure after
the stream has started arrives as an ``error`` event whose data is the one JSON error shape.
A client that goes away cancels its answer: one still waiting for the model leaves the queue
(``api.streaming``), and during generation the answer generator is closed, which closes the
model's stream and frees the generation slot. Both turns are stored when the answer
is complete; an interrupted answer stores nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import anyio
from fastapi import APIRouter, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.auditing import audited_ask, audited_stream
from api.auth import Role
from api.deps import CallerDep, ServicesDep, require
from api.errors import ErrorBody, responses, status_for
from api.schemas import (
    ChatRequest,
    ChatResponse,
    ChatSourcesEvent,
    ChatStreamEvent,
    ChatTokenEvent,
    ConversationOut,
    SourceOut,
    TurnOut,
)
from api.streaming import EventStreamResponse
from assistant.answering import Answer, AnswerEvent, DoneEvent, SourcesEvent, TokenEvent
from assistant.condense import recent_history, standalone_query
from assistant.conversations import Conversation, ConversationStore, Turn
from assistant.identity import Caller
from models.errors import (
    ClientGone,
    GenerationFailed,
    InvalidInput,
    LotseError,
    NotFound,
    Overloaded,
)

logger = logging.getLogger(__name__)

router = APIRouter(
    tags=["chat"],
    dependencies=[require(Role.employee)],
    responses=responses(401, 403),
)

_SSE_EXAMPLE = (
    'event: sources\ndata: {"sources":[{"source_id":"it/vpn.md","title":"VPN",'
    '"heading":"VPN > Mac","snippet":"Öffnen Sie Tunnelblick …","score":0.91}]}\n\n'
    'event: token\ndata: {"text":"Öffnen"}\n\n'
    'event: token\ndata: {"text":" Sie"}\n\n'
    'event: done\ndata: {"answer_id":"9c1d…","conversation_id":"3f2b…","answer":"Öffnen Sie '
    'Tunnelblick …","abstained":false,"sources":[…],"model":"qwen2.5-1.5b",'
    '"ai_generated":true,"timings":{…}}\n\n'
)

_CHAT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "With `stream: true` (default) Server-Sent Events: `sources`, `token`…, "
        "`done` (a ChatResponse) or `error` (an ErrorResponse). With `stream: false` one "
        "ChatResponse.",
        "content": {
            "text/event-stream": {
                "schema": ChatStreamEvent.model_json_schema(),
                "example": _SSE_EXAMPLE,
            }
        },
    },
    **responses(404, 413, 422, 503),
}


def check_length(text: str, limit: int, field: str) -> None:
    if len(text) > limit:
        raise InvalidInput(
            f"the {field} has {len(text)} characters, the limit is {limit}",
            field=field,
            too_large=True,
        )


def owned_conversation(
    store: ConversationStore, conversation_id: str, caller: Caller
) -> Conversation:
    """The caller's conversation; someone else's looks exactly like a missing one."""
    conversation = store.get(conversation_id)
    if conversation.owner != caller.user_id and caller.role != "admin":
        raise NotFound(f"no conversation {conversation_id}")
    return conversation


def timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def sse(event: str, data: BaseModel | dict[str, object]) -> str:
    """One Server-Sent Event; JSON never contains a raw newline, so one data line suffices."""
    payload = (
        data.model_dump_json()
        if isinstance(data, BaseModel)
        else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    )
    return f"event: {event}\ndata: {payload}\n\n"


def error_event(exc: BaseException) -> str:
    if isinstance(exc, LotseError):
        _, code = status_for(exc)
        hint = exc.hint
        if isinstance(exc, Overloaded) and hint is None:
            hint = f"try again in {exc.retry_after} s"
        body = ErrorBody(
            code=code,
            message=exc.message,
            hint=hint,
            field=exc.field if isinstance(exc, InvalidInput) else None,
        )
    else:
        body = ErrorBody(
            code="internal_error",
            message="the answer failed unexpectedly",
            hint="try again; the server log has the details",
        )
    return sse("error", {"error": body.model_dump(exclude_none=True)})


@dataclass(frozen=True)
class Exchange:
    """One question of one caller, and where its answer is stored."""

    store: ConversationStore
    caller: Caller
    question: str
    conversation_id: str | None

    def save(self, answer: Answer) -> str:
        """Store both turns (starting the conversation if needed); returns its id."""
        conversation_id = self.conversation_id
        if conversation_id is None:
            conversation_id = self.store.create(self.caller.user_id).conversation_id
        self.store.append(
            conversation_id,
            [
                Turn("user", self.question),
                Turn(
                    "assistant",
                    answer.answer,
                    answer_id=answer.answer_id,
                    abstained=answer.abstained,
                    sources=tuple(s.as_dict() for s in answer.sources),
                    model=answer.model,
                    timings=answer.timings.as_dict(),
                ),
            ],
        )
        return conversation_id


def chat_response(answer: Answer, conversation_id: str) -> ChatResponse:
    return ChatResponse.model_validate(
        {"answer_id": answer.answer_id, "conversation_id": conversation_id, **answer.as_dict()}
    )


def _next(events: Iterator[AnswerEvent]) -> AnswerEvent | None:
    return next(events, None)


async def _close(events: Iterator[AnswerEvent]) -> None:
    """Close the answer generator (its ``finally`` closes the LLM stream and frees the slot)."""
    close = getattr(events, "close", None)
    if close is not None:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(close)


async def event_stream(
    first: AnswerEvent, events: Iterator[AnswerEvent], exchange: Exchange
) -> AsyncIterator[str]:
    """Translate the assistant's events into SSE text; always closes ``events``."""
    finished = False  # False at the end: the client went away
    try:
        event: AnswerEvent | None = first
        while event is not None:
            if isinstance(event, SourcesEvent):
                sources = [SourceOut.model_validate(s.as_dict()) for s in event.sources]
                yield sse("sources", ChatSourcesEvent(sources=sources))
            elif isinstance(event, TokenEvent):
                yield sse("token", ChatTokenEvent(text=event.text))
            elif isinstance(event, DoneEvent):
                conversation_id = await run_in_threadpool(exchange.save, event.answer)
                yield sse("done", chat_response(event.answer, conversation_id))
            event = await run_in_threadpool(_next, events)
        finished = True
    except ClientGone:
        pass  # the client is gone: nobody to tell
    except LotseError as exc:
        finished = True
        logger.warning("chat stream failed code=%s error=%s", status_for(exc)[1], exc)
        yield error_event(exc)
    except Exception as exc:
        finished = True
        logger.exception("chat stream failed unexpectedly")
        yield error_event(exc)
    finally:
        if not finished:
            logger.info("chat stream cancelled by the client; generation stopped")
        await _close(events)


@router.post(
    "/v1/chat",
    response_model=ChatResponse,
    summary="Chat: a grounded answer that may lean on the conversation, streamed as SSE",
    responses=_CHAT_RESPONSES,
)
async def chat(
    body: ChatRequest, services: ServicesDep, caller: CallerDep
) -> ChatResponse | Response:
    settings = services.settings
    check_length(body.message, settings.api.max_question_chars, "message")
    store = services.conversations
    history: Sequence[tuple[str, str]] = ()
    if body.conversation_id is not None:
        await run_in_threadpool(owned_conversation, store, body.conversation_id, caller)
        turns = await run_in_threadpool(store.turns, body.conversation_id)
        # an abstention carries no information, and in the prompt it invites another one
        history = [(t.role, t.text) for t in turns if not t.abstained]
    c = settings.conversations
    query = standalone_query(history, body.message, max_questions=c.follow_up_questions)
    recent = recent_history(history, max_turns=c.history_turns, max_chars=c.history_chars)
    logger.info(
        "chat conversation=%s turns=%d follow_up=%s stream=%s",
        body.conversation_id or "new",
        len(history),
        query != body.message,
        body.stream,
    )
    exchange = Exchange(store, caller, body.message, body.conversation_id)
    assistant = services.assistant
    if not body.stream:
        answer = await run_in_threadpool(
            audited_ask,
            services,
            assistant,
            body.message,
            caller,
            endpoint="chat",
            search_query=query,
            history=recent,
        )
        conversation_id = await run_in_threadpool(exchange.save, answer)
        return chat_response(answer, conversation_id)
    cancelled = threading.Event()
    events = audited_stream(
        services,
        assistant,
        body.message,
        caller,
        endpoint="chat",
        search_query=query,
        history=recent,
        cancelled=cancelled,
    )
    try:
        # retrieval failures still get a proper status: nothing has been sent yet
        first = await run_in_threadpool(_next, events)
    except BaseException:
        await _close(events)
        raise
    if first is None:
        raise GenerationFailed("the answer stream ended before it started")
    return EventStreamResponse(event_stream(first, events, exchange), cancelled)


def _turn_out(turn: Turn) -> TurnOut:
    return TurnOut(
        role=turn.role,
        text=turn.text,
        created=timestamp(turn.created),
        answer_id=turn.answer_id,
        abstained=turn.abstained,
        sources=[SourceOut.model_validate(s) for s in turn.sources],
        model=turn.model or None,
        ai_generated=turn.role == "assistant",
    )


@router.get(
    "/v1/conversations/{conversation_id}",
    response_model=ConversationOut,
    summary="A conversation with all its turns, oldest first",
    responses=responses(404),
)
async def get_conversation(
    conversation_id: str, services: ServicesDep, caller: CallerDep
) -> ConversationOut:
    store = services.conversations
    conversation = await run_in_threadpool(owned_conversation, store, conversation_id, caller)
    turns = await run_in_threadpool(store.turns, conversation_id)
    return ConversationOut(
        conversation_id=conversation.conversation_id,
        created=timestamp(conversation.created),
        updated=timestamp(conversation.updated),
        turns=[_turn_out(t) for t in turns],
    )


@router.delete(
    "/v1/conversations/{conversation_id}",
    status_code=204,
    summary="Delete a conversation, its turns and the comments on its answers",
    responses=responses(404),
)
async def delete_conversation(
    conversation_id: str, services: ServicesDep, caller: CallerDep
) -> Response:
    store = services.conversations
    await run_in_threadpool(owned_conversation, store, conversation_id, caller)
    await run_in_threadpool(store.delete, conversation_id)
    logger.info("conversation deleted conversation=%s", conversation_id)
    return Response(status_code=204)
