"""Agent assist: for a ticket, the similar solved tickets, a triage vote and a draft reply.

* **Similar tickets** come from the agents-only ticket records in both indexes (source
  ``NAME-full``, ACL ``agents``; ``knowledge.tickets.documents``), found by the hybrid retriever
  like any passage, grouped per ticket and joined with the ticket store for the fields.
  Only solved tickets count: an open one has no solution to offer.
* **Triage** is a vote of the nearest solved tickets, each weighted by its similarity: the
  value with the largest weight wins, its share of the weight is the confidence.
* **The draft reply** is generated from the solutions of the similar tickets (redacted: another
  requester's name, phone or e-mail never lands in a new reply) and the knowledge articles the
  agent may read, with the same abstention gates as a chat answer: weak evidence, the model's
  ``NOT_FOUND``, or a draft not grounded in its passages give no draft, only the tickets and
  the triage. A draft is always that: nothing is sent until an agent decides.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

from assistant.abstention import AbstentionRule, GroundingCheck, is_decline, off_language
from assistant.answering import SourceRef, snippet, source_refs
from assistant.generation import GenerationGate, GenerationLimit, QueuePlace
from assistant.identity import Caller
from assistant.prompting import REPLY_PROMPT_VERSION, build_reply_prompt
from assistant.retrieval import HybridRetriever, RankedChunk, Retrieval
from assistant.ticket_store import StoredTicket, TicketStore
from knowledge.documents import Chunk
from knowledge.language import detect_language
from knowledge.lexical import index_text
from knowledge.redaction import redact
from knowledge.tickets.documents import AGENTS_GROUP, FULL_SUFFIX, agent_groups
from models.embedder import Vectors
from models.llm import LLM, GenerationParams, collect

logger = logging.getLogger(__name__)

TICKET_PREFIX = "tickets/"
TRIAGE_FIELDS = ("queue", "priority", "type")
TICKET_RRF_K = 60  # the fusion constant similar-ticket search was measured with


@dataclass(frozen=True)
class AssistConfig:
    similar_k: int = 5  # similar tickets shown
    vote_k: int = 7  # nearest solved tickets in the triage vote
    candidates: int = 60  # chunks fetched from each index before grouping per ticket
    context_tickets: int = 3  # solved tickets whose solutions go into the prompt
    context_articles: int = 3  # knowledge passages that go into the prompt
    max_tokens: int = 320
    temperature: float = 0.1
    snippet_chars: int = 240
    language_gate: bool = True  # withdraw a draft not in the ticket's language
    generation_timeout_s: float = 120.0  # a draft taking longer fails (prompt evaluation too)


@dataclass(frozen=True)
class SimilarTicket:
    ticket_id: str
    subject: str
    similarity: float  # cosine similarity of the best-matching passage (0 when only lexical)
    resolution_snippet: str
    queue: str = ""
    priority: str = ""
    type: str = ""
    chunk_id: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "ticket_id": self.ticket_id,
            "subject": self.subject,
            "similarity": round(self.similarity, 4),
            "resolution_snippet": self.resolution_snippet,
            "queue": self.queue,
            "priority": self.priority,
            "type": self.type,
        }


@dataclass(frozen=True)
class TriageValue:
    value: str
    confidence: float  # the winner's share of the similarity-weighted vote, 0..1
    votes: int  # how many of the voting tickets chose it

    def as_dict(self) -> dict[str, object]:
        return {"value": self.value, "confidence": round(self.confidence, 3), "votes": self.votes}


@dataclass(frozen=True)
class Triage:
    queue: TriageValue | None = None
    priority: TriageValue | None = None
    type: TriageValue | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            name: None if value is None else value.as_dict()
            for name, value in (
                ("queue", self.queue),
                ("priority", self.priority),
                ("type", self.type),
            )
        }


@dataclass(frozen=True)
class Suggestion:
    """What an agent sees for one ticket. ``draft`` is empty when Lotse abstained."""

    ticket_id: str | None
    language: str
    draft: str
    abstained: bool
    reason: str  # why it abstained ("" when it did not)
    sources: tuple[SourceRef, ...]
    similar: tuple[SimilarTicket, ...]
    triage: Triage
    model: str
    prompt_version: str = REPLY_PROMPT_VERSION
    chunk_ids: tuple[str, ...] = ()  # every passage given to the model (the audit's record)
    timings: dict[str, float] = field(default_factory=dict)
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def as_dict(self) -> dict[str, object]:
        return {
            "ticket_id": self.ticket_id,
            "ai_generated": True,
            "model": self.model,
            "language": self.language,
            "draft": self.draft,
            "abstained": self.abstained,
            "reason": self.reason,
            "sources": [s.as_dict() for s in self.sources],
            "similar": [s.as_dict() for s in self.similar],
            "triage": self.triage.as_dict(),
            "prompt_version": self.prompt_version,
            "timings": self.timings,
        }


def ticket_groups(caller: Caller) -> tuple[str, ...] | None:
    """The groups of the agents' ticket records ``caller`` may read (``None``: all)."""
    return None if caller.unrestricted else agent_groups(caller.groups)


