"""One contract suite for every ``VectorStore`` implementation.

Each implementation is an ``Opener``: given a directory it opens the store kept there (and
opens the same data again when called again with that directory, for durable stores).
The "chroma-server" variant talks to a real ``chroma run`` server that the session-scoped
``chroma_url`` fixture (tests/contract/conftest.py) starts on a free port of 127.0.0.1.
"""

from __future__ import annotations

import math
import random
import socket
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from knowledge.chroma import ChromaVectorStore
from knowledge.documents import Chunk
from knowledge.lexical import InMemoryLexicalIndex, SqliteLexicalIndex
from knowledge.vectorstore import Hit, InMemoryVectorStore, VectorStore
from models.embedder import FakeEmbedder, Vectors
from models.errors import StoreError

Opener = Callable[[Path], VectorStore]


def memory_opener() -> Opener:
    stores: dict[Path, InMemoryVectorStore] = {}

    def open_store(path: Path) -> VectorStore:
        return stores.setdefault(path, InMemoryVectorStore())

    return open_store


def chroma_persistent_opener(path: Path) -> VectorStore:
    return ChromaVectorStore.persistent(path / "chroma")


class ChromaWithRecords:
    """Embedded Chroma reading the chunks its searches find from a keyword index beside it,
    both written in the indexer's order (vectors first): the wiring of ``open_knowledge``."""

    def __init__(self, path: Path) -> None:
        self.vectors = ChromaVectorStore.persistent(path / "chroma")
        self.records = SqliteLexicalIndex(path / "lexical.sqlite3")
        self.vectors.read_records_from(self.records)

    def upsert(self, chunks: Sequence[Chunk], embeddings: Vectors) -> None:
        self.vectors.upsert(chunks, embeddings)
        self.records.upsert(chunks)

    def delete(self, chunk_ids: Sequence[str]) -> None:
        self.vectors.delete(chunk_ids)
        self.records.delete(chunk_ids)

    def query(self, embedding: Vectors, k: int, groups: Collection[str] | None = None) -> list[Hit]:
        return self.vectors.query(embedding, k, groups)

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        return self.vectors.get(chunk_ids)

    def ids(self) -> set[str]:
        return self.vectors.ids()

    def count(self) -> int:
        return self.vectors.count()

    def close(self) -> None:
        self.vectors.close()
        self.records.close()


def chroma_server_opener(url: str) -> Opener:
    """The hook for a Chroma server variant: one fresh collection per test directory."""

    def open_store(path: Path) -> VectorStore:
        collection = "t" + uuid.uuid5(uuid.NAMESPACE_URL, str(path)).hex
        return ChromaVectorStore.http(url, collection=collection)

    return open_store


def chroma_server_fixture_opener(request: pytest.FixtureRequest) -> Opener:
    return chroma_server_opener(request.getfixturevalue("chroma_url"))


# Each entry builds its opener; it may ask for fixtures (a server) through the request.
VECTOR_STORES: dict[str, Callable[[pytest.FixtureRequest], Opener]] = {
    "memory": lambda request: memory_opener(),
    "chroma-persistent": lambda request: chroma_persistent_opener,
    "chroma-records": lambda request: ChromaWithRecords,
    "chroma-server": chroma_server_fixture_opener,
}
DURABLE_STORES: dict[str, Callable[[pytest.FixtureRequest], Opener]] = {
    "chroma-persistent": lambda request: chroma_persistent_opener,
    "chroma-records": lambda request: ChromaWithRecords,
    "chroma-server": chroma_server_fixture_opener,
}

EMBEDDER = FakeEmbedder(dim=64)


@pytest.fixture(params=sorted(VECTOR_STORES))
def opener(request: pytest.FixtureRequest) -> Opener:
    return VECTOR_STORES[request.param](request)


@pytest.fixture
def store(opener: Opener, tmp_path: Path) -> Iterator[VectorStore]:
    opened = opener(tmp_path)
    yield opened
    opened.close()


def chunk(
    chunk_id: str, text: str = "", *, acl: tuple[str, ...] = ("everyone",), heading: str = ""
) -> Chunk:
    return Chunk(
        chunk_id=chunk_id,
        text=text or f"text of {chunk_id}",
        source_id=f"docs/{chunk_id}.md",
        title=f"Title {chunk_id}",
        heading=heading,
        position=7,
        language="de",
        acl=acl,
        content_hash="c0ffee",
        source="wiki",
        format="markdown",
    )


