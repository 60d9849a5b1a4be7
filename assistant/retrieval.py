"""Hybrid retrieval: dense top-k and lexical top-k, both ACL-filtered inside their index,
fused by reciprocal rank (RRF)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import cast

from knowledge.documents import Chunk
from knowledge.lexical import LexicalIndex
from knowledge.vectorstore import Hit, VectorStore
from models.embedder import Embedder, Vectors


@dataclass(frozen=True)
class RetrievalConfig:
    """Defaults checked with ``lotse eval retrieval`` (docs/evaluation.md#tuning-retrieval):
    equal weights keep a keyword-only match (an error code, a product name) reachable."""

    dense_k: int = 20
    lexical_k: int = 20
    rrf_k: int = 60
    lexical_weight: float = 1.0  # a keyword rank's share of an RRF vote (dense: 1)
    mode: str = "hybrid"  # "hybrid", "dense", "lexical"


@dataclass(frozen=True)
class RankedChunk:
    chunk: Chunk
    score: float  # fused RRF score (or the single index's score in single mode)
    dense_score: float | None = None  # cosine similarity, when the vector index returned it
    dense_rank: int | None = None
    lexical_score: float | None = None
    lexical_rank: int | None = None


@dataclass(frozen=True)
class Retrieval:
    query: str
    results: list[RankedChunk] = field(default_factory=list)
    best_dense: float | None = None
    lexical_hits: int = 0
    ms: float = 0.0


def rrf_fuse(
    dense: list[tuple[Chunk, float]],
    lexical: list[tuple[Chunk, float]],
    k: int,
    lexical_weight: float = 1.0,
) -> list[RankedChunk]:
    """Weighted reciprocal-rank fusion: ``1/(k + dense rank) + w/(k + keyword rank)``; ties
    broken by dense rank, then chunk id (deterministic)."""
    table: dict[str, dict[str, object]] = {}
    for rank, (chunk, score) in enumerate(dense, start=1):
        table[chunk.chunk_id] = {"chunk": chunk, "dense": score, "dense_rank": rank}
    for rank, (chunk, score) in enumerate(lexical, start=1):
        entry = table.setdefault(chunk.chunk_id, {"chunk": chunk})
        entry["lexical"] = score
        entry["lexical_rank"] = rank
    fused = []
    for entry in table.values():
        d_rank = entry.get("dense_rank")
        l_rank = entry.get("lexical_rank")
        score = (1.0 / (k + d_rank) if isinstance(d_rank, int) else 0.0) + (
            lexical_weight / (k + l_rank) if isinstance(l_rank, int) else 0.0
        )
        dense_score = entry.get("dense")
        lexical_score = entry.get("lexical")
        chunk = cast(Chunk, entry["chunk"])
        fused.append(
            RankedChunk(
                chunk=chunk,
                score=score,
                dense_score=float(dense_score) if isinstance(dense_score, float) else None,
                dense_rank=d_rank if isinstance(d_rank, int) else None,
                lexical_score=float(lexical_score) if isinstance(lexical_score, float) else None,
                lexical_rank=l_rank if isinstance(l_rank, int) else None,
            )
        )
    fused.sort(key=lambda r: (-r.score, r.dense_rank or 10**9, r.chunk.chunk_id))
    return fused


class _Background:
    """One call run on its own thread, its result (or exception) collected with ``result()``."""

    def __init__(self, call: Callable[[], list[Hit]]) -> None:
        self._call = call
        self._value: list[Hit] = []
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = threading.Thread(
            target=self._run, name="lotse-keyword-search", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._call()
        except BaseException as exc:  # re-raised on the caller's thread
            self._error = exc

    def result(self) -> list[Hit]:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise self._error
        return self._value


class HybridRetriever:
    def __init__(
        self,
        embedder: Embedder,
        vectors: VectorStore,
        lexical: LexicalIndex,
        config: RetrievalConfig | None = None,
    ) -> None:
        self.embedder = embedder
        self.vectors = vectors
        self.lexical = lexical
        self.config = config or RetrievalConfig()

    def retrieve(
        self,
        query: str,
        groups: Collection[str] | None,
        *,
        config: RetrievalConfig | None = None,
        vector: Vectors | None = None,
    ) -> Retrieval:
        """``vector``: the query's embedding when the caller already has it (one text searched
        with two filters is embedded once)."""
        cfg = config or self.config
        started = time.perf_counter()
        dense: list[tuple[Chunk, float]] = []
        lexical: list[tuple[Chunk, float]] = []
        keyword: _Background | None = None
        if cfg.mode == "lexical":
            lexical = [
                (h.chunk, h.score) for h in self.lexical.search(query, cfg.lexical_k, groups)
            ]
        elif cfg.mode == "hybrid":
            # The keyword search needs no embedding: it runs beside the query embedding and the
            # vector search (SQLite and the embedder's matrix products release the GIL), so a
            # retrieval costs the longer of the two paths, not their sum.
            keyword = _Background(lambda: self.lexical.search(query, cfg.lexical_k, groups))
        try:
            if cfg.mode in ("hybrid", "dense"):
                if vector is None:
                    vector = self.embedder.embed_query(query)
                hits = self.vectors.query(vector, cfg.dense_k, groups)
                dense = [(h.chunk, h.score) for h in hits]
        finally:
            if keyword is not None:
                lexical = [(h.chunk, h.score) for h in keyword.result()]
        results = rrf_fuse(dense, lexical, cfg.rrf_k, cfg.lexical_weight)
        return Retrieval(
            query=query,
            results=results,
            best_dense=dense[0][1] if dense else None,
            lexical_hits=len(lexical),
            ms=(time.perf_counter() - started) * 1000,
        )
