"""Hybrid retrieval: dense top-k and lexical top-k, both ACL-filtered inside their index, then
fused: by score with the chunks' latent terms when the embedder gives them (``score_fuse``),
otherwise by reciprocal rank (``rrf_fuse``)."""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar, cast

import numpy as np

from knowledge.documents import Chunk
from knowledge.lexical import LatentStore, LexicalIndex
from knowledge.vectorstore import Hit, VectorStore
from models.embedder import Embedder, Vectors
from models.latent import LatentTerms, latent_of, one_pass_of, similarities, summed

logger = logging.getLogger(__name__)
T = TypeVar("T")

# The latent-term weight that retrieved best on the dev set (docs/evaluation.md#latent-terms).
# Not the default: on 2 cores it lifts retrieval p95 at 10k chunks from 41 to 62 ms, even with
# the question's one pass (docs/benchmarks.md), and ingestion makes a second pass per chunk.
LATENT_WEIGHT = 3.0


@dataclass(frozen=True)
class RetrievalConfig:
    """Defaults checked with ``lotse eval retrieval`` (docs/evaluation.md#tuning-retrieval).

    With latent terms (``latent_weight`` > 0 and an embedder and keyword index that have them)
    the ``latent_candidates`` nearest chunks and the ``lexical_k`` keyword hits are rescored by
    ``score_fuse``; without, the ``dense_k`` nearest and the keyword hits are fused by rank, and
    equal weights keep a keyword-only match (an error code, a product name) reachable."""

    dense_k: int = 20
    lexical_k: int = 20
    rrf_k: int = 60
    lexical_weight: float = 1.0  # a keyword rank's share of an RRF vote (dense: 1)
    mode: str = "hybrid"  # "hybrid", "dense", "lexical"
    latent_weight: float = 0.0  # latent similarity against dense cosine; 0: rank fusion
    latent_candidates: int = 80
    keyword_score_weight: float = 0.25  # ln(1 + BM25) in the score fusion
    fusion: Literal["rank", "score"] = "rank"  # without latent terms: RRF or ``score_fuse``
    # the translation's share of the vector query with a translated question (the question
    # has the rest)
    translation_weight: float = 0.6


@dataclass(frozen=True)
class RankedChunk:
    chunk: Chunk
    score: float  # fused RRF score (or the single index's score in single mode)
    dense_score: float | None = None  # cosine similarity, when the vector index returned it
    dense_rank: int | None = None
    lexical_score: float | None = None
    lexical_rank: int | None = None
    latent_score: float | None = None  # latent-term similarity, when the score fusion ran


@dataclass(frozen=True)
class Retrieval:
    query: str
    results: list[RankedChunk] = field(default_factory=list)
    best_dense: float | None = None
    lexical_hits: int = 0
    ms: float = 0.0


@dataclass
class _Candidate:
    chunk: Chunk
    dense: float | None = None
    dense_rank: int | None = None
    lexical: float | None = None
    lexical_rank: int | None = None

    def ranked(self, score: float, latent: float | None = None) -> RankedChunk:
        return RankedChunk(
            chunk=self.chunk,
            score=score,
            dense_score=self.dense,
            dense_rank=self.dense_rank,
            lexical_score=self.lexical,
            lexical_rank=self.lexical_rank,
            latent_score=latent,
        )


def _candidates(
    dense: list[tuple[Chunk, float]], lexical: list[tuple[Chunk, float]]
) -> dict[str, _Candidate]:
    """The union of both lists by chunk id, vector hits first, with each side's score and rank."""
    table: dict[str, _Candidate] = {}
    for rank, (chunk, score) in enumerate(dense, start=1):
        table[chunk.chunk_id] = _Candidate(chunk, dense=float(score), dense_rank=rank)
    for rank, (chunk, score) in enumerate(lexical, start=1):
        entry = table.setdefault(chunk.chunk_id, _Candidate(chunk))
        entry.lexical, entry.lexical_rank = float(score), rank
    return table


def _ordered(fused: list[RankedChunk]) -> list[RankedChunk]:
    """Best first; ties broken by dense rank, then chunk id (deterministic)."""
    return sorted(fused, key=lambda r: (-r.score, r.dense_rank or 10**9, r.chunk.chunk_id))


def rrf_fuse(
    dense: list[tuple[Chunk, float]],
    lexical: list[tuple[Chunk, float]],
    k: int,
    lexical_weight: float = 1.0,
) -> list[RankedChunk]:
    """Weighted reciprocal-rank fusion: ``1/(k + dense rank) + w/(k + keyword rank)``; ties
    broken by dense rank, then chunk id (deterministic)."""
    fused = []
    for c in _candidates(dense, lexical).values():
        score = (1.0 / (k + c.dense_rank) if c.dense_rank is not None else 0.0) + (
            lexical_weight / (k + c.lexical_rank) if c.lexical_rank is not None else 0.0
        )
        fused.append(c.ranked(score))
    return _ordered(fused)


