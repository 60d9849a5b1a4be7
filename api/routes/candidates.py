"""Admin review of ticket knowledge candidates (setting ``tickets.knowledge_review``).

Every resolved, redacted ticket an import produces is a candidate (``assistant.ticket_store``);
in mode ``review`` only the ones an admin approved go into the employee source. A decision is
applied at once through the server's indexer: the source is synced to exactly its live
candidates (``Indexer.sync_documents``: unchanged documents cost one hash, the approved one is
indexed, a rejected or withdrawn one is removed), so approving and rejecting need no special
index operation and the source cannot drift from the table. Every decision is one
``candidate_decision`` audit record (digests only; the reason's text, like any text, only in
the log's short-lived text table).

The decisions themselves live in ``assistant.ticket_review`` (shared with the CLI).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam

from api.auth import Role
from api.deps import CallerDep, ServicesDep, require
from api.errors import responses
from api.schemas_candidates import (
    CandidateDecisionOut,
    CandidateDecisionRequest,
    CandidateList,
    CandidateOut,
    StatusFilter,
)
from api.wiring import Services
from assistant.identity import Caller
from assistant.ticket_review import decide_candidates
from assistant.ticket_store import (
    CandidateDecision,
)

router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    dependencies=[require(Role.admin)],
    responses=responses(401, 403),
)

SourceName = Annotated[str, PathParam(min_length=1, max_length=64)]
TicketId = Annotated[str, PathParam(min_length=1, max_length=200)]


@router.get(
    "/candidates",
    response_model=CandidateList,
    summary="Ticket knowledge candidates for review, oldest first, with their redacted text",
    description="Every resolved ticket of an import, redacted exactly as employees would see "
    "it. With `tickets.knowledge_review = review` only approved ones are in the index; a "
    "ticket whose text changed is pending again.",
    responses=responses(422),
)
def list_candidates(
    services: ServicesDep,
    status: Annotated[StatusFilter, Query(description="'all' lists every status.")] = "pending",
    source: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CandidateList:
    wanted = None if status == "all" else status
    store = services.tickets
    return CandidateList(
        candidates=[
            CandidateOut.of(c)
            for c in store.candidates(status=wanted, source=source, limit=limit, offset=offset)
        ],
        total=store.count_candidates(status=wanted, source=source),
        limit=limit,
        offset=offset,
        counts=store.candidate_counts(source),
        mode=services.settings.tickets.knowledge_review,
    )


def _decide(
    services: Services,
    caller: Caller,
    source: str,
    ticket_id: str,
    decision: CandidateDecision,
    body: CandidateDecisionRequest | None,
) -> CandidateDecisionOut:
    with services.jobs.exclusive("deciding on a knowledge candidate"):
        done = decide_candidates(
            services.tickets,
            services.knowledge.indexer,
            services.knowledge.manifest,
            services.audit,
            caller,
            source,
            [ticket_id],
            decision,
            endpoint=f"admin.candidates.{decision}",
            reason=body.reason if body else None,
            content_hash=body.content_hash if body else None,
        )
    return CandidateDecisionOut(
        candidate=CandidateOut.of(done.candidates[0]),
        audit_seq=done.audit_seqs[0],
        chunks_written=done.index.chunks_written,
        documents_removed=done.index.deleted,
    )


@router.post(
    "/candidates/{source}/{ticket_id}/approve",
    response_model=CandidateDecisionOut,
    summary="Approve a candidate: it is indexed into its employee source at once",
    description="Send the `content_hash` you reviewed to refuse (409) a text that changed "
    "since. Refused (409) while a reindex job runs.",
    responses=responses(404, 409, 413, 422),
)
def approve(
    source: SourceName,
    ticket_id: TicketId,
    services: ServicesDep,
    caller: CallerDep,
    body: CandidateDecisionRequest | None = None,
) -> CandidateDecisionOut:
    return _decide(services, caller, source, ticket_id, "approve", body)


@router.post(
    "/candidates/{source}/{ticket_id}/reject",
    response_model=CandidateDecisionOut,
    summary="Reject a candidate: it never goes live (removed if it was), until its text changes",
    responses=responses(404, 409, 413, 422),
)
def reject(
    source: SourceName,
    ticket_id: TicketId,
    services: ServicesDep,
    caller: CallerDep,
    body: CandidateDecisionRequest | None = None,
) -> CandidateDecisionOut:
    return _decide(services, caller, source, ticket_id, "reject", body)