def embed(chunks: list[Chunk]) -> Vectors:
    return EMBEDDER.embed_passages([c.embedding_text for c in chunks])


def fan(n: int, dim: int = 8) -> Vectors:
    """Unit vectors at 0°, 10°, 20°, … in the first plane: cosine to e1 falls with the index."""
    out = np.zeros((n, dim), dtype=np.float32)
    for i in range(n):
        angle = math.radians(10 * i)
        out[i, 0], out[i, 1] = math.cos(angle), math.sin(angle)
    return out


def e1(dim: int = 8) -> Vectors:
    vec = np.zeros(dim, dtype=np.float32)
    vec[0] = 1.0
    return vec


def test_a_new_store_is_empty(store: VectorStore) -> None:
    assert store.count() == 0
    assert store.ids() == set()
    assert store.get(["nope"]) == []
    assert store.query(EMBEDDER.embed_query("drucker"), k=5) == []
    assert store.query(EMBEDDER.embed_query("drucker"), k=5, groups=["everyone"]) == []


def test_implements_the_protocol(store: VectorStore) -> None:
    assert isinstance(store, VectorStore)


def test_upsert_stores_every_chunk_field(store: VectorStore) -> None:
    original = Chunk(
        chunk_id="c1",
        text="Der Drucker im 2. OG druckt nicht — bitte Toner prüfen.",
        source_id="it/drucker.md",
        title="Drucker",
        heading="Drucker > Störungen",
        position=3,
        language="de",
        acl=("it", "everyone"),
        content_hash="ab" * 32,
        source="wiki",
        format="markdown",
    )
    bare = Chunk("c2", "", "x.txt", "", "", 0, "und", ("hr",), "", "default", "text")
    store.upsert([original, bare], embed([original, bare]))

    assert store.get(["c1", "c2"]) == [original, bare]
    assert store.count() == 2
    assert store.ids() == {"c1", "c2"}


def test_get_keeps_the_requested_order_and_skips_unknown_ids(store: VectorStore) -> None:
    chunks = [chunk(f"c{i}") for i in range(4)]
    store.upsert(chunks, embed(chunks))

    got = store.get(["c3", "missing", "c0", "c2"])

    assert [c.chunk_id for c in got] == ["c3", "c0", "c2"]


def test_upsert_replaces_an_existing_id(store: VectorStore) -> None:
    old = chunk("c1", "Drucker druckt nicht")
    store.upsert([old, chunk("c2", "VPN Verbindung")], embed([old, chunk("c2", "VPN Verbindung")]))
    new = chunk("c1", "Passwort zurücksetzen", acl=("hr",))

    store.upsert([new], embed([new]))

    assert store.count() == 2
    assert store.get(["c1"]) == [new]
    hits = store.query(EMBEDDER.embed_query(new.embedding_text), k=1)
    assert [h.chunk for h in hits] == [new]
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    public = store.query(EMBEDDER.embed_query(new.embedding_text), k=5, groups=["everyone"])
    assert [h.chunk.chunk_id for h in public] == ["c2"]


def test_duplicate_ids_in_one_upsert_keep_the_last(store: VectorStore) -> None:
    first, second = chunk("c1", "erste Fassung"), chunk("c1", "zweite Fassung")

    store.upsert([first, second], embed([first, second]))

    assert store.count() == 1
    assert store.get(["c1"]) == [second]


def test_delete_removes_chunks_and_ignores_unknown_ids(store: VectorStore) -> None:
    chunks = [chunk(f"c{i}") for i in range(3)]
    store.upsert(chunks, embed(chunks))

    store.delete(["c1", "unknown"])
    store.delete([])
    store.delete(["also-unknown"])

    assert store.ids() == {"c0", "c2"}
    assert store.count() == 2
    assert store.get(["c1"]) == []
    hits = store.query(EMBEDDER.embed_query(chunks[1].embedding_text), k=10)
    assert {h.chunk.chunk_id for h in hits} == {"c0", "c2"}