def _standardised(values: list[float]) -> list[float]:
    """``(x - mean) / std`` over the candidates; all zeros when they do not differ."""
    array = np.asarray(values, dtype=np.float64)
    spread = float(array.std())
    if not array.size or spread < 1e-12:
        return [0.0] * len(values)
    return [float(v) for v in (array - array.mean()) / spread]


def score_fuse(
    dense: list[tuple[Chunk, float]],
    lexical: list[tuple[Chunk, float]],
    latent: Mapping[str, float],
    latent_weight: float,
    keyword_weight: float,
) -> list[RankedChunk]:
    """Score fusion over the union of both candidate lists:
    ``z(dense cosine) + latent_weight * z(latent similarity) + keyword_weight * z(ln(1 + BM25))``,
    each standardised over the candidates, so the three scales need no calibration.

    A keyword-only candidate gets the lowest dense cosine among the candidates (its own is
    below all of them, or the vector index would have returned it), a candidate without
    latent terms the candidates' mean (it neither gains nor loses), a candidate the keyword
    index did not return a keyword score of 0. Ties broken by dense rank, then chunk id."""
    table = _candidates(dense, lexical)
    if not table:
        return []
    floor = min((s for _, s in dense), default=0.0)
    known = [latent[i] for i in table if i in latent]
    middle = sum(known) / len(known) if known else 0.0
    z_dense = _standardised([c.dense if c.dense is not None else floor for c in table.values()])
    z_latent = _standardised([latent.get(i, middle) for i in table])
    z_keyword = _standardised([math.log1p(max(c.lexical or 0.0, 0.0)) for c in table.values()])
    fused = [
        c.ranked(
            z_dense[n] + latent_weight * z_latent[n] + keyword_weight * z_keyword[n],
            latent.get(chunk_id),
        )
        for n, (chunk_id, c) in enumerate(table.items())
    ]
    return _ordered(fused)


