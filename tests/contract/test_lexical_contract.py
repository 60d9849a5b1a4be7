"""One contract suite for every ``LexicalIndex`` implementation.

Each implementation is an ``Opener``: given a directory it opens the index kept there (and
the same data again when called again with that directory, for durable indexes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from knowledge.documents import Chunk
from knowledge.lexical import (
    Analyzer,
    InMemoryLexicalIndex,
    LatentStore,
    LexicalIndex,
    SqliteLexicalIndex,
)
from models.errors import StoreError
from models.latent import LatentTerms

Opener = Callable[[Path], LexicalIndex]


def memory_opener() -> Opener:
    indexes: dict[Path, InMemoryLexicalIndex] = {}

    def open_index(path: Path) -> LexicalIndex:
        return indexes.setdefault(path, InMemoryLexicalIndex())

    return open_index


def sqlite_opener(path: Path) -> LexicalIndex:
    return SqliteLexicalIndex(path / "lexical.sqlite3")


LEXICAL_INDEXES: dict[str, Callable[[], Opener]] = {
    "memory": memory_opener,
    "sqlite": lambda: sqlite_opener,
}
DURABLE_INDEXES: dict[str, Callable[[], Opener]] = {
    "sqlite": lambda: sqlite_opener,
}


@pytest.fixture(params=sorted(LEXICAL_INDEXES))
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LexicalIndex]:
    opened = LEXICAL_INDEXES[request.param]()(tmp_path)
    yield opened
    opened.close()


def chunk(
    chunk_id: str, text: str, *, acl: tuple[str, ...] = ("everyone",), heading: str = ""
) -> Chunk:
    return Chunk(
        chunk_id=chunk_id,
        text=text,
        source_id=f"docs/{chunk_id}.md",
        title=f"Title {chunk_id}",
        heading=heading,
        position=2,
        language="und",
        acl=acl,
        content_hash="c0ffee",
        source="wiki",
        format="markdown",
    )


def ids(index: LexicalIndex, query: str, k: int = 10, groups: list[str] | None = None) -> list[str]:
    return [h.chunk.chunk_id for h in index.search(query, k, groups)]


CORPUS = [
    chunk("printer-de", "Der Drucker im zweiten Stock druckt nur leere Seiten."),
    chunk("printer-de-2", "Treiber des Druckers neu installieren und Warteschlange leeren."),
    chunk("password-en", "Reset your password in the self-service portal."),
    chunk("password-de", "Passwort zurücksetzen: im Self-Service-Portal auf Vergessen klicken."),
    chunk("wifi-de", "Das WLAN-Passwort für Gäste hängt am Empfang aus."),
    chunk("vpn-en", "AnyConnect shows error 0x80070005 when the certificate expired."),
    chunk("vpn-other", "Error 0x80070006 means the handle is invalid."),
    chunk("outlook-en", "Outlook does not start in safe mode.", heading="Mail > Outlook"),
]


@pytest.fixture
def corpus(index: LexicalIndex) -> LexicalIndex:
    index.upsert(CORPUS)
    return index


def test_a_new_index_is_empty(index: LexicalIndex) -> None:
    assert isinstance(index, LexicalIndex)
    assert index.count() == 0
    assert index.ids() == set()
    assert index.get(["nope"]) == []
    assert index.search("Drucker", 5) == []
    assert index.search("Drucker", 5, ["everyone"]) == []


def test_upsert_stores_every_chunk_field(index: LexicalIndex) -> None:
    original = Chunk(
        chunk_id="c1",
        text="Der Drucker druckt nicht — bitte Toner prüfen.",
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

    index.upsert([original, bare])

    assert index.get(["c2", "missing", "c1"]) == [bare, original]
    assert index.count() == 2
    assert index.ids() == {"c1", "c2"}
    assert [h.chunk for h in index.search("Toner", 5)] == [original]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Drucker", {"printer-de", "printer-de-2"}),
        ("Druckers", {"printer-de", "printer-de-2"}),
        ("DRUCKER", {"printer-de", "printer-de-2"}),
        ("passwords", {"password-en"}),
        ("Reset PASSWORD", {"password-en"}),
        ("Passwort zurücksetzen", {"password-de", "wifi-de"}),
        ("passwort zurucksetzen", {"password-de", "wifi-de"}),
        ("0x80070005", {"vpn-en"}),
        ("anyconnect", {"vpn-en"}),
        ("WLAN-Passwort", {"wifi-de", "password-de"}),
        ("Gaeste Gäste", {"wifi-de"}),
        ("outlook", {"outlook-en"}),
        ("Mail", {"outlook-en"}),  # the heading is indexed
    ],
)
def test_stemmed_german_and_english_matching(
    corpus: LexicalIndex, query: str, expected: set[str]
) -> None:
    assert set(ids(corpus, query)) == expected


@pytest.mark.parametrize(
    ("query", "best"),
    [
        ("Passwort zurücksetzen", "password-de"),
        ("WLAN-Passwort", "wifi-de"),
        ("AnyConnect error 0x80070005", "vpn-en"),
        ("Drucker druckt leere Seiten", "printer-de"),
    ],
)
def test_the_best_match_comes_first(corpus: LexicalIndex, query: str, best: str) -> None:
    hits = corpus.search(query, 10)

    assert hits[0].chunk.chunk_id == best
    assert all(h.score > 0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        "?!…",
        "der die das und",
        "the and or not",
        'AND OR NOT "(',
        "*",
    ],
)
def test_queries_without_terms_return_nothing(corpus: LexicalIndex, query: str) -> None:
    assert corpus.search(query, 10) == []


@pytest.mark.parametrize(
    "query", ['"Drucker"', "drucker*", "-drucker:", "(drucker) AND", "drucker^2", "NEAR(drucker"]
)
def test_query_syntax_characters_are_plain_text(corpus: LexicalIndex, query: str) -> None:
    assert set(ids(corpus, query)) == {"printer-de", "printer-de-2"}


def test_more_occurrences_rank_higher(index: LexicalIndex) -> None:
    index.upsert(
        [
            chunk("once", "VPN Verbindung Netzwerk Kabel"),
            chunk("never", "Drucker Toner Papier Stau"),
            chunk("thrice", "VPN VPN VPN Verbindung"),
        ]
    )

    hits = index.search("vpn", 10)

    assert [h.chunk.chunk_id for h in hits] == ["thrice", "once"]
    assert hits[0].score > hits[1].score > 0


def test_k_limits_the_hits_and_ties_break_by_id(index: LexicalIndex) -> None:
    index.upsert([chunk(f"c{i}", "Drucker Toner") for i in (3, 1, 4, 0, 2)])

    assert ids(index, "toner", 2) == ["c0", "c1"]
    assert ids(index, "toner", 100) == ["c0", "c1", "c2", "c3", "c4"]
    assert index.search("toner", 0) == []


def test_acl_filter_is_applied_before_the_top_k_cut(index: LexicalIndex) -> None:
    forbidden = [chunk(f"hr{i:02d}", "VPN VPN VPN Zugang", acl=("hr",)) for i in range(20)]
    allowed = [chunk(f"pub{i}", "VPN Zugang für alle Mitarbeitenden im Haus") for i in range(3)]
    index.upsert(forbidden + allowed)

    assert ids(index, "vpn", 3, ["everyone"]) == ["pub0", "pub1", "pub2"]
    assert ids(index, "vpn", 3, None) == ["hr00", "hr01", "hr02"]
    assert ids(index, "vpn", 30, ["hr"]) == [f"hr{i:02d}" for i in range(20)]


def test_acl_groups_are_or_ed(index: LexicalIndex) -> None:
    index.upsert(
        [
            chunk("hr", "Urlaubsantrag", acl=("hr",)),
            chunk("it", "Urlaubsantrag", acl=("it",)),
            chunk("both", "Urlaubsantrag", acl=("hr", "it")),
            chunk("pub", "Urlaubsantrag"),
        ]
    )

    assert ids(index, "urlaubsantrag", groups=["it"]) == ["both", "it"]
    assert ids(index, "urlaubsantrag", groups=["everyone", "it"]) == ["both", "it", "pub"]
    assert ids(index, "urlaubsantrag", groups=["nobody"]) == []
    assert ids(index, "urlaubsantrag", groups=[]) == []
    assert ids(index, "urlaubsantrag") == ["both", "hr", "it", "pub"]


def test_contains_finds_a_word_by_its_terms_in_chunks_the_groups_may_read(
    index: LexicalIndex,
) -> None:
    index.upsert(
        [
            chunk("pub", "AnyConnect verbindet das Firmennetz; Drucker im zweiten Stock."),
            chunk("hr", "Projekt Falke: Gehaltsbänder 2027", acl=("hr",)),
            chunk("gone", "Slack wird abgeschaltet."),
        ]
    )
    index.delete(["gone"])

    assert index.contains("AnyConnect") and index.contains("anyconnect", ["everyone"])
    assert index.contains("Druckers", ["everyone"])  # the same stem as "Drucker"
    assert index.contains("Falke") and index.contains("Falke", ["hr"])
    assert not index.contains("Falke", ["everyone"])  # only in a page the caller may not see
    assert not index.contains("Falke", [])
    assert not index.contains("Slack")  # its only chunk was deleted
    assert not index.contains("AutoCAD")
    assert not index.contains("the")  # a stop word has no term
    assert not index.contains('"OR*')  # query syntax is plain text


def test_a_user_in_one_restricted_group_finds_its_one_document(index: LexicalIndex) -> None:
    public = [chunk(f"c{i:04d}", f"Quartalsbericht Entwurf {i}") for i in range(500)]
    secret = chunk("finance", "Quartalsbericht final", acl=("finance",))
    index.upsert([*public[:250], secret, *public[250:]])

    assert [h.chunk for h in index.search("Quartalsbericht", 10, ["finance"])] == [secret]


def test_upsert_replaces_text_and_acl(index: LexicalIndex) -> None:
    index.upsert([chunk("c1", "Drucker Toner"), chunk("c2", "Toner bestellen")])
    replacement = chunk("c1", "VPN Zugang", acl=("it",))

    index.upsert([replacement])

    assert index.count() == 2
    assert index.get(["c1"]) == [replacement]
    assert ids(index, "drucker") == []
    assert ids(index, "toner") == ["c2"]
    assert ids(index, "vpn", groups=["everyone"]) == []
    assert ids(index, "vpn", groups=["it"]) == ["c1"]


def test_duplicate_ids_in_one_upsert_keep_the_last(index: LexicalIndex) -> None:
    index.upsert([chunk("c1", "erste Fassung"), chunk("c1", "zweite Fassung")])

    assert index.count() == 1
    assert ids(index, "erste") == []
    assert ids(index, "zweite") == ["c1"]


def test_delete_removes_chunks_and_ignores_unknown_ids(index: LexicalIndex) -> None:
    index.upsert([chunk("c1", "Drucker"), chunk("c2", "Drucker"), chunk("c3", "VPN")])

    index.delete(["c1", "unknown"])
    index.delete([])

    assert index.ids() == {"c2", "c3"}
    assert index.count() == 2
    assert index.get(["c1"]) == []
    assert ids(index, "drucker") == ["c2"]


def test_a_chunk_without_acl_is_rejected_and_nothing_is_written(index: LexicalIndex) -> None:
    good = chunk("good", "Drucker")
    for bad in (chunk("bad", "x", acl=()), chunk("bad", "x", acl=("",))):
        with pytest.raises(ValueError, match="bad"):
            index.upsert([good, bad])

    assert index.count() == 0
    assert index.search("Drucker", 5) == []


def terms(*pairs: tuple[int, float]) -> LatentTerms:
    return LatentTerms.of([i for i, _ in pairs], [w for _, w in pairs])


def latent_of(index: LexicalIndex) -> LatentStore:
    assert isinstance(index, LatentStore), f"{type(index).__name__} keeps no latent terms"
    return index


def assert_same_terms(got: LatentTerms, want: LatentTerms) -> None:
    assert got.indices.tolist() == want.indices.tolist()
    # stored in half precision
    assert got.weights.tolist() == pytest.approx(want.weights.tolist(), abs=1e-3)


def test_latent_terms_are_kept_with_their_chunk(index: LexicalIndex) -> None:
    a, b = terms((3, 1.0), (40000, 2.0)), terms((7, 0.5))
    index.upsert([chunk("c1", "Drucker"), chunk("c2", "VPN")], latent=[a, b])
    index.upsert([chunk("c3", "WLAN")])  # written without terms

    stored = latent_of(index).latent(["c2", "c1", "c3", "unknown"])

    assert set(stored) == {"c1", "c2"}
    assert_same_terms(stored["c1"], a)
    assert_same_terms(stored["c2"], b)
    assert latent_of(index).latent([]) == {}


def test_latent_terms_are_replaced_and_deleted_with_their_chunk(index: LexicalIndex) -> None:
    index.upsert([chunk("c1", "Drucker"), chunk("c2", "VPN")], latent=[terms((1, 1.0))] * 2)
    index.upsert([chunk("c1", "Drucker neu")], latent=[terms((9, 1.0))])
    index.upsert([chunk("c2", "VPN neu")])  # a replacement without terms drops the old ones

    stored = latent_of(index).latent(["c1", "c2"])
    assert set(stored) == {"c1"}
    assert stored["c1"].indices.tolist() == [9]

    index.delete(["c1"])
    assert latent_of(index).latent(["c1", "c2"]) == {}


def test_latent_terms_must_pair_with_the_chunks(index: LexicalIndex) -> None:
    with pytest.raises(ValueError, match="2 chunks but 1 latent"):
        index.upsert([chunk("c1", "a"), chunk("c2", "b")], latent=[terms((1, 1.0))])
    assert index.count() == 0


def test_implementations_rank_alike(tmp_path: Path) -> None:
    """The fake and SQLite FTS5 compute the same BM25, so they cannot drift apart."""
    analyzer = Analyzer()
    memory = InMemoryLexicalIndex(analyzer)
    sqlite = SqliteLexicalIndex(tmp_path / "lexical.sqlite3", analyzer)
    try:
        memory.upsert(CORPUS)
        sqlite.upsert(CORPUS)
        for query in ("Drucker Passwort", "error 0x80070005 AnyConnect", "WLAN Gäste Portal"):
            left, right = memory.search(query, 10), sqlite.search(query, 10)
            assert [h.chunk for h in left] == [h.chunk for h in right]
            assert [h.score for h in left] == pytest.approx([h.score for h in right], rel=1e-9)
    finally:
        sqlite.close()


@pytest.fixture(params=sorted(DURABLE_INDEXES))
def durable_opener(request: pytest.FixtureRequest) -> Opener:
    return DURABLE_INDEXES[request.param]()


def test_data_survives_close_and_reopen(durable_opener: Opener, tmp_path: Path) -> None:
    first = durable_opener(tmp_path)
    first.upsert(
        [chunk("c1", "Drucker", acl=("it",)), chunk("c2", "Passwort")],
        latent=[terms((5, 1.0)), terms((6, 1.0))],
    )
    first.delete(["c2"])
    first.close()

    reopened = durable_opener(tmp_path)
    try:
        assert reopened.ids() == {"c1"}
        assert {
            k: v.indices.tolist() for k, v in latent_of(reopened).latent(["c1", "c2"]).items()
        } == {"c1": [5]}
        assert ids(reopened, "Druckers", groups=["it"]) == ["c1"]
        assert ids(reopened, "Druckers", groups=["everyone"]) == []
    finally:
        reopened.close()


# SQLite-specific guarantees behind the contract.


def test_sqlite_a_failing_upsert_keeps_the_previous_state(tmp_path: Path) -> None:
    index = SqliteLexicalIndex(tmp_path / "lexical.sqlite3")
    try:
        before = chunk("c1", "Drucker")
        index.upsert([before])
        unstorable = Chunk("c3", "VPN", "x", "", "", 2**70, "de", ("everyone",), "", "s", "text")

        with pytest.raises(OverflowError):
            index.upsert([chunk("c1", "Passwort"), chunk("c2", "VPN"), unstorable])

        assert index.ids() == {"c1"}
        assert index.get(["c1"]) == [before]
        assert ids(index, "drucker") == ["c1"]
        assert ids(index, "vpn passwort") == []
    finally:
        index.close()


def test_sqlite_serves_several_threads(tmp_path: Path) -> None:
    index = SqliteLexicalIndex(tmp_path / "lexical.sqlite3")
    errors: list[BaseException] = []

    def search() -> None:
        try:
            for _ in range(50):
                index.search("Drucker Toner", 5, ["everyone"])
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=search) for _ in range(4)]
        for thread in threads:
            thread.start()
        for i in range(50):
            index.upsert([chunk(f"c{i}", "Drucker Toner")])
        for thread in threads:
            thread.join()

        assert errors == []
        assert index.count() == 50
    finally:
        index.close()


def test_sqlite_reports_a_file_that_is_not_an_index(tmp_path: Path) -> None:
    path = tmp_path / "lexical.sqlite3"
    path.write_bytes(b"this is not a database" * 100)

    with pytest.raises(
        StoreError, match=r"cannot open the lexical index .*lexical\.sqlite3"
    ) as err:
        SqliteLexicalIndex(path)
    assert err.value.hint == "if the file is corrupt, delete it and reindex"


def test_terms_in_most_chunks_only_count_when_nothing_else_matches(index: LexicalIndex) -> None:
    index.upsert([chunk(f"c{i}", "Drucker im Büro") for i in range(9)])
    index.upsert([chunk("toner", "Drucker braucht Toner")])

    assert ids(index, "Drucker Toner") == ["toner"]
    assert ids(index, "Drucker") == [f"c{i}" for i in range(9)] + ["toner"]
