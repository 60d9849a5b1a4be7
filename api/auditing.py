"""What the routes record in the audit log, in one place, so that routes stay thin.

Answers are recorded by wrapping the assistant call: ``audited_ask`` and ``audited_stream``
record ``answered``/``abstained`` with the chunks and document versions given to the model,
``overloaded`` when the generation queue is full, ``refused`` when access is denied, ``error``
for any other failure (and for a stream the client abandoned), then re-raise. Every record
holds digests and a pseudonym only (``assistant.audit``); texts go to the log's separate,
short-lived text table. Nothing here logs question or answer text.

If the audit log itself cannot be written, the request fails (``StoreError``, 503): an answer
that cannot be recorded is not given. When recording a *failure* fails too, the original error
wins and the audit failure is logged.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Generator, Mapping, Sequence

from api.wiring import Services
from assistant.answering import Answer, AnswerEvent, Assistant, DoneEvent
from assistant.audit import AuditEvent, AuditRecord, Decision, EventType
from assistant.identity import Caller
from assistant.prompting import PROMPT_VERSION
from assistant.retrieval import RankedChunk
from assistant.ticket_assist import Suggestion
from models.errors import AccessDenied, ClientGone, GenerationFailed, LotseError, Overloaded

logger = logging.getLogger(__name__)


def _record(services: Services, event: AuditEvent) -> AuditRecord:
    record = services.audit.append(event)
    logger.debug(
        "audit_recorded seq=%d event=%s decision=%s", record.seq, record.event, record.decision
    )
    return record


def answer_event(
    services: Services,
    caller: Caller,
    answer: Answer,
    *,
    endpoint: str,
    details: Mapping[str, object] | None = None,
) -> AuditEvent:
    """The audit event of one finished answer (answered or abstained)."""
    hashes = {s.chunk_id: s.content_hash for s in answer.sources}
    chunk_ids = answer.chunk_ids or tuple(s.chunk_id for s in answer.sources)
    t = answer.timings
    latency = {"retrieval_ms": t.retrieval_ms, "total_ms": t.total_ms, "queue_ms": t.queue_ms}
    if t.first_token_ms is not None:
        latency["first_token_ms"] = t.first_token_ms
    extra: dict[str, object] = {
        "endpoint": endpoint,
        "language": answer.language,
        "prompt_tokens": t.prompt_tokens,
        "completion_tokens": t.completion_tokens,
    }
    if answer.abstained:
        extra["reason"] = answer.reason
    if answer.translation:
        # that retrieval also searched the model's translation of the question; not its text,
        # which is the question's and must not outlive the text retention in the metadata
        extra["translated_question"] = True
    return AuditEvent(
        event="answer",
        user_id=caller.user_id,
        role=caller.role,
        request_id=answer.answer_id,
        question=answer.question,
        answer=answer.answer,
        chunk_ids=chunk_ids,
        content_hashes=tuple(hashes.get(c, "") for c in chunk_ids),
        acl_filter=caller.acl_groups,
        model_id=answer.model,
        model_sha256=services.model_sha256,
        prompt_version=answer.prompt_version,
        decision="abstained" if answer.abstained else "answered",
        latency_ms=latency,
        details={**extra, **(details or {})},
    )


def record_answer(
    services: Services,
    caller: Caller,
    answer: Answer,
    *,
    endpoint: str,
    details: Mapping[str, object] | None = None,
) -> AuditRecord:
    return _record(
        services, answer_event(services, caller, answer, endpoint=endpoint, details=details)
    )


def decision_for(exc: BaseException) -> Decision:
    if isinstance(exc, Overloaded):
        return "overloaded"
    if isinstance(exc, AccessDenied):
        return "refused"
    return "error"


def record_failure(
    services: Services,
    caller: Caller,
    question: str,
    exc: BaseException | None,
    *,
    endpoint: str,
    started: float,
    details: Mapping[str, object] | None = None,
) -> AuditRecord | None:
    """Record an answer that did not happen; never raises (the original error matters more).

    ``exc`` is ``None`` when the client went away before the answer was complete.
    """
    extra: dict[str, object] = {"endpoint": endpoint}
    if exc is None:
        extra["reason"] = "client_disconnected"
    else:
        extra["error"] = type(exc).__name__
        if isinstance(exc, Overloaded):
            extra["retry_after"] = exc.retry_after
    event = AuditEvent(
        event="answer",
        user_id=caller.user_id,
        role=caller.role,
        request_id=uuid.uuid4().hex,
        question=question,
        acl_filter=caller.acl_groups,
        model_id=services.llm.model_id,
        model_sha256=services.model_sha256,
        prompt_version=PROMPT_VERSION,
        decision="error" if exc is None else decision_for(exc),
        latency_ms={"total_ms": (time.perf_counter() - started) * 1000},
        details={**extra, **(details or {})},
    )
    try:
        return _record(services, event)
    except LotseError as audit_exc:
        logger.error("audit_record_failed event=answer error=%s", audit_exc)
        return None


def audited_ask(
    services: Services,
    assistant: Assistant,
    question: str,
    caller: Caller,
    *,
    endpoint: str,
    search_query: str | None = None,
    history: Sequence[tuple[str, str]] = (),
    details: Mapping[str, object] | None = None,
) -> Answer:
    """``assistant.ask`` with its outcome recorded (see the module docstring)."""
    events = audited_stream(
        services,
        assistant,
        question,
        caller,
        endpoint=endpoint,
        search_query=search_query,
        history=history,
        details=details,
    )
    try:
        for event in events:
            if isinstance(event, DoneEvent):
                return event.answer
    finally:
        events.close()
    raise GenerationFailed("the answer stream ended without a result")


def audited_stream(
    services: Services,
    assistant: Assistant,
    question: str,
    caller: Caller,
    *,
    endpoint: str,
    search_query: str | None = None,
    history: Sequence[tuple[str, str]] = (),
    details: Mapping[str, object] | None = None,
    cancelled: threading.Event | None = None,
) -> Generator[AnswerEvent, None, None]:
    """``assistant.stream`` with its outcome recorded when the ``DoneEvent`` passes, when it
    fails, or when the consumer closes it early or sets ``cancelled`` (the client went away).
    Closing it closes the assistant's stream."""
    started = time.perf_counter()
    events = assistant.stream(
        question, caller, search_query=search_query, history=history, cancelled=cancelled
    )
    recorded = False
    try:
        for event in events:
            if isinstance(event, DoneEvent):
                record_answer(services, caller, event.answer, endpoint=endpoint, details=details)
                recorded = True
            yield event
    except (GeneratorExit, ClientGone):
        if not recorded:
            record_failure(
                services,
                caller,
                question,
                None,
                endpoint=endpoint,
                started=started,
                details=details,
            )
        raise
    except Exception as exc:
        if not recorded:
            record_failure(
                services,
                caller,
                question,
                exc,
                endpoint=endpoint,
                started=started,
                details=details,
            )
        raise
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()