def test_query_returns_best_first_with_cosine_scores(store: VectorStore) -> None:
    chunks = [chunk(f"c{i}") for i in range(6)]
    # Stored in shuffled order so insertion order cannot fake the ranking.
    order = [3, 0, 5, 1, 4, 2]
    store.upsert([chunks[i] for i in order], fan(6)[order])

    hits = store.query(e1(), k=4)

    assert [h.chunk.chunk_id for h in hits] == ["c0", "c1", "c2", "c3"]
    expected = [math.cos(math.radians(10 * i)) for i in range(4)]
    assert [h.score for h in hits] == pytest.approx(expected, abs=1e-5)


def test_score_is_one_minus_cosine_distance_over_the_whole_range(store: VectorStore) -> None:
    chunks = [chunk("same"), chunk("orthogonal"), chunk("opposite")]
    vectors = np.zeros((3, 8), dtype=np.float32)
    vectors[0, 0], vectors[1, 1], vectors[2, 0] = 2.0, 1.0, -1.0  # norm must not matter
    store.upsert(chunks, vectors)

    hits = store.query(e1(), k=3)

    assert [h.chunk.chunk_id for h in hits] == ["same", "orthogonal", "opposite"]
    assert [h.score for h in hits] == pytest.approx([1.0, 0.0, -1.0], abs=1e-5)


def test_k_limits_the_hits_and_may_exceed_the_collection(store: VectorStore) -> None:
    chunks = [chunk(f"c{i}") for i in range(5)]
    store.upsert(chunks, fan(5))

    assert len(store.query(e1(), k=2)) == 2
    assert [h.chunk.chunk_id for h in store.query(e1(), k=100)] == ["c0", "c1", "c2", "c3", "c4"]
    assert store.query(e1(), k=0) == []


def test_acl_filter_is_applied_before_the_top_k_cut(store: VectorStore) -> None:
    # The ten nearest chunks belong to "hr"; the caller may only see "everyone".
    forbidden = [chunk(f"hr{i}", acl=("hr",)) for i in range(10)]
    allowed = [chunk(f"pub{i}", acl=("everyone",)) for i in range(3)]
    vectors = fan(13)
    store.upsert(forbidden + allowed, vectors)

    hits = store.query(e1(), k=3, groups=["everyone"])

    assert [h.chunk.chunk_id for h in hits] == ["pub0", "pub1", "pub2"]
    assert [h.score for h in hits] == pytest.approx(
        [math.cos(math.radians(10 * i)) for i in (10, 11, 12)], abs=1e-5
    )


def test_acl_groups_are_or_ed_and_none_means_unfiltered(store: VectorStore) -> None:
    chunks = [
        chunk("hr", acl=("hr",)),
        chunk("it", acl=("it",)),
        chunk("both", acl=("hr", "it")),
        chunk("pub", acl=("everyone",)),
    ]
    store.upsert(chunks, fan(4))

    def ids(groups: list[str] | None) -> list[str]:
        return [h.chunk.chunk_id for h in store.query(e1(), k=10, groups=groups)]

    assert ids(["it"]) == ["it", "both"]
    assert ids(["hr"]) == ["hr", "both"]
    assert ids(["everyone", "it"]) == ["it", "both", "pub"]
    assert ids(["unknown-group"]) == []
    assert ids([]) == []
    assert ids(None) == ["hr", "it", "both", "pub"]


def test_a_chunk_without_acl_is_rejected_and_nothing_is_written(store: VectorStore) -> None:
    good = chunk("good")
    for bad in (chunk("bad", acl=()), chunk("bad", acl=("",))):
        with pytest.raises(ValueError, match="bad"):
            store.upsert([good, bad], embed([good, bad]))

    assert store.count() == 0


def test_chunks_and_embeddings_must_pair_up(store: VectorStore) -> None:
    chunks = [chunk("a"), chunk("b")]

    with pytest.raises(ValueError, match="2 chunks but 1 embeddings"):
        store.upsert(chunks, embed(chunks[:1]))

    assert store.count() == 0


def test_german_and_english_texts_find_themselves(store: VectorStore) -> None:
    chunks = [
        chunk("de", "Der Drucker im zweiten Stock druckt nicht"),
        chunk("en", "How to reset your password in the self-service portal"),
        chunk("vpn", "AnyConnect VPN meldet Fehler 0x80070005"),
    ]
    store.upsert(chunks, embed(chunks))

    for c in chunks:
        hits = store.query(EMBEDDER.embed_query(c.text), k=1, groups=["everyone"])
        assert [h.chunk.chunk_id for h in hits] == [c.chunk_id]
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)


