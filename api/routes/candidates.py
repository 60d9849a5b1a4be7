"""Admin review of ticket knowledge candidates (setting ``tickets.knowledge_review``).

Every resolved, redacted ticket an import produces is a candidate (``assistant.ticket_store``);
in mode ``review`` only the ones an admin approved go into the employee source. A decision is
applied at once through the server's indexer: the source is synced to exactly its live
candidates (``Indexer.sync_documents``: unchanged documents cost one hash, the approved one is
indexed, a rejected or withdrawn one is removed), so approving and rejecting need no special
index operation and the source cannot drift from the table. Every decision is one
``candidate_decision`` audit record (digests only; the reason's text, like any text, only in
the log's short-lived text table).

``publish_candidates`` (an import's knowledge sync) and ``decide_candidates`` are shared with
``lotse tickets import`` / ``approve`` / ``reject`` (api/cli.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
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
from assistant.audit import AuditEvent, AuditLog
from assistant.identity import Caller
from assistant.ticket_store import (
    CandidateDecision,
    CandidateDocument,
    CandidateSummary,
    KnowledgeCandidate,
    ReviewMode,
    TicketStore,
)
from knowledge.indexer import Indexer, IngestSummary, ProgressFn
from knowledge.manifest import Manifest

logger = logging.getLogger(__name__)

router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    dependencies=[require(Role.admin)],
    responses=responses(401, 403),
)

SourceName = Annotated[str, PathParam(min_length=1, max_length=64)]
TicketId = Annotated[str, PathParam(min_length=1, max_length=200)]


@dataclass(frozen=True)
class Decided:
    candidates: list[KnowledgeCandidate]
    audit_seqs: list[int]
    index: IngestSummary  # the source's sync to its live candidates


def decision_event(caller: Caller, candidate: KnowledgeCandidate, *, endpoint: str) -> AuditEvent:
    """The audit record of one decision: which text (its content hash) was decided how."""
    return AuditEvent(
        event="candidate_decision",
        user_id=caller.user_id,
        role=caller.role,
        request_id=uuid.uuid4().hex,
        answer=candidate.reason,  # digested; the text only in the short-lived text table
        content_hashes=(candidate.content_hash,),
        details={
            "endpoint": endpoint,
            "source": candidate.source,
            "ticket_id": candidate.ticket_id,
            "decision": candidate.status,
            "language": candidate.language,
            "reason": candidate.reason is not None,
        },
    )


def decide_candidates(
    tickets: TicketStore,
    indexer: Indexer,
    manifest: Manifest,
    audit: AuditLog,
    caller: Caller,
    source: str,
    ticket_ids: Sequence[str],
    decision: CandidateDecision,
    *,
    endpoint: str,
    reason: str | None = None,
    content_hash: str | None = None,
) -> Decided:
    """Approve or reject candidates of one source, audit each, then sync the source.

    Unknown ids fail (``NotFound``) before anything changes. The caller holds the stores
    (the server, or the CLI with the data directory's lock).
    """
    for ticket_id in ticket_ids:
        tickets.candidate(source, ticket_id)
    actor = audit.pseudonym(caller.user_id)
    decided: list[KnowledgeCandidate] = []
    seqs: list[int] = []
    for ticket_id in dict.fromkeys(ticket_ids):
        candidate = tickets.decide_candidate(
            source, ticket_id, decision, actor=actor, reason=reason, content_hash=content_hash
        )
        seqs.append(audit.append(decision_event(caller, candidate, endpoint=endpoint)).seq)
        decided.append(candidate)
    index = indexer.sync_documents(source, tickets.live_documents(source))
    if manifest.source(source) is not None:
        manifest.mark_indexed(source)
    logger.info(
        "candidates_decided decision=%s count=%d chunks_written=%d deleted=%d",
        decision,
        len(decided),
        index.chunks_written,
        index.deleted,
    )
    return Decided(decided, seqs, index)


def publish_candidates(
    tickets: TicketStore,
    indexer: Indexer,
    manifest: Manifest,
    source: str,
    candidates: Sequence[CandidateDocument],
    *,
    mode: ReviewMode,
    progress: ProgressFn | None = None,
) -> tuple[CandidateSummary, IngestSummary]:
    """An import's employee knowledge: record the candidates, then sync the source to the live
    ones. Documents already indexed unchanged count as published (``record_candidates``)."""
    live = {e.source_id: e.content_hash for e in manifest.entries(source) if e.state == "complete"}
    review = tickets.record_candidates(source, candidates, mode=mode, live=live)
    index = indexer.sync_documents(source, tickets.live_documents(source), progress=progress)
    logger.info(
        "candidates_recorded mode=%s new=%d changed=%d pending=%d live=%d",
        mode,
        review.new,
        review.changed,
        review.pending,
        review.live,
    )
    return review, index


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
