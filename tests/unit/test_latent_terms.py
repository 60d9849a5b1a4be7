"""Latent terms: the record type, the score fusion, the retriever and the indexer, with fakes."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from assistant.eval_retrieval import evaluate_retrieval, load_retrieval_cases
from assistant.retrieval import (
    LATENT_WEIGHT,
    HybridRetriever,
    RetrievalConfig,
    rrf_fuse,
    score_fuse,
)
from knowledge.documents import Chunk, Document
from knowledge.indexer import Indexer, InProcessLoader
from knowledge.lexical import InMemoryLexicalIndex
from knowledge.manifest import Manifest
from knowledge.vectorstore import InMemoryVectorStore
from models.embedder import FakeEmbedder
from models.latent import FakeLatentEmbedder, LatentTerms, latent_of, similarities, similarity


def chunk(chunk_id: str, text: str = "x") -> Chunk:
    return Chunk(
        chunk_id=chunk_id,
        text=text,
        source_id=f"docs/{chunk_id}.md",
        title=chunk_id,
        heading="",
        position=0,
        language="de",
        acl=("everyone",),
        content_hash="h",
    )


# -- the record -----------------------------------------------------------------------------


def test_terms_are_sorted_positive_and_normalised() -> None:
    terms = LatentTerms.of([9, 2, 5], [3.0, 4.0, 0.0])

    assert terms.indices.tolist() == [2, 9]
    assert terms.weights.tolist() == pytest.approx([0.8, 0.6])
    assert len(terms) == 2
    assert len(LatentTerms.of([], [])) == 0


@pytest.mark.parametrize(
    ("indices", "weights", "message"),
    [
        ([1, 1], [1.0, 2.0], "distinct"),
        ([70000], [1.0], r"\[0, 65536\)"),
        ([-1], [1.0], r"\[0, 65536\)"),
        ([1, 2], [1.0], "2 indices but 1 weights"),
    ],
)
def test_bad_terms_are_refused(indices: list[int], weights: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LatentTerms.of(indices, weights)


def test_terms_survive_their_bytes_in_half_precision() -> None:
    rng = np.random.default_rng(3)
    indices = rng.choice(16384, size=256, replace=False)
    terms = LatentTerms.of(indices, rng.random(256) + 0.01)

    back = LatentTerms.from_bytes(terms.to_bytes())

    assert len(terms.to_bytes()) == 256 * 4
    assert back.indices.tolist() == terms.indices.tolist()
    assert np.max(np.abs(back.weights - terms.weights)) < 1e-3
    with pytest.raises(ValueError, match="multiple of 4"):
        LatentTerms.from_bytes(b"abc")


def test_similarity_is_the_cosine_of_the_full_vectors() -> None:
    rng = np.random.default_rng(5)
    a = LatentTerms.of(rng.choice(300, 40, replace=False), rng.random(40) + 0.1)
    b = LatentTerms.of(rng.choice(300, 40, replace=False), rng.random(40) + 0.1)
    full_a, full_b = np.zeros(300), np.zeros(300)
    full_a[a.indices], full_b[b.indices] = a.weights, b.weights

    assert similarity(a, b) == pytest.approx(float(full_a @ full_b), abs=1e-6)
    assert similarity(a, a) == pytest.approx(1.0, abs=1e-6)
    assert similarity(a, LatentTerms()) == 0.0


def test_similarities_of_many_candidates_agree_with_similarity_one_by_one() -> None:
    rng = np.random.default_rng(6)
    query = LatentTerms.of(rng.choice(16384, 60, replace=False), rng.random(60) + 0.1)
    many = {
        f"c{n}": LatentTerms.from_bytes(
            LatentTerms.of(rng.choice(16384, 256, replace=False), rng.random(256)).to_bytes()
        )
        for n in range(30)
    }
    many["empty"] = LatentTerms()
    many["top"] = LatentTerms.of([65535, *query.indices[:5]], [1.0] * 6)  # the largest index

    fast = similarities(query, many)
    assert fast.keys() == many.keys()
    for key, terms in many.items():
        assert fast[key] == pytest.approx(similarity(query, terms), abs=1e-6), key
    assert fast["empty"] == 0.0 and fast["top"] > 0.0
    assert similarities(LatentTerms(), many) == dict.fromkeys(many, 0.0)


def test_the_fake_shares_features_between_a_compound_and_its_word() -> None:
    fake = FakeLatentEmbedder()
    query = fake.latent_query("Drucker")
    compound, other = fake.latent_passages(["Druckerwarteschlange leeren", "Passwort ändern"])

    assert similarity(query, compound) > similarity(query, other) == 0.0
    assert latent_of(fake) is fake
    assert latent_of(FakeEmbedder()) is None


# -- the score fusion -----------------------------------------------------------------------


def test_latent_similarity_lifts_a_chunk_the_dense_ranking_put_lower() -> None:
    a, b, c = chunk("a"), chunk("b"), chunk("c")
    dense = [(a, 0.86), (b, 0.85), (c, 0.80)]

    fused = score_fuse(dense, [], {"a": 0.1, "b": 0.6, "c": 0.1}, 3.0, 0.25)

    assert [r.chunk.chunk_id for r in fused] == ["b", "a", "c"]
    assert fused[0].latent_score == 0.6 and fused[0].dense_rank == 2
    # without latent weight the dense order stands
    assert [r.chunk.chunk_id for r in score_fuse(dense, [], {"b": 0.6}, 0.0, 0.0)] == [
        "a",
        "b",
        "c",
    ]


def test_a_keyword_only_exact_match_is_lifted_by_its_keyword_score() -> None:
    """An error code only the keyword index finds: the vector and latent scores are flat
    noise, and a strong BM25 score brings the match to the top."""
    dense = [(chunk(f"d{n}"), 0.80 - n * 0.001) for n in range(20)]
    code = chunk("code")
    latent = {f"d{n}": 0.20 for n in range(20)} | {"code": 0.21}

    fused = score_fuse(dense, [(code, 12.0)], latent, 3.0, 0.25)

    assert fused[0].chunk.chunk_id == "code"
    assert fused[0].dense_score is None and fused[0].lexical_rank == 1


def test_a_candidate_without_terms_neither_gains_nor_loses() -> None:
    dense = [(chunk("a"), 0.9), (chunk("b"), 0.8), (chunk("c"), 0.7)]

    fused = score_fuse(dense, [], {"a": 0.1, "c": 0.5}, 1.0, 0.0)
    by_id = {r.chunk.chunk_id: r for r in fused}

    assert by_id["b"].latent_score is None
    # b gets the mean latent similarity: z = 0, so only its dense score (z = 0) counts
    assert by_id["b"].score == pytest.approx(0.0, abs=1e-9)
    assert score_fuse([], [], {}, 3.0, 0.25) == []


def test_equal_scores_keep_the_dense_order_then_the_id() -> None:
    dense = [(chunk("z"), 0.5), (chunk("y"), 0.5)]
    fused = score_fuse(dense, [(chunk("x"), 1.0), (chunk("w"), 1.0)], {}, 3.0, 0.0)
    assert [r.chunk.chunk_id for r in fused] == ["z", "y", "w", "x"]


# -- the retriever --------------------------------------------------------------------------

DOCS = [
    ("it/drucker.md", "Drucker", "# Drucker\n\nDie Druckerwarteschlange leeren Sie im Portal."),
    ("it/vpn.md", "VPN", "# VPN\n\nStart AnyConnect and connect to vpn.nordwind.de."),
    ("hr/urlaub.md", "Urlaub", "# Urlaub\n\nJede Vollzeitkraft hat 30 Tage Urlaub."),
    ("it/fehler.md", "Fehler", "# Fehler\n\nFehler 0x80070005 bedeutet: Zertifikat abgelaufen."),
]


def indexed(tmp_path: Path, embedder: FakeEmbedder, *, with_terms: bool = True) -> HybridRetriever:
    """DOCS indexed the way ingestion does it (``Indexer.sync_documents``) into in-memory
    stores, with or without latent terms."""
    vectors, lexical = InMemoryVectorStore(), InMemoryLexicalIndex()
    indexer = Indexer(
        embedder=embedder,
        vectors=vectors,
        lexical=lexical,
        manifest=Manifest(Path(tempfile.mkdtemp(dir=tmp_path)) / "manifest.sqlite3"),
        loader=InProcessLoader(),
        latent_terms=with_terms,
    )
    docs = [
        Document(
            source_id=source_id,
            title=title,
            text=text,
            format="markdown",
            language="de",
            content_hash=source_id,
            acl=("everyone",),
        )
        for source_id, title, text in DOCS
    ]
    assert indexer.sync_documents("sample", docs).new == len(DOCS)
    cfg = RetrievalConfig(dense_k=3, lexical_k=3, latent_weight=LATENT_WEIGHT)
    return HybridRetriever(embedder, vectors, lexical, cfg)


def test_hybrid_retrieval_rescores_with_latent_terms(tmp_path: Path) -> None:
    retriever = indexed(tmp_path, FakeLatentEmbedder(dim=16))
    assert retriever.has_latent

    found = retriever.retrieve("Wie leere ich die Druckerwarteschlange?", None)

    assert found.results[0].chunk.source_id == "it/drucker.md"
    assert all(r.latent_score is not None for r in found.results)
    # every chunk was a candidate: latent_candidates (80) widened dense_k (3)
    assert {r.chunk.source_id for r in found.results} == {d[0] for d in DOCS}
    assert found.best_dense == max(r.dense_score or -1 for r in found.results)


@pytest.mark.parametrize(
    "query", ["Wie leere ich die Druckerwarteschlange?", "How many vacation days?", "0x80070005"]
)
def test_one_pass_for_vector_and_terms_retrieves_what_two_passes_do(
    tmp_path: Path, query: str
) -> None:
    one = FakeLatentEmbedder(dim=16, one_pass=True)
    two = FakeLatentEmbedder(dim=16)

    found = indexed(tmp_path, one).retrieve(query, None)

    assert found.results == indexed(tmp_path, two).retrieve(query, None).results
    assert (one.query_passes, two.query_passes) == (1, 0)


def test_one_pass_is_not_used_without_latent_rescoring(tmp_path: Path) -> None:
    embedder = FakeLatentEmbedder(dim=16, one_pass=True)
    retriever = indexed(tmp_path, embedder)
    retriever.retrieve("Druckerwarteschlange", None, config=RetrievalConfig())
    retriever.retrieve("Druckerwarteschlange", None, config=RetrievalConfig(mode="dense"))
    assert embedder.query_passes == 0


def test_an_error_code_still_comes_first_with_latent_terms(tmp_path: Path) -> None:
    retriever = indexed(tmp_path, FakeLatentEmbedder(dim=16))
    found = retriever.retrieve("0x80070005", None)
    assert found.results[0].chunk.source_id == "it/fehler.md"


def test_dense_mode_and_weight_zero_do_not_use_latent_terms(tmp_path: Path) -> None:
    retriever = indexed(tmp_path, FakeLatentEmbedder(dim=16))
    query = "Wie leere ich die Druckerwarteschlange?"

    for cfg in (
        RetrievalConfig(dense_k=3, lexical_k=3, mode="dense", latent_weight=LATENT_WEIGHT),
        RetrievalConfig(dense_k=3, lexical_k=3),  # the default: rank fusion
    ):
        found = retriever.retrieve(query, None, config=cfg)
        assert all(r.latent_score is None for r in found.results)
        assert len([r for r in found.results if r.dense_rank is not None]) <= 3


def test_an_index_without_terms_falls_back_to_rank_fusion_and_says_so(
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    embedder = FakeLatentEmbedder(dim=16)
    retriever = indexed(tmp_path, embedder, with_terms=False)
    reference = indexed(tmp_path, embedder, with_terms=True)
    query = "Urlaub Vollzeitkraft"

    with caplog.at_level(logging.WARNING, logger="assistant.retrieval"):
        found = retriever.retrieve(query, None)
        retriever.retrieve(query, None)

    cfg = reference.config
    dense = [
        (h.chunk, h.score)
        for h in reference.vectors.query(embedder.embed_query(query), cfg.dense_k, None)
    ]
    lexical = [(h.chunk, h.score) for h in reference.lexical.search(query, cfg.lexical_k, None)]
    assert found.results == rrf_fuse(dense, lexical, cfg.rrf_k, cfg.lexical_weight)
    warnings = [r for r in caplog.records if "latent_terms_missing" in r.getMessage()]
    assert len(warnings) == 1 and "lotse ingest" in warnings[0].getMessage()


def test_latent_rescoring_is_off_by_default(tmp_path: Path) -> None:
    assert RetrievalConfig().latent_weight == 0.0
    retriever = indexed(tmp_path, FakeLatentEmbedder(dim=16))
    found = retriever.retrieve("Druckerwarteschlange", None, config=RetrievalConfig())
    assert all(r.latent_score is None for r in found.results)


def test_the_evaluation_compares_latent_rescoring_with_rank_fusion(tmp_path: Path) -> None:
    dataset = tmp_path / "r.jsonl"
    dataset.write_text(
        '{"id": "q1", "question": "Druckerwarteschlange leeren", "language": "de", '
        '"relevant": ["it/drucker.md"]}\n',
        encoding="utf-8",
    )
    cases = load_retrieval_cases(dataset)

    with_latent = evaluate_retrieval(
        indexed(tmp_path, FakeLatentEmbedder(dim=16)), cases, groups=None
    )
    without = evaluate_retrieval(indexed(tmp_path, FakeEmbedder(dim=16)), cases, groups=None)

    assert set(with_latent) == {
        "dense/fake-hashing-16",
        "lexical",
        "hybrid/fake-hashing-16",
        "hybrid-latent/fake-hashing-16",
    }
    assert "hybrid-latent/fake-hashing-16" not in without
    terms_missing = evaluate_retrieval(
        indexed(tmp_path, FakeLatentEmbedder(dim=16), with_terms=False), cases, groups=None
    )
    assert "hybrid-latent/fake-hashing-16" not in terms_missing


# -- the indexer ----------------------------------------------------------------------------


def write_docs(folder: Path) -> None:
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nDrucker und Toner.\n", encoding="utf-8")
    (folder / "b.md").write_text("# B\n\nVPN and Wi-Fi.\n", encoding="utf-8")


@pytest.mark.parametrize("enabled", [True, False])
def test_the_indexer_stores_latent_terms_for_every_chunk(tmp_path: Path, enabled: bool) -> None:
    write_docs(tmp_path / "docs")
    lexical = InMemoryLexicalIndex()
    indexer = Indexer(
        embedder=FakeLatentEmbedder(dim=16),
        vectors=InMemoryVectorStore(),
        lexical=lexical,
        manifest=Manifest(tmp_path / "manifest.sqlite3"),
        loader=InProcessLoader(),
        latent_terms=enabled,
    )

    indexer.ingest(tmp_path / "docs")

    ids = sorted(lexical.ids())
    assert len(ids) == 2
    stored = lexical.latent(ids)
    assert set(stored) == (set(ids) if enabled else set())
    assert all(len(t) > 0 for t in stored.values())


def test_an_index_built_without_latent_terms_gets_them_at_the_next_ingest(
    tmp_path: Path,
) -> None:
    write_docs(tmp_path / "docs")
    vectors, lexical = InMemoryVectorStore(), InMemoryLexicalIndex()
    manifest = Manifest(tmp_path / "manifest.sqlite3")

    def indexer(latent_terms: bool) -> Indexer:
        return Indexer(
            embedder=FakeLatentEmbedder(dim=16),
            vectors=vectors,
            lexical=lexical,
            manifest=manifest,
            loader=InProcessLoader(),
            latent_terms=latent_terms,
        )

    first = indexer(False).ingest(tmp_path / "docs")
    upgrade = indexer(True).ingest(tmp_path / "docs")
    again = indexer(True).ingest(tmp_path / "docs")

    assert (first.new, upgrade.changed, upgrade.unchanged) == (2, 2, 0)
    assert set(lexical.latent(sorted(lexical.ids()))) == lexical.ids()
    assert (again.unchanged, again.changed) == (2, 0)
    assert indexer(False).ingest(tmp_path / "docs").unchanged == 2  # off: nothing to catch up


# -- score fusion without latent terms -------------------------------------------------------


def test_score_fusion_without_latent_terms_fuses_the_same_candidates(tmp_path: Path) -> None:
    embedder = FakeLatentEmbedder(dim=16)
    retriever = indexed(tmp_path, embedder, with_terms=False)
    cfg = RetrievalConfig(dense_k=3, lexical_k=3, fusion="score", keyword_score_weight=0.5)
    query = "Urlaub Vollzeitkraft"

    found = retriever.retrieve(query, None, config=cfg)

    dense = [
        (h.chunk, h.score) for h in retriever.vectors.query(embedder.embed_query(query), 3, None)
    ]
    lexical = [(h.chunk, h.score) for h in retriever.lexical.search(query, 3, None)]
    assert found.results == score_fuse(dense, lexical, {}, 0.0, 0.5)
    assert found.results != rrf_fuse(dense, lexical, cfg.rrf_k, cfg.lexical_weight)
    assert all(r.latent_score is None for r in found.results)
    assert found.results[0].chunk.source_id == "hr/urlaub.md"


def test_an_error_code_comes_first_with_score_fusion(tmp_path: Path) -> None:
    retriever = indexed(tmp_path, FakeLatentEmbedder(dim=16), with_terms=False)
    cfg = RetrievalConfig(dense_k=3, lexical_k=3, fusion="score")
    assert retriever.retrieve("0x80070005", None, config=cfg).results[0].chunk.source_id == (
        "it/fehler.md"
    )
    # dense and lexical modes ignore the fusion
    for mode in ("dense", "lexical"):
        alone = RetrievalConfig(dense_k=3, lexical_k=3, mode=mode)
        scored = retriever.retrieve("0x80070005", None, config=replace(alone, fusion="score"))
        assert scored.results == retriever.retrieve("0x80070005", None, config=alone).results


def test_similar_ticket_search_keeps_rank_fusion_under_score_fusion(tmp_path: Path) -> None:
    """Ticket search was measured with equal-weight rank fusion; the articles' fusion setting
    does not reach it."""
    from assistant.ticket_assist import TICKET_RRF_K, TicketAssistant
    from assistant.ticket_store import TicketStore
    from models.llm import FakeLLM

    retriever = indexed(tmp_path, FakeLatentEmbedder(dim=16), with_terms=False)
    retriever.config = replace(retriever.config, fusion="score", latent_weight=0.0)
    assist = TicketAssistant(retriever=retriever, store=TicketStore(None), llm=FakeLLM())

    found = assist._retrieve("Fehler 0x80070005 Drucker", None)

    cfg = replace(retriever.config, dense_k=60, lexical_k=60, rrf_k=TICKET_RRF_K, fusion="rank")
    assert (
        found.results == retriever.retrieve("Fehler 0x80070005 Drucker", None, config=cfg).results
    )