def word_salad(n: int, words: int = 30, seed: int = 7) -> list[str]:
    """``n`` distinct pseudo-texts, deterministic: dense enough vectors for an HNSW graph."""
    rnd = random.Random(seed)
    vocab = [f"wort{i}" for i in range(3000)]
    return [f"Abschnitt {i}: " + " ".join(rnd.sample(vocab, words)) for i in range(n)]


@pytest.mark.slow
def test_a_large_batch_is_stored_and_searchable(store: VectorStore) -> None:
    texts = word_salad(6000)
    chunks = [chunk(f"c{i:05d}", text) for i, text in enumerate(texts)]
    secret = chunk("finance", texts[17] + " Quartalszahlen", acl=("finance",))
    chunks.insert(3000, secret)

    store.upsert(chunks, embed(chunks))

    assert store.count() == 6001
    assert len(store.ids()) == 6001
    assert store.get(["c05999", "finance", "c00000"]) == [chunks[-1], secret, chunks[0]]
    query = EMBEDDER.embed_query(texts[17])
    assert [h.chunk for h in store.query(query, k=10, groups=["finance"])] == [secret]
    public = store.query(query, k=10, groups=["everyone"])
    assert len(public) == 10
    assert public[0].chunk.chunk_id == "c00017"
    assert public[0].score == pytest.approx(1.0, abs=1e-5)
    assert all(h.chunk.acl == ("everyone",) for h in public)
    assert [h.score for h in public] == sorted((h.score for h in public), reverse=True)


def mixed_acl_corpus(n: int) -> tuple[list[Chunk], Vectors]:
    """``n`` German and English chunks in four groups — half of them "everyone", the rest
    "hr", "finance" or "it" and "hr", so a caller of one group finds few allowed among the
    nearest — with unit vectors spread over 80° of one plane: seen from outside the fan
    (``direction(-30)``, ``direction(110)``) no two are equally near, so an approximate
    index has one right answer."""
    groups = [("everyone",), ("hr",), ("everyone",), ("finance",), ("everyone",), ("it", "hr")]
    topics = ["VPN-Zugang von zu Hause", "password reset", "Urlaubsantrag", "printer queue"]
    chunks = [chunk(f"c{i:04d}", f"{topics[i % 4]} {i}", acl=groups[i % 6]) for i in range(n)]
    vectors = np.stack([direction(80 * i / n) for i in range(n)])
    return chunks, vectors


def direction(degrees: float, dim: int = 8) -> Vectors:
    vec = np.zeros(dim, dtype=np.float32)
    vec[0], vec[1] = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return vec


def test_filtered_search_over_many_chunks_matches_the_exact_reference(store: VectorStore) -> None:
    # Enough chunks that a filtered search takes the over-fetch path (4 x k nearest ids first)
    chunks, vectors = mixed_acl_corpus(400)
    store.upsert(chunks, vectors)
    reference = InMemoryVectorStore()
    reference.upsert(chunks, vectors)
    for angle in (-30, 110):
        query = direction(angle)
        for groups in (["everyone"], ["hr"], ["finance"], ["finance", "it"], ["nobody"]):
            for k in (1, 5, 20):
                got = store.query(query, k, groups)
                want = reference.query(query, k, groups)
                assert [h.chunk for h in got] == [h.chunk for h in want], (angle, groups, k)
                assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-5)


class CountingRecords:
    """``ChunkRecords`` over an in-memory keyword index, counting the ids it is asked for."""

    def __init__(self) -> None:
        self.index = InMemoryLexicalIndex()
        self.asked = 0

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        self.asked += len(chunk_ids)
        return self.index.get(chunk_ids)