def ticket_id_of(chunk: Chunk) -> str | None:
    """The ticket a chunk belongs to, when it is an agents' full ticket record."""
    if chunk.format != "ticket" or not chunk.source.endswith(FULL_SUFFIX):
        return None
    if not chunk.source_id.startswith(TICKET_PREFIX):
        return None
    return chunk.source_id[len(TICKET_PREFIX) :]


def vote(tickets: Sequence[SimilarTicket], name: str) -> TriageValue | None:
    """The similarity-weighted majority of ``name`` (queue, priority or type)."""
    weights: dict[str, float] = {}
    counts: dict[str, int] = {}
    for ticket in tickets:
        value = str(getattr(ticket, name)).strip()
        if not value:
            continue
        weight = max(ticket.similarity, 0.01)
        weights[value] = weights.get(value, 0.0) + weight
        counts[value] = counts.get(value, 0) + 1
    if not weights:
        return None
    total = sum(weights.values())
    # ties: more votes, then the alphabetically first value (deterministic)
    best = min(weights, key=lambda v: (-weights[v], -counts[v], v))
    return TriageValue(best, weights[best] / total, counts[best])


def triage_of(tickets: Sequence[SimilarTicket]) -> Triage:
    return Triage(*(vote(tickets, name) for name in TRIAGE_FIELDS))


def _solution_chunk(ticket: StoredTicket, chunk_id: str) -> Chunk:
    """A solved ticket's redacted problem and solution as one passage for the prompt."""
    subject = redact(ticket.subject).text
    problem = redact(ticket.body).text.strip()
    solution = redact(ticket.resolution).text.strip()
    return Chunk(
        chunk_id=chunk_id,
        text=f"Problem: {problem}\nSolution: {solution}",
        source_id=TICKET_PREFIX + ticket.ticket_id,
        title=subject,
        heading=f"Ticket {ticket.ticket_id}: {subject}",
        position=0,
        language=ticket.language,
        acl=ticket.acl,
        content_hash="",
        source="tickets",
        format="ticket",
    )


