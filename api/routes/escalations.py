"""Escalation from the self-service chat: ``/v1/escalations`` (employees, their own) and the
admin's retry and knowledge gaps.

An employee escalates one of their own conversations (someone else's looks like a missing one;
an admin, who may read any conversation, is told that only its owner may escalate it). The
draft is built from the conversation unless the employee edited subject or description; queue
and priority come from the services' ``triage_hint`` or the settings' defaults. The
escalation is stored, audited (digests only) and handed to the deliverer, which reports
progress through ``GET /v1/escalations/{id}``. Nothing here logs subjects or descriptions.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import Role
from api.deps import CallerDep, ServicesDep, require
from api.errors import responses
from api.routes.chat import timestamp
from api.schemas_escalation import (
    EscalationConfigOut,
    EscalationList,
    EscalationOut,
    EscalationRequest,
    GapOut,
    GapsOut,
)
from api.wiring import Services
from assistant.escalation import (
    Draft,
    Escalation,
    EscalationAction,
    abstained_questions,
    audit_event,
    build_draft,
    escalated_questions,
    knowledge_gaps,
    new_escalation,
    triage,
)
from assistant.identity import Caller
from knowledge.lexical import Analyzer
from models.errors import AccessDenied, Conflict, NotFound

logger = logging.getLogger(__name__)

router = APIRouter(tags=["escalations"], responses=responses(401, 403))

NO_TARGET_NOTE = (
    "no delivery target is configured (LOTSE_ESCALATION__TARGET=none): the draft is stored, "
    "but the service desk has not received it"
)


def _target(services: Services) -> str:
    return services.deliverer.target_name if services.deliverer is not None else "none"


def _max_attempts(services: Services) -> int:
    if services.deliverer is not None:
        return services.deliverer.policy.max_attempts
    return services.settings.escalation.max_attempts


def escalation_out(services: Services, e: Escalation) -> EscalationOut:
    note = NO_TARGET_NOTE if e.target == "none" and e.status == "pending" else None
    return EscalationOut(
        escalation_id=e.escalation_id,
        conversation_id=e.conversation_id,
        answer_id=e.answer_id,
        subject=e.subject,
        description=e.description,
        queue=e.queue,
        priority=e.priority,
        language=e.language,
        reason=e.reason,
        target=e.target,
        status=e.status,
        attempts=e.attempts,
        max_attempts=_max_attempts(services),
        last_error=e.last_error,
        external_ref=e.external_ref,
        note=note,
        created=timestamp(e.created),
        updated=timestamp(e.updated),
    )


def _audit(
    services: Services,
    e: Escalation,
    caller: Caller,
    action: EscalationAction,
    *,
    edited: bool | None = None,
) -> None:
    record = services.audit.append(
        audit_event(e, action=action, user_id=caller.user_id, role=caller.role, edited=edited)
    )
    logger.debug("audit_recorded seq=%d event=escalation action=%s", record.seq, action)


def _visible(services: Services, escalation_id: str, caller: Caller) -> Escalation:
    """The caller's escalation (an admin sees every one); another's looks like a missing one."""
    e = services.escalations.get(escalation_id)
    if e.user_id != caller.user_id and caller.role != "admin":
        raise NotFound(f"no escalation {escalation_id}")
    return e


@router.get(
    "/v1/escalations/config",
    response_model=EscalationConfigOut,
    dependencies=[require(Role.employee)],
    summary="Whether escalations are delivered to a ticket system",
)
def escalation_config(services: ServicesDep) -> EscalationConfigOut:
    target = _target(services)
    return EscalationConfigOut(
        target=target,
        configured=target != "none",
        max_attempts=_max_attempts(services),
    )


@router.post(
    "/v1/escalations",
    response_model=EscalationOut,
    status_code=201,
    dependencies=[require(Role.employee)],
    summary="Escalate your conversation to the service desk as a ticket",
    description="Builds the ticket draft from the conversation (or takes your edited subject "
    "and description), stores it and delivers it to the configured ticket system in the "
    "background; `GET /v1/escalations/{id}` shows the status. Only the owner of a "
    "conversation may escalate it.",
    responses=responses(404, 413, 422),
)
def create_escalation(
    body: EscalationRequest, services: ServicesDep, caller: CallerDep
) -> EscalationOut:
    store = services.conversations
    conversation = store.get(body.conversation_id)
    if conversation.owner != caller.user_id:
        if caller.role == "admin":
            raise AccessDenied(
                "only the owner of a conversation may escalate it",
                hint="ask the employee to send the ticket from their chat",
            )
        raise NotFound(f"no conversation {body.conversation_id}")
    turns = store.turns(body.conversation_id)
    built = build_draft(
        turns,
        answer_id=body.answer_id,
        reason=body.reason,
        default_language=services.assistant.config.default_language,
    )
    subject = (body.subject or "").strip() or built.subject
    description = (body.description or "").strip() or built.description
    edited = subject != built.subject or description != built.description
    draft = Draft(subject, description, built.language, built.reason)
    s = services.settings.escalation
    queue, priority = triage(
        services.triage_hint, subject, description, s.default_queue, s.default_priority
    )
    escalation = services.escalations.add(
        new_escalation(
            user_id=caller.user_id,
            conversation_id=body.conversation_id,
            draft=draft,
            queue=queue,
            priority=priority,
            reason=body.reason,
            answer_id=body.answer_id,
            target=_target(services),
        )
    )
    _audit(services, escalation, caller, "created", edited=edited)
    queued = services.deliverer is not None and services.deliverer.submit(escalation.escalation_id)
    logger.info(
        "escalation_created id=%s conversation=%s reason=%s edited=%s target=%s queued=%s",
        escalation.escalation_id,
        body.conversation_id,
        escalation.reason,
        edited,
        escalation.target,
        queued,
    )
    return escalation_out(services, escalation)


@router.get(
    "/v1/escalations",
    response_model=EscalationList,
    dependencies=[require(Role.employee)],
    summary="Your escalations, newest first (admins: everybody's with all=true)",
    responses=responses(422),
)
def list_escalations(
    services: ServicesDep,
    caller: CallerDep,
    all: Annotated[bool, Query(description="Everybody's escalations (admins only).")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> EscalationList:
    if all and caller.role != "admin":
        raise AccessDenied("only admins may list everybody's escalations")
    rows = services.escalations.recent(user_id=None if all else caller.user_id, limit=limit)
    return EscalationList(escalations=[escalation_out(services, e) for e in rows])


@router.get(
    "/v1/escalations/{escalation_id}",
    response_model=EscalationOut,
    dependencies=[require(Role.employee)],
    summary="One escalation: its delivery status, attempts, ticket number or error",
    responses=responses(404),
)
def get_escalation(escalation_id: str, services: ServicesDep, caller: CallerDep) -> EscalationOut:
    return escalation_out(services, _visible(services, escalation_id, caller))


@router.post(
    "/v1/admin/escalations/{escalation_id}/retry",
    response_model=EscalationOut,
    tags=["admin"],
    dependencies=[require(Role.admin)],
    summary="Deliver a failed escalation again, with a fresh round of attempts",
    responses=responses(404, 409),
)
def retry_escalation(escalation_id: str, services: ServicesDep, caller: CallerDep) -> EscalationOut:
    if services.deliverer is None:
        raise Conflict("escalations are not delivered by this server")
    escalation = services.deliverer.retry(escalation_id)
    _audit(services, escalation, caller, "retried")
    logger.info("escalation_retry id=%s target=%s", escalation_id, escalation.target)
    return escalation_out(services, escalation)


@router.get(
    "/v1/admin/gaps",
    response_model=GapsOut,
    tags=["admin"],
    dependencies=[require(Role.admin)],
    summary="Knowledge gaps: the most frequent topics Lotse had no answer for",
    description="Abstained questions (from the audit log's stored texts) and escalations of "
    "the last `days`, grouped by their key terms, most frequent first, each with one example "
    "question and when it was last seen.",
    responses=responses(422),
)
def knowledge_gaps_route(
    services: ServicesDep,
    days: Annotated[int, Query(ge=1, le=3650)] = 30,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> GapsOut:
    until = datetime.now(UTC)
    since = until - timedelta(days=days)
    started = time.perf_counter()
    abstained, untexted = abstained_questions(services.audit, since)
    escalated = escalated_questions(
        services.escalations.recent(since=since.timestamp(), limit=10_000)
    )
    gaps = knowledge_gaps([*abstained, *escalated], Analyzer(), limit=limit)
    logger.info(
        "gaps days=%d abstained=%d escalated=%d untexted=%d groups=%d ms=%.1f",
        days,
        len(abstained),
        len(escalated),
        untexted,
        len(gaps),
        (time.perf_counter() - started) * 1000,
    )
    return GapsOut(
        days=days,
        since=since,
        until=until,
        gaps=[
            GapOut(
                topic=g.topic,
                count=g.count,
                abstained=g.abstained,
                escalated=g.escalated,
                example=g.example,
                last_seen=timestamp(g.last_seen),
            )
            for g in gaps
        ],
        abstentions_without_text=untexted,
    )