class _Background(Generic[T]):
    """One call run on its own thread, its result (or exception) collected with ``result()``."""

    def __init__(self, call: Callable[[], T], name: str) -> None:
        self._call = call
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = threading.Thread(
            target=self._run, name=name, daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._call()
        except BaseException as exc:  # re-raised on the caller's thread
            self._error = exc

    def result(self) -> T:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise self._error
        return cast(T, self._value)


def joint_vector(question: Vectors, translation: Vectors, translation_weight: float) -> Vectors:
    """The vector query for a question and its translation: their weighted mean, normalised."""
    joint = (1.0 - translation_weight) * np.asarray(
        question, dtype=np.float32
    ) + translation_weight * np.asarray(translation, dtype=np.float32)
    norm = float(np.linalg.norm(joint))
    return (joint / norm if norm > 0 else joint).astype(np.float32)


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
        self._latent = latent_of(embedder) if isinstance(lexical, LatentStore) else None
        self._warned_no_latent = False

    @property
    def has_latent(self) -> bool:
        """Whether hybrid retrieval can rescore with latent terms (the embedder gives them and
        the keyword index keeps them)."""
        return self._latent is not None

    def latent_indexed(self) -> bool:
        """Whether the index holds latent terms (it was built with them): without, a latent
        rescoring falls back to rank fusion."""
        some = next(iter(self.lexical.ids()), None) if self._latent is not None else None
        return some is not None and bool(cast(LatentStore, self.lexical).latent([some]))

    def contains(self, word: str, groups: Collection[str] | None) -> bool:
        """Does a chunk ``groups`` may read hold ``word`` (any of its keyword terms)?"""
        return self.lexical.contains(word, groups)

    def retrieve(
        self,
        query: str,
        groups: Collection[str] | None,
        *,
        config: RetrievalConfig | None = None,
        vector: Vectors | None = None,
        translation: str | None = None,
    ) -> Retrieval:
        """``vector``: the query's embedding when the caller already has it (one text searched
        with two filters is embedded once; ignored with a translation). ``translation``: the
        query in the other language (``assistant.translation``); the vector index is then
        searched with the normalised weighted mean of both embeddings, the keyword index with both
        texts, and the latent terms are both texts' summed."""
        cfg = config or self.config
        started = time.perf_counter()
        terms: LatentTerms | None = None
        asked = query
        if translation:
            if cfg.mode != "lexical":
                vector, terms = self._joint_query(query, translation, cfg)
            query = f"{query} {translation}"
        dense: list[tuple[Chunk, float]] = []
        lexical: list[tuple[Chunk, float]] = []
        keyword: _Background[list[Hit]] | None = None
        latent_query: _Background[LatentTerms] | None = None
        latent = self._latent if cfg.mode == "hybrid" and cfg.latent_weight > 0 else None
        # one forward pass gives the question's vector and its latent terms when the embedder
        # can (Lotse's e5 engine): cheaper than two passes side by side on the same cores
        one_pass = one_pass_of(self.embedder) if latent is not None and vector is None else None
        if cfg.mode == "lexical":
            lexical = [
                (h.chunk, h.score) for h in self.lexical.search(query, cfg.lexical_k, groups)
            ]
        elif cfg.mode == "hybrid":
            # The keyword search and the latent terms of the question need no embedding: they
            # run beside the query embedding and the vector search (SQLite and the embedder's
            # matrix products release the GIL; the embedder has an engine for each), so a
            # retrieval costs its longest path, not the sum of them.
            keyword = _Background(
                lambda: self.lexical.search(query, cfg.lexical_k, groups), "lotse-keyword-search"
            )
            if latent is not None and one_pass is None and terms is None:
                latent_query = _Background(
                    functools.partial(latent.latent_query, query), "lotse-latent-terms"
                )
        try:
            if cfg.mode in ("hybrid", "dense"):
                if one_pass is not None:
                    vector, terms = one_pass.embed_query_latent(query)
                elif vector is None:
                    vector = self.embedder.embed_query(query)
                dense_k = max(cfg.dense_k, cfg.latent_candidates) if latent else cfg.dense_k
                hits = self.vectors.query(vector, dense_k, groups)
                dense = [(h.chunk, h.score) for h in hits]
        finally:
            if keyword is not None:
                lexical = [(h.chunk, h.score) for h in keyword.result()]
            if latent_query is not None:
                terms = latent_query.result()
        results = None
        if terms is not None:
            results = self._latent_fused(terms, dense, lexical, cfg)
        if results is None and cfg.fusion == "score" and cfg.mode == "hybrid":
            results = score_fuse(dense[: cfg.dense_k], lexical, {}, 0.0, cfg.keyword_score_weight)
        if results is None:
            results = rrf_fuse(dense[: cfg.dense_k], lexical, cfg.rrf_k, cfg.lexical_weight)
        return Retrieval(
            query=asked,
            results=results,
            best_dense=dense[0][1] if dense else None,
            lexical_hits=len(lexical),
            ms=(time.perf_counter() - started) * 1000,
        )

    def _joint_query(
        self, query: str, translation: str, cfg: RetrievalConfig
    ) -> tuple[Vectors, LatentTerms | None]:
        """One vector for a question and its translation (their normalised mean, weighted by
        ``translation_weight``) and, when the latent rescoring runs, their summed latent
        terms."""
        latent = self._latent if cfg.mode == "hybrid" and cfg.latent_weight > 0 else None
        one_pass = one_pass_of(self.embedder) if latent is not None else None
        terms: LatentTerms | None = None
        if one_pass is not None:
            (first, terms_a), (second, terms_b) = (
                one_pass.embed_query_latent(query),
                one_pass.embed_query_latent(translation),
            )
            terms = summed(terms_a, terms_b)
        else:
            first, second = self.embedder.embed_query(query), self.embedder.embed_query(translation)
            if latent is not None:
                terms = summed(latent.latent_query(query), latent.latent_query(translation))
        return joint_vector(first, second, cfg.translation_weight), terms

    def _latent_fused(
        self,
        terms: LatentTerms,
        dense: list[tuple[Chunk, float]],
        lexical: list[tuple[Chunk, float]],
        cfg: RetrievalConfig,
    ) -> list[RankedChunk] | None:
        """The score fusion, or ``None`` (rank fusion instead) when no candidate has latent
        terms: an index built before they existed, or without them, until the next ingest."""
        ids = list(dict.fromkeys([c.chunk_id for c, _ in dense] + [c.chunk_id for c, _ in lexical]))
        stored = cast(LatentStore, self.lexical).latent(ids)
        if ids and not stored:
            if not self._warned_no_latent:
                self._warned_no_latent = True
                logger.warning(
                    "latent_terms_missing candidates=%d hint=ingest the sources again (`lotse "
                    "ingest DIR` or POST /v1/admin/reindex) to compute them; until then "
                    "retrieval fuses by rank",
                    len(ids),
                )
            return None
        return score_fuse(
            dense, lexical, similarities(terms, stored), cfg.latent_weight, cfg.keyword_score_weight
        )