class TicketAssistant:
    def __init__(
        self,
        *,
        retriever: HybridRetriever,
        store: TicketStore,
        llm: LLM,
        gate: GenerationGate | None = None,
        abstention: AbstentionRule | None = None,
        grounding: GroundingCheck | None = None,
        config: AssistConfig | None = None,
    ) -> None:
        self.retriever = retriever
        self.store = store
        self.llm = llm
        self.gate = gate or GenerationGate()
        self.abstention = abstention or AbstentionRule()
        self.grounding = grounding or GroundingCheck()
        self.config = config or AssistConfig()

    def _retrieve(
        self, text: str, groups: Collection[str] | None, vector: Vectors | None = None
    ) -> Retrieval:
        cfg = self.retriever.config
        k = self.config.candidates
        # Ticket search keeps the equal-weight fusion its evaluation was measured with
        # (docs/evaluation.md#agent-assist): ticket texts share error codes and product names
        # that keywords find, unlike the paraphrased questions the article defaults fit; the
        # latent-term rescoring and the score fusion were measured on articles only.
        cfg = replace(
            cfg,
            dense_k=max(cfg.dense_k, k),
            lexical_k=max(cfg.lexical_k, k),
            rrf_k=TICKET_RRF_K,
            lexical_weight=1.0,
            latent_weight=0.0,
            fusion="rank",
        )
        return self.retriever.retrieve(text, groups, config=cfg, vector=vector)

    def similar(
        self,
        text: str,
        *,
        exclude: Collection[str] = (),
        k: int | None = None,
        groups: Collection[str] | None = (AGENTS_GROUP,),
    ) -> list[SimilarTicket]:
        """Solved tickets like ``text``, best first (``exclude``: ticket ids to leave out, such
        as the ticket itself). Searches only the agents' ticket records that ``groups`` may
        read (``ticket_groups``; the default: those every agent may read)."""
        retrieval = self._retrieve(text, groups)
        return self._similar_from(retrieval.results, exclude, k or self.config.similar_k)

    def _similar_from(
        self, results: Sequence[RankedChunk], exclude: Collection[str], k: int
    ) -> list[SimilarTicket]:
        best: dict[str, RankedChunk] = {}
        order: list[str] = []
        for result in results:
            ticket_id = ticket_id_of(result.chunk)
            if ticket_id is None or ticket_id in exclude:
                continue
            if ticket_id not in best:
                best[ticket_id] = result
                order.append(ticket_id)
            elif (result.dense_score or 0.0) > (best[ticket_id].dense_score or 0.0):
                best[ticket_id] = replace(best[ticket_id], dense_score=result.dense_score)
        known = self.store.find(order)
        similar: list[SimilarTicket] = []
        for ticket_id in order:
            ticket = known.get(ticket_id)
            if ticket is None or not ticket.is_resolved:
                continue
            hit = best[ticket_id]
            similar.append(
                SimilarTicket(
                    ticket_id=ticket_id,
                    subject=ticket.subject,
                    similarity=max(0.0, hit.dense_score or 0.0),
                    resolution_snippet=snippet(ticket.resolution, self.config.snippet_chars),
                    queue=ticket.queue,
                    priority=ticket.priority,
                    type=ticket.type,
                    chunk_id=hit.chunk.chunk_id,
                )
            )
            if len(similar) >= k:
                break
        return similar

    def triage(self, text: str, *, exclude: Collection[str] = ()) -> Triage:
        return triage_of(self.similar(text, exclude=exclude, k=self.config.vote_k))

    def suggest(
        self,
        subject: str,
        body: str,
        caller: Caller,
        *,
        language: str | None = None,
        ticket_id: str | None = None,
    ) -> Suggestion:
        started = time.perf_counter()
        # the place in the queue is taken before retrieval: a burst cannot overfill it
        with self.gate.place() as place:
            return self._suggest(place, started, subject, body, caller, language, ticket_id)

    def _suggest(
        self,
        place: QueuePlace,
        started: float,
        subject: str,
        body: str,
        caller: Caller,
        language: str | None,
        ticket_id: str | None,
    ) -> Suggestion:
        text = f"{subject}\n{body}".strip()
        language = language or detect_language(text, default="de")
        exclude = (ticket_id,) if ticket_id else ()
        vector = self.retriever.embedder.embed_query(text)  # one embedding, two searches
        ticket_retrieval = self._retrieve(text, ticket_groups(caller), vector)
        cfg = self.config
        voters = self._similar_from(
            ticket_retrieval.results, exclude, max(cfg.vote_k, cfg.similar_k)
        )
        similar = voters[: cfg.similar_k]
        triage = triage_of(voters[: cfg.vote_k])
        # knowledge articles the agent may read; agents' ticket records come in as solutions
        articles = self._retrieve(text, caller.acl_groups, vector)
        article_hits = [r for r in articles.results if ticket_id_of(r.chunk) is None]
        retrieval_ms = (time.perf_counter() - started) * 1000
        common = {
            "ticket_id": ticket_id,
            "language": language,
            "similar": tuple(similar),
            "triage": triage,
            "model": self.llm.model_id,
        }

        def abstain(reason: str, chunk_ids: tuple[str, ...] = ()) -> Suggestion:
            total = (time.perf_counter() - started) * 1000
            logger.info("suggestion_abstained reason=%s total_ms=%.1f", reason, total)
            return Suggestion(
                draft="",
                abstained=True,
                reason=reason,
                sources=(),
                chunk_ids=chunk_ids,
                timings={"retrieval_ms": round(retrieval_ms, 1), "total_ms": round(total, 1)},
                **common,  # type: ignore[arg-type]
            )

        weak_tickets = not similar or self.abstention.weak_retrieval(ticket_retrieval)
        weak_articles = not article_hits or self.abstention.weak_retrieval(
            replace(articles, results=article_hits)
        )
        if weak_tickets and weak_articles:
            return abstain("weak_retrieval")
        passages: list[RankedChunk] = []
        if not weak_tickets:
            solved = self.store.find([s.ticket_id for s in similar[: cfg.context_tickets]])
            for s in similar[: cfg.context_tickets]:
                passage = _solution_chunk(solved[s.ticket_id], s.chunk_id)
                passages.append(RankedChunk(chunk=passage, score=1.0, dense_score=s.similarity))
        if not weak_articles:
            passages += article_hits[: cfg.context_articles]
        budget = self.llm.context_size - cfg.max_tokens - 16
        prompt = build_reply_prompt(
            subject,
            body,
            [p.chunk for p in passages],
            language=language,
            count_tokens=self.llm.count_tokens,
            budget_tokens=budget,
        )
        used = {c.chunk_id for c in prompt.chunks}
        chunk_ids = tuple(c.chunk_id for c in prompt.chunks)
        with place.turn():
            generation_started = time.perf_counter()
            limit = GenerationLimit(cfg.generation_timeout_s, None)
            params = GenerationParams(
                max_tokens=cfg.max_tokens, temperature=cfg.temperature, interrupt=limit.reached
            )
            completion = collect(limit.guard(self.llm.stream(prompt.messages, params)))
        draft = completion.text.strip()
        generation_ms = (time.perf_counter() - generation_started) * 1000
        if is_decline(draft):
            return abstain("model_declined", chunk_ids)
        # a reply may echo the ticket itself (its device, its error message): that counts
        grounds = [index_text(c) for c in prompt.chunks] + [text]
        if self.grounding.ungrounded(text, draft, grounds):
            return abstain("ungrounded", chunk_ids)
        if cfg.language_gate and off_language(draft, language):  # e.g. a ticket told it to switch
            return abstain("wrong_language", chunk_ids)
        total = (time.perf_counter() - started) * 1000
        logger.info(
            "suggested language=%s similar=%d sources=%d total_ms=%.1f",
            language,
            len(similar),
            len(used),
            total,
        )
        return Suggestion(
            draft=draft,
            abstained=False,
            reason="",
            sources=source_refs(
                [p for p in passages if p.chunk.chunk_id in used], cfg.snippet_chars
            ),
            chunk_ids=chunk_ids,
            timings={
                "retrieval_ms": round(retrieval_ms, 1),
                "generation_ms": round(generation_ms, 1),
                "total_ms": round(total, 1),
            },
            **common,  # type: ignore[arg-type]
        )