def test_chroma_reads_what_its_records_lack_from_itself(tmp_path: Path) -> None:
    # The keyword index is written after Chroma: a chunk it does not have yet is still found,
    # and a record whose chunk Chroma no longer has is never returned.
    chunks, vectors = mixed_acl_corpus(200)
    store = ChromaVectorStore.persistent(tmp_path / "chroma")
    records = CountingRecords()
    store.read_records_from(records)
    store.upsert(chunks, vectors)
    records.index.upsert(chunks[::2])  # every second chunk only
    reference = InMemoryVectorStore()
    reference.upsert(chunks, vectors)
    query = direction(-30)
    assert [h.chunk for h in store.query(query, 10, ["hr"])] == [
        h.chunk for h in reference.query(query, 10, ["hr"])
    ]

    assert records.asked  # the records were read, Chroma only for what they lack

    store.delete(["c0000", "c0002"])  # nearest to the query, still in the records
    hits = store.query(query, 10, ["everyone", "hr"])
    assert [h.chunk.chunk_id for h in hits][:3] == ["c0001", "c0004", "c0005"]
    assert {"c0000", "c0002"}.isdisjoint(h.chunk.chunk_id for h in hits)
    assert len(hits) == 10
    store.close()


@pytest.mark.slow
def test_one_restricted_chunk_among_near_duplicates_is_found(store: VectorStore) -> None:
    # Thousands of chunks that differ in one word give an HNSW graph in which a filtered search
    # can miss the only allowed chunk (chromadb 1.5.9); the store must still find it.
    chunks = [chunk(f"c{i:05d}", f"Anleitung Nummer {i} zum Thema VPN") for i in range(2000)]
    secret = chunk("finance", "Quartalszahlen Anleitung Nummer 17 zum Thema VPN", acl=("finance",))
    chunks.insert(1000, secret)
    store.upsert(chunks, embed(chunks))

    query = EMBEDDER.embed_query("Anleitung Nummer 17 zum Thema VPN")

    assert [h.chunk for h in store.query(query, k=10, groups=["finance"])] == [secret]
    assert [h.chunk for h in store.query(query, k=10, groups=["finance", "hr"])] == [secret]


@pytest.fixture(params=sorted(DURABLE_STORES))
def durable_opener(request: pytest.FixtureRequest) -> Opener:
    return DURABLE_STORES[request.param](request)


def test_data_survives_close_and_reopen(durable_opener: Opener, tmp_path: Path) -> None:
    chunks = [chunk("c1", "Drucker", acl=("it",)), chunk("c2", "Passwort"), chunk("c3", "VPN")]
    first = durable_opener(tmp_path)
    first.upsert(chunks, embed(chunks))
    first.delete(["c3"])
    first.close()

    reopened = durable_opener(tmp_path)
    try:
        assert reopened.count() == 2
        assert reopened.get(["c1", "c2", "c3"]) == chunks[:2]
        hits = reopened.query(EMBEDDER.embed_query("Drucker"), k=1, groups=["it"])
        assert [h.chunk for h in hits] == [chunks[0]]
    finally:
        reopened.close()


# Chroma-specific guarantees behind the contract.


def test_chroma_never_loads_its_default_embedding_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(self: socket.socket, address: object) -> None:
        raise AssertionError(f"network access to {address}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    store = ChromaVectorStore.persistent(tmp_path / "chroma")
    try:
        chunks = [chunk("c1", "Drucker"), chunk("c2", "VPN")]
        store.upsert(chunks, embed(chunks))
        hits = store.query(EMBEDDER.embed_query("Drucker"), k=1, groups=["everyone"])
        assert [h.chunk.chunk_id for h in hits] == ["c1"]
        assert not list(tmp_path.rglob("*.onnx"))
    finally:
        store.close()


def test_chroma_errors_name_the_location_and_a_next_step(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")

    with pytest.raises(StoreError, match="not-a-directory") as opened:
        ChromaVectorStore.persistent(blocker)
    assert opened.value.hint is not None

    with pytest.raises(StoreError, match="invalid Chroma server URL 'chroma:8000'"):
        ChromaVectorStore.http("chroma:8000")

    with socket.socket() as probe:  # a local port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(StoreError, match=f"cannot reach the Chroma server at {url}"):
        ChromaVectorStore.http(url)


def test_chroma_rejects_an_embedding_of_another_dimension(tmp_path: Path) -> None:
    store = ChromaVectorStore.persistent(tmp_path / "chroma")
    try:
        store.upsert([chunk("c1")], embed([chunk("c1")]))
        with pytest.raises(StoreError, match="dimension") as raised:
            store.query(np.ones(8, dtype=np.float32), k=1)
        assert raised.value.hint == "an index built with another embedder must be rebuilt"
    finally:
        store.close()
