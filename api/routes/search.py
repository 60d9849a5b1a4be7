"""``POST /v1/search``: ranked passages from the hybrid retriever, no language model."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.auditing import record_search
from api.auth import Role
from api.deps import CallerDep, ServicesDep, require
from api.errors import responses
from api.routes.chat import check_length
from api.schemas import SearchHit, SearchRequest, SearchResponse
from assistant.answering import snippet

router = APIRouter(
    tags=["search"],
    dependencies=[require(Role.employee)],
    responses=responses(401, 403),
)

SNIPPET_CHARS = 240


@router.post(
    "/v1/search",
    response_model=SearchResponse,
    summary="Search the knowledge base (retrieval only: ranked passages, no generated text)",
    responses=responses(413, 422, 503),
)
async def search(body: SearchRequest, services: ServicesDep, caller: CallerDep) -> SearchResponse:
    check_length(body.query, services.settings.api.max_question_chars, "query")
    retriever = services.knowledge.retriever
    config = retriever.config
    config = replace(
        config, dense_k=max(config.dense_k, body.k), lexical_k=max(config.lexical_k, body.k)
    )
    retrieval = await run_in_threadpool(
        retriever.retrieve, body.query, caller.acl_groups, config=config
    )
    shown = retrieval.results[: body.k]
    await run_in_threadpool(
        record_search, services, caller, body.query, shown, took_ms=retrieval.ms
    )
    hits = [
        SearchHit(
            rank=rank,
            chunk_id=r.chunk.chunk_id,
            source_id=r.chunk.source_id,
            title=r.chunk.title,
            heading=r.chunk.heading,
            snippet=snippet(r.chunk.text, SNIPPET_CHARS),
            text=r.chunk.text,
            score=round(r.score, 6),
            dense_score=None if r.dense_score is None else round(r.dense_score, 4),
            lexical_score=None if r.lexical_score is None else round(r.lexical_score, 4),
        )
        for rank, r in enumerate(retrieval.results[: body.k], start=1)
    ]
    return SearchResponse(query=body.query, results=hits, took_ms=round(retrieval.ms, 1))
