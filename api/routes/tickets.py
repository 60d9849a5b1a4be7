"""Agent assist: the ticket list, suggestions (draft reply, similar tickets, triage) and the
agents' decisions on them; and the webhook through which ticket systems deliver new tickets.

Every suggestion is stored as shown (``assistant.ticket_store``) and audited; a decision refers
to exactly that suggestion. A draft is never sent by Lotse: the agent sends it from the ticket
system, and records here whether it was accepted, edited (with the sent text) or rejected.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi import Path as PathParam
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.auditing import record_admin, record_decision, record_suggestion
from api.auth import Role
from api.deps import CallerDep, ServicesDep, require
from api.errors import responses
from api.schemas_tickets import (
    DecisionOut,
    DecisionRequest,
    SuggestionOut,
    SuggestRequest,
    TicketDetail,
    TicketList,
    TicketOut,
    TicketSummary,
    WebhookAccepted,
    WebhookTicket,
)
from api.webhook_auth import verify_call
from api.wiring import Services
from assistant.identity import Caller
from assistant.ticket_assist import ticket_groups
from assistant.ticket_store import StoredSuggestion, StoredTicket
from models.errors import AccessDenied, InvalidInput, LotseError, NotFound, Unauthenticated

logger = logging.getLogger(__name__)

PASTED = "-"  # the ticket id in a decision's path for a pasted ticket
WEBHOOK_CALLER = Caller(user_id="ticket-webhook", role="agent")

router = APIRouter(
    tags=["tickets"],
    dependencies=[require(Role.agent)],
    responses=responses(401, 403),
)
webhooks = APIRouter(tags=["tickets"])

TicketId = Annotated[str, PathParam(min_length=1, max_length=200)]


def _when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds).astimezone()


def shown_to(stored: StoredSuggestion, caller: Caller) -> bool:
    """May ``caller`` see a stored suggestion? Its draft and sources come from the knowledge
    its requester may read, so it is shown to that requester, and to every agent when the
    ticket webhook made it (the webhook reads what everyone may read). Anyone else would get
    passages of groups they are not in."""
    return stored.owner in (caller.user_id, WEBHOOK_CALLER.user_id)


def readable_ticket(services: Services, ticket_id: str, caller: Caller) -> StoredTicket:
    """The stored ticket, or ``NotFound`` also when the caller's groups may not read it (an
    export imported with ``--acl hr`` is for agents in hr): its existence is not revealed."""
    ticket = services.tickets.get(ticket_id)
    if not ticket.readable_by(ticket_groups(caller)):
        raise NotFound(f"no ticket {ticket_id!r}", hint="GET /v1/tickets lists the tickets")
    return ticket


def _out(stored: StoredSuggestion) -> SuggestionOut:
    created = datetime.fromtimestamp(stored.created).astimezone()
    return SuggestionOut.of(dict(stored.payload), created, stored.decision)


def _check_text(services: Services, subject: str, body: str) -> None:
    limit = services.settings.tickets.max_ticket_chars
    if len(subject) + len(body) > limit:
        raise InvalidInput(
            f"the ticket has {len(subject) + len(body)} characters; at most {limit} are accepted "
            "(send its first message, or raise tickets.max_ticket_chars)",
            field="body",
        )


def suggest_for(
    services: Services,
    caller: Caller,
    subject: str,
    body: str,
    *,
    language: str | None,
    ticket_id: str | None,
    endpoint: str,
) -> StoredSuggestion:
    """Generate, store and audit one suggestion (blocking: run it in a worker thread)."""
    suggestion = services.ticket_assist.suggest(
        subject, body, caller, language=language, ticket_id=ticket_id
    )
    stored = services.tickets.add_suggestion(ticket_id, caller.user_id, suggestion.as_dict())
    record_suggestion(
        services, caller, stored.suggestion_id, f"{subject}\n{body}", suggestion, endpoint=endpoint
    )
    return stored


@router.get(
    "/v1/tickets",
    response_model=TicketList,
    summary="Tickets for the agent workspace (imported, or delivered by the webhook), newest first",
)
async def list_tickets(
    services: ServicesDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    q: Annotated[str, Query(max_length=200, description="Part of a subject or ticket id.")] = "",
    open_only: Annotated[bool, Query(alias="open")] = False,
) -> TicketList:
    tickets = await run_in_threadpool(
        partial(
            services.tickets.recent,
            limit=limit,
            query=q,
            open_only=open_only,
            groups=ticket_groups(caller),
        )
    )
    with_suggestion = await run_in_threadpool(
        services.tickets.with_suggestions, [t.ticket_id for t in tickets]
    )
    return TicketList(
        tickets=[
            TicketSummary(
                ticket_id=t.ticket_id,
                subject=t.subject,
                status=t.status,
                queue=t.queue,
                priority=t.priority,
                language=t.language,
                created=_when(t.created),
                origin=t.origin,
                has_suggestion=t.ticket_id in with_suggestion,
            )
            for t in tickets
        ]
    )


@router.get(
    "/v1/tickets/{ticket_id}",
    response_model=TicketDetail,
    summary="One ticket and its latest suggestion (when it is the caller's or the webhook's)",
    responses=responses(404),
)
async def get_ticket(ticket_id: TicketId, services: ServicesDep, caller: CallerDep) -> TicketDetail:
    ticket = await run_in_threadpool(readable_ticket, services, ticket_id, caller)
    latest = await run_in_threadpool(services.tickets.latest_suggestion, ticket_id)
    if latest is not None and not shown_to(latest, caller):
        latest = None  # another agent's: built from what they may read (ask for your own)
    return TicketDetail(
        ticket=TicketOut.of(ticket), suggestion=None if latest is None else _out(latest)
    )


@router.post(
    "/v1/tickets/suggest",
    response_model=SuggestionOut,
    status_code=201,
    summary="An AI draft reply, similar solved tickets and a triage suggestion for a ticket",
    description="For a stored ticket (`ticket_id`) or a pasted one (`subject` and `body`). The "
    "draft is grounded in similar solved tickets and knowledge articles the caller may read; "
    "it is empty (`abstained`) when they do not answer the ticket. Nothing is sent: record "
    "what happened with POST /v1/tickets/{ticket_id}/suggestion/{suggestion_id}/decision.",
    responses=responses(404, 413, 422, 503),
)
async def suggest(body: SuggestRequest, services: ServicesDep, caller: CallerDep) -> SuggestionOut:
    language: str | None = body.language
    if body.ticket_id is not None:
        ticket = await run_in_threadpool(readable_ticket, services, body.ticket_id, caller)
        subject, text = ticket.subject, ticket.body
        if language is None and ticket.language in ("de", "en"):
            language = ticket.language
    else:
        assert body.subject is not None and body.body is not None  # SuggestRequest checks
        subject, text = body.subject, body.body
    _check_text(services, subject, text)
    stored = await run_in_threadpool(
        suggest_for,
        services,
        caller,
        subject,
        text,
        language=language,
        ticket_id=body.ticket_id,
        endpoint="tickets.suggest",
    )
    return _out(stored)


@router.post(
    "/v1/tickets/{ticket_id}/suggestion/{suggestion_id}/decision",
    response_model=DecisionOut,
    status_code=201,
    summary="Record what the agent did with a suggestion: accept, edit (with the sent text), "
    f"reject. A pasted ticket's id is '{PASTED}'.",
    responses=responses(404, 409, 422),
)
async def decide(
    ticket_id: TicketId,
    suggestion_id: Annotated[str, PathParam(min_length=1, max_length=64)],
    body: DecisionRequest,
    services: ServicesDep,
    caller: CallerDep,
) -> DecisionOut:
    if ticket_id == PASTED:
        # a pasted ticket exists nowhere else: only the agent who pasted it (or an admin) decides
        mine = await run_in_threadpool(services.tickets.suggestion, suggestion_id)
        if mine.owner != caller.user_id and caller.role != Role.admin.value:
            raise AccessDenied("only the agent who asked for this suggestion can decide on it")
    else:
        await run_in_threadpool(readable_ticket, services, ticket_id, caller)
    stored = await run_in_threadpool(
        services.tickets.decide,
        None if ticket_id == PASTED else ticket_id,
        suggestion_id,
        body.decision,
        body.text,
    )
    await run_in_threadpool(
        record_decision, services, caller, suggestion_id, body.decision, stored.sent_text
    )
    logger.info("suggestion_decided decision=%s", body.decision)
    assert stored.decided is not None and stored.decision is not None
    return DecisionOut(
        suggestion_id=suggestion_id,
        decision=stored.decision,
        recorded_at=datetime.fromtimestamp(stored.decided).astimezone(),
    )


# -- the webhook --------------------------------------------------------------------------------
def _name(value: Any) -> str:
    """Zammad sends group/priority/state as objects with a name, or as plain strings."""
    if isinstance(value, dict):
        value = value.get("name", "")
    return str(value or "")


def parse_webhook(payload: Any) -> WebhookTicket:
    """Lotse's own body, or a Zammad trigger's ``{"ticket": {...}, "article": {...}}``."""
    if isinstance(payload, dict) and isinstance(payload.get("ticket"), dict):
        ticket, article = payload["ticket"], payload.get("article") or {}
        payload = {
            "ticket_id": str(ticket.get("number") or ticket.get("id") or ""),
            "subject": ticket.get("title") or article.get("subject") or "",
            "body": article.get("body") or "",
            "queue": _name(ticket.get("group")),
            "priority": _name(ticket.get("priority")),
            "status": _name(ticket.get("state")) or "new",
        }
    try:
        return WebhookTicket.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidInput(f"webhook body: {where}: {first['msg']}", field=where) from exc


def _suggest_in_background(services: Services, ticket: WebhookTicket) -> None:
    try:
        suggest_for(
            services,
            WEBHOOK_CALLER,
            ticket.subject,
            ticket.body,
            language=ticket.language,
            ticket_id=ticket.ticket_id,
            endpoint="webhooks.ticket",
        )
    except LotseError as exc:  # the ticket is stored; an agent can ask again
        logger.warning("webhook_suggestion_failed error=%s", type(exc).__name__)


@webhooks.post(
    "/v1/webhooks/ticket",
    response_model=WebhookAccepted,
    status_code=202,
    summary="A ticket system delivers a new ticket (HMAC-signed, replay-protected)",
    description="Signed with the shared secret `tickets.webhook_secret`: `X-Lotse-Timestamp` + "
    "`X-Lotse-Signature: sha256=HMAC(secret, '<timestamp>.<body>')`, or Zammad's "
    "`X-Hub-Signature` + `X-Zammad-Delivery`. Each call is accepted once. The ticket is "
    "stored for the agent workspace and a suggestion is prepared in the background.",
    responses=responses(401, 403, 413, 422),
)
async def ticket_webhook(
    request: Request, services: ServicesDep, background: BackgroundTasks
) -> WebhookAccepted:
    cfg = services.settings.tickets
    if cfg.webhook_secret is None:
        raise AccessDenied(
            "the ticket webhook is switched off",
            hint="set LOTSE_TICKETS__WEBHOOK_SECRET to a long random secret (docs/tickets.md)",
        )
    raw = await request.body()
    try:
        verified = verify_call(
            request.headers,
            raw,
            cfg.webhook_secret.get_secret_value(),
            tolerance_s=cfg.webhook_tolerance_s,
        )
    except Unauthenticated as exc:
        await run_in_threadpool(
            record_admin,
            services,
            WEBHOOK_CALLER,
            "access_denied",
            details={"path": "/v1/webhooks/ticket", "reason": "webhook_signature"},
        )
        logger.warning("webhook_refused reason=%s", exc)
        raise
    if not await run_in_threadpool(
        services.tickets.claim_nonce, verified.nonce, keep_s=verified.keep_s
    ):
        raise Unauthenticated(
            "webhook call refused: this call was already received (replay)",
            hint="send every delivery with a fresh timestamp and signature",
        )
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"the webhook body is not JSON: {exc}", field="body") from exc
    ticket = parse_webhook(payload)
    _check_text(services, ticket.subject, ticket.body)
    stored = StoredTicket(
        ticket_id=ticket.ticket_id,
        subject=ticket.subject,
        body=ticket.body,
        status=ticket.status.lower(),
        queue=ticket.queue,
        priority=ticket.priority,
        type=ticket.type,
        language=ticket.language or "und",
        origin="webhook",
        source="webhook",
    )
    await run_in_threadpool(services.tickets.upsert, [stored])
    await run_in_threadpool(
        record_admin,
        services,
        WEBHOOK_CALLER,
        "ticket_received",
        details={"ticket_id": ticket.ticket_id, "scheme": verified.scheme},
    )
    logger.info("webhook_ticket scheme=%s", verified.scheme)
    if cfg.suggest_on_webhook:
        background.add_task(run_in_threadpool, _suggest_in_background, services, ticket)
    return WebhookAccepted(
        ticket_id=ticket.ticket_id, suggestion="queued" if cfg.suggest_on_webhook else "off"
    )