def record_search(
    services: Services,
    caller: Caller,
    query: str,
    results: Sequence[RankedChunk],
    *,
    took_ms: float,
) -> AuditRecord:
    """A retrieval-only search: which chunks (and document versions) it returned."""
    return _record(
        services,
        AuditEvent(
            event="search",
            user_id=caller.user_id,
            role=caller.role,
            request_id=uuid.uuid4().hex,
            question=query,
            chunk_ids=tuple(r.chunk.chunk_id for r in results),
            content_hashes=tuple(r.chunk.content_hash for r in results),
            acl_filter=caller.acl_groups,
            latency_ms={"retrieval_ms": took_ms},
            details={"endpoint": "search", "hits": len(results)},
        ),
    )


def record_feedback(
    services: Services, caller: Caller, answer_id: str, rating: str, *, comment: bool
) -> AuditRecord:
    """A rating of an earlier answer; ``request_id`` is that answer's id (its audit record's
    ``request_id``). The comment text is not recorded, only whether there is one."""
    return _record(
        services,
        AuditEvent(
            event="feedback",
            user_id=caller.user_id,
            role=caller.role,
            request_id=answer_id,
            details={"rating": rating, "comment": comment},
        ),
    )


def record_admin(
    services: Services,
    caller: Caller,
    event: EventType,
    *,
    request_id: str = "",
    details: Mapping[str, object] | None = None,
) -> AuditRecord:
    """An admin action: reindex, source registered or removed, audit viewed or exported."""
    return _record(
        services,
        AuditEvent(
            event=event,
            user_id=caller.user_id,
            role=caller.role,
            request_id=request_id or uuid.uuid4().hex,
            details=dict(details or {}),
        ),
    )


def record_suggestion(
    services: Services,
    caller: Caller,
    suggestion_id: str,
    question: str,
    suggestion: Suggestion,
    *,
    endpoint: str,
) -> AuditRecord:
    """An agent's draft reply (or abstention): the ticket text and draft are digested like a
    chat answer's question and answer; the similar tickets and triage go in the details."""
    hashes = {s.chunk_id: s.content_hash for s in suggestion.sources}
    return _record(
        services,
        AuditEvent(
            event="suggestion",
            user_id=caller.user_id,
            role=caller.role,
            request_id=suggestion_id,
            question=question,
            answer=suggestion.draft or None,
            chunk_ids=suggestion.chunk_ids,
            content_hashes=tuple(hashes.get(c, "") for c in suggestion.chunk_ids),
            acl_filter=caller.acl_groups,
            model_id=suggestion.model,
            model_sha256=services.model_sha256,
            prompt_version=suggestion.prompt_version,
            decision="abstained" if suggestion.abstained else "answered",
            latency_ms=dict(suggestion.timings),
            details={
                "endpoint": endpoint,
                "ticket_id": suggestion.ticket_id,
                "language": suggestion.language,
                "reason": suggestion.reason,
                "similar": [s.ticket_id for s in suggestion.similar],
                "triage": suggestion.triage.as_dict(),
            },
        ),
    )


def record_decision(
    services: Services,
    caller: Caller,
    suggestion_id: str,
    decision: str,
    sent_text: str | None,
) -> AuditRecord:
    """An agent accepted, edited (the sent text is digested) or rejected a suggestion;
    ``request_id`` is the suggestion's audit record's ``request_id``."""
    return _record(
        services,
        AuditEvent(
            event="suggestion_decision",
            user_id=caller.user_id,
            role=caller.role,
            request_id=suggestion_id,
            answer=sent_text,
            details={"decision": decision},
        ),
    )
