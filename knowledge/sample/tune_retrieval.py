"""Sweep the fusion settings over an ingested index with the retrieval dev set.

Retrieval only, no language model: each question is embedded and searched once in each index
(40 candidates), then every combination of the RRF constant, the keyword weight and the two
candidate depths is fused and scored as ``lotse eval retrieval`` scores (document level).
This is how the defaults in ``assistant/retrieval.py`` were chosen (docs/evaluation.md).

Usage: ``LOTSE_DATA_DIR=DIR python knowledge/sample/tune_retrieval.py [--top 15]`` over a data
directory where ``lotse ingest knowledge/sample/docs --source sample`` ran.

``--latent`` sweeps the latent-term rescoring instead (``score_fuse``: dense candidates, weight
of the latent similarity, weight of the keyword score) over an index ingested with
``LOTSE_RETRIEVAL__LATENT_WEIGHT=3`` (so that it holds latent terms).

``--translations REPORT`` searches as ``retrieval.translate_question`` does, with each question
and its recorded translation (a ``lotse eval retrieval --translate --out REPORT`` report): the
keyword index with both texts, the vector index with a weighted mean of both embeddings, whose
weight of the question is swept as well (0.5 is the plain mean; Lotse's default
``retrieval.translation_weight`` 0.6 is a question weight of 0.4).
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import cast

from api.settings import Settings
from api.wiring import Knowledge, open_knowledge
from assistant.eval_retrieval import (
    RetrievalCase,
    Scores,
    distinct_documents,
    load_retrieval_cases,
    load_translations,
)
from assistant.retrieval import RankedChunk, joint_vector, rrf_fuse, score_fuse
from knowledge.documents import Chunk
from knowledge.lexical import LatentStore
from models.latent import latent_of, similarity

DATASET = Path(__file__).resolve().parent / "eval" / "retrieval.jsonl"
DEPTH = 40
RRF_K = (5, 10, 20, 30, 60)
WEIGHTS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)
DENSE_K = (20, 40)
LEXICAL_K = (5, 10, 20)
LATENT_POOL = (20, 40, 80, 120)
LATENT_WEIGHTS = (1.0, 1.5, 2.0, 3.0)
KEYWORD_WEIGHTS = (0.0, 0.1, 0.25, 0.5)
QUESTION_WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7)  # of the question against its translation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--dataset", type=Path, default=DATASET, help="retrieval questions")
    parser.add_argument("--latent", action="store_true", help="sweep the latent rescoring")
    parser.add_argument(
        "--translations", type=Path, help="search with the translations of this report too"
    )
    args = parser.parse_args()
    translations = load_translations(args.translations) if args.translations else {}
    settings = Settings()
    knowledge = open_knowledge(settings, purpose="tune_retrieval")
    cases = load_retrieval_cases(args.dataset)
    groups = sorted({g for e in knowledge.manifest.entries() for g in e.acl})
    searched = []
    latent = latent_of(knowledge.embedder)
    if args.latent and (latent is None or not knowledge.retriever.latent_indexed()):
        knowledge.close()
        raise SystemExit(
            "this index holds no latent terms: ingest with LOTSE_RETRIEVAL__LATENT_WEIGHT=3"
        )
    depth = max(LATENT_POOL) if args.latent else DEPTH
    similarities: list[dict[str, float]] = []
    try:
        if translations and not args.latent:
            by_weight = search_translated(knowledge, cases, translations, groups)
            sweep_translated(by_weight, args.top, groups)
            return
        for case in cases:
            vector = knowledge.embedder.embed_query(case.question)
            dense = [(h.chunk, h.score) for h in knowledge.vectors.query(vector, depth, groups)]
            found = knowledge.lexical.search(case.question, DEPTH, groups)
            searched.append((case, dense, [(h.chunk, h.score) for h in found]))
            if args.latent and latent is not None:
                terms = latent.latent_query(case.question)
                ids = [c.chunk_id for c, _ in dense] + [h.chunk.chunk_id for h in found]
                stored = cast(LatentStore, knowledge.lexical).latent(ids)
                similarities.append({i: similarity(terms, t) for i, t in stored.items()})
    finally:
        knowledge.close()
    if args.latent:
        sweep_latent(searched, similarities, args.top, groups)
        return
    rows = [
        score_row(
            searched,
            rank_fusion(k, weight, dense_k, lexical_k),
            (k, weight, dense_k, lexical_k),
        )
        for k, weight, dense_k, lexical_k in itertools.product(RRF_K, WEIGHTS, DENSE_K, LEXICAL_K)
    ]
    rows.sort(reverse=True)
    print(f"{len(cases)} questions, groups {', '.join(groups)}")
    print("recall@5  mrr     recall@10  r@5 de  r@5 en  rrf_k  weight  dense_k  lexical_k")
    for row in rows[: args.top]:
        print("  ".join(f"{v:<7}" for v in row))


Searched = list[tuple[RetrievalCase, list[tuple[Chunk, float]], list[tuple[Chunk, float]]]]


def search_translated(
    knowledge: Knowledge,
    cases: list[RetrievalCase],
    translations: dict[str, str],  # by case id
    groups: list[str],
) -> dict[float, Searched]:
    """Each question searched with its translation, once per weight of the question's embedding
    in the vector query (a question without a translation: with itself alone)."""
    by_weight: dict[float, Searched] = {w: [] for w in QUESTION_WEIGHTS}
    for case in cases:
        translation = translations.get(case.id)
        asked = knowledge.embedder.embed_query(case.question)
        other = knowledge.embedder.embed_query(translation) if translation else asked
        text = f"{case.question} {translation}" if translation else case.question
        found = [(h.chunk, h.score) for h in knowledge.lexical.search(text, DEPTH, groups)]
        for weight in QUESTION_WEIGHTS:
            joint = joint_vector(asked, other, 1.0 - weight)
            hits = knowledge.vectors.query(joint, DEPTH, groups)
            by_weight[weight].append((case, [(h.chunk, h.score) for h in hits], found))
    return by_weight


def sweep_translated(by_weight: dict[float, Searched], top: int, groups: list[str]) -> None:
    rows = [
        score_row(
            by_weight[weight],
            rank_fusion(k, lexical, dense_k, lexical_k),
            (weight, k, lexical, dense_k, lexical_k),
        )
        for weight, k, lexical, dense_k, lexical_k in itertools.product(
            QUESTION_WEIGHTS, RRF_K, WEIGHTS, DENSE_K, LEXICAL_K
        )
    ]
    rows.sort(reverse=True)
    print(
        f"{len(by_weight[QUESTION_WEIGHTS[0]])} questions with translations, groups "
        f"{', '.join(groups)}"
    )
    print(
        "recall@5  mrr     recall@10  r@5 de  r@5 en  q_weight  rrf_k  weight  dense_k  lexical_k"
    )
    for row in rows[:top]:
        print("  ".join(f"{v:<7}" for v in row))


Fuse = Callable[
    [RetrievalCase, list[tuple[Chunk, float]], list[tuple[Chunk, float]]], list[RankedChunk]
]


def rank_fusion(k: int, weight: float, dense_k: int, lexical_k: int) -> Fuse:
    return lambda _, dense, lexical: rrf_fuse(dense[:dense_k], lexical[:lexical_k], k, weight)


def latent_fusion(
    similarities: dict[int, dict[str, float]], pool: int, weight: float, keyword: float
) -> Fuse:
    return lambda case, dense, lexical: score_fuse(
        dense[:pool], lexical[:20], similarities[id(case)], weight, keyword
    )


def score_row(searched: Searched, fuse: Fuse, settings: tuple[float, ...]) -> tuple[object, ...]:
    """recall@5, MRR, recall@10, recall@5 de and en of one fusion setting, then the setting."""
    overall, per = Scores(), {"de": Scores(), "en": Scores()}
    for case, dense, lexical in searched:
        ranked = distinct_documents(fuse(case, dense, lexical))
        overall.add(ranked, case.relevant)
        per.setdefault(case.language, Scores()).add(ranked, case.relevant)
    scores = overall.as_dict()
    return (
        scores["recall@5"],
        scores["mrr"],
        scores["recall@10"],
        per["de"].as_dict()["recall@5"],
        per["en"].as_dict()["recall@5"],
        *settings,
    )


def sweep_latent(
    searched: Searched,
    similarities: list[dict[str, float]],
    top: int,
    groups: list[str],
) -> None:
    by_case = {id(case): sims for (case, _, _), sims in zip(searched, similarities, strict=True)}
    rows = [
        score_row(
            searched,
            latent_fusion(by_case, pool, weight, keyword),
            (pool, weight, keyword),
        )
        for pool, weight, keyword in itertools.product(LATENT_POOL, LATENT_WEIGHTS, KEYWORD_WEIGHTS)
    ]
    rows.sort(reverse=True)
    print(f"{len(searched)} questions, groups {', '.join(groups)}, keyword top 20")
    print("recall@5  mrr     recall@10  r@5 de  r@5 en  dense_k  latent_w  keyword_w")
    for row in rows[:top]:
        print("  ".join(f"{v:<7}" for v in row))


if __name__ == "__main__":
    main()
