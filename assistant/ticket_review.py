"""Decisions on ticket knowledge candidates (setting ``tickets.knowledge_review``), shared by the
admin API (api/routes/candidates.py) and ``lotse tickets import | approve | reject``.

A decision is applied at once: the employee source is synced to exactly its live candidates
(``Indexer.sync_documents``: unchanged documents cost one hash, the approved one is indexed, a
rejected or withdrawn one is removed), so the source cannot drift from the table. Every
decision is one ``candidate_decision`` audit record (digests only).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

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
