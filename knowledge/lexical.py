"""The ``LexicalIndex`` protocol (keyword search beside the vector store) and its implementations.

Contract:
- ``upsert(chunks)`` indexes each chunk's heading and text; an existing id is replaced.
  Every chunk must carry at least one ACL group (``ValueError`` otherwise). A failing upsert
  leaves the previous state.
- ``search(query, k, groups)`` returns at most ``k`` hits, best first, ``score`` > 0 (higher is
  better). Matching is on stemmed tokens, German and English, case- and accent-insensitive; a
  query of only stop words or punctuation returns no hits (never an error). The ACL filter is
  applied inside the query, as for ``VectorStore``. Ties are broken by chunk id.
- ``delete``, ``get``, ``ids``, ``count``, ``close`` as for ``VectorStore``.
- ``upsert(chunks, latent=terms)`` also keeps each chunk's latent terms (``models.latent``);
  ``latent(ids)`` returns those stored, by chunk id (a chunk written without them is absent).
  They go with their chunk: replaced by an upsert, removed by a delete.

Both implementations share ``Analyzer`` (text -> index terms) and Okapi BM25 with SQLite FTS5's
constants and IDF (``k1=1.2``, ``b=0.75``, IDF clamped to 1e-6), so they rank alike:
``SqliteLexicalIndex`` (FTS5, durable, thread-safe) and ``InMemoryLexicalIndex`` (the fake).
"""

from __future__ import annotations

import json
import logging
import math
import re
import sqlite3
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from knowledge.documents import Chunk
from knowledge.vectorstore import Hit, check_acl
from models.errors import StoreError
from models.latent import LatentTerms

logger = logging.getLogger(__name__)


@runtime_checkable
class LexicalIndex(Protocol):
    def upsert(
        self, chunks: Sequence[Chunk], latent: Sequence[LatentTerms] | None = None
    ) -> None: ...

    def delete(self, chunk_ids: Sequence[str]) -> None: ...

    def search(self, query: str, k: int, groups: Collection[str] | None = None) -> list[Hit]: ...

    def contains(self, word: str, groups: Collection[str] | None = None) -> bool:
        """Does a chunk ``groups`` may read hold one of ``word``'s terms?"""
        ...

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]: ...

    def ids(self) -> set[str]: ...

    def count(self) -> int: ...

    def close(self) -> None: ...


@runtime_checkable
class LatentStore(Protocol):
    """A keyword index that also keeps the chunks' latent terms."""

    def latent(self, chunk_ids: Sequence[str]) -> dict[str, LatentTerms]: ...


def _paired(
    chunks: Sequence[Chunk], latent: Sequence[LatentTerms] | None
) -> list[LatentTerms | None]:
    if latent is None:
        return [None] * len(chunks)
    if len(latent) != len(chunks):
        raise ValueError(f"{len(chunks)} chunks but {len(latent)} latent-term sets")
    return list(latent)


# Letters and digits; "_" and punctuation separate tokens ("WLAN-Passwort" -> wlan, passwort).
_TOKEN = re.compile(r"[^\W_]+")
_DIGIT = re.compile(r"\d")

# Compared after case folding and accent stripping (so "für" is listed as "fur").
STOP_WORDS = frozenset(
    """
    a an and are as at be been but by can could did do does for from had has have how i if in
    into is it its me my no not of on or our so than that the their them then there these they
    this to was we were what when where which who why will with would you your
    aber alle allem allen aller alles als also am an auch auf aus bei beim bin bis bist da damit
    dann das dass dem den denn der des dich die dies diese diesem diesen dieser dieses dir doch
    dort du durch ein eine einem einen einer eines er es etwas fur hat hatte hier ich ihr ihre
    im in ist ja jetzt kann man mich mir mit muss nach nicht noch nun nur ob oder ohne sich sie
    sind so soll uber um und uns unser unter vom von vor war was weil wenn wer wie wir wird wo
    zu zum zur
    """.split()  # noqa: SIM905 - a word list reads better as text
)

# Bump when the analysis changes: a stored index must then be rebuilt.
ANALYZER_VERSION = 1

# Okapi BM25 as SQLite FTS5's bm25() computes it.
BM25_K1 = 1.2
BM25_B = 0.75


def fold(token: str) -> str:
    """Case-fold and strip accents: "Zurücksetzen" -> "zurucksetzen", "Straße" -> "strasse"."""
    decomposed = unicodedata.normalize("NFKD", token.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class Analyzer:
    """Text -> index terms, the same for documents and queries.

    Each word is lower-cased and folded; stop words are dropped; a word with a digit
    ("0x80070005", "win11") is kept intact; any other word yields its German and its English
    Snowball stem (deduplicated), so "Druckers" -> druck, drucker and "passwords" -> password.
    Thread-safe.
    """

    def __init__(self) -> None:
        try:
            import Stemmer
        except ImportError as exc:
            raise StoreError(
                "the PyStemmer package is not installed",
                hint="install Lotse with its dependencies: pip install -e .",
            ) from exc
        self._german = Stemmer.Stemmer("german")
        self._english = Stemmer.Stemmer("english")
        self._lock = threading.Lock()  # PyStemmer objects are not thread-safe

    def terms(self, text: str) -> list[str]:
        """Index terms in text order; a word's German and English stems appear once each."""
        words = [w for w in (fold(t) for t in _TOKEN.findall(text)) if w not in STOP_WORDS]
        stemmable = [w for w in words if not _DIGIT.search(w)]
        with self._lock:
            german = self._german.stemWords(stemmable)
            english = self._english.stemWords(stemmable)
        stems = {
            w: (fold(de), fold(en)) for w, de, en in zip(stemmable, german, english, strict=True)
        }
        out: list[str] = []
        for word in words:
            if word in stems:
                de, en = stems[word]
                out.append(de)
                if en != de:
                    out.append(en)
            else:
                out.append(word)
        return [t for t in out if _TOKEN.fullmatch(t)]

    def query_terms(self, query: str) -> list[str]:
        """Distinct terms of ``query`` in first-seen order; empty for stop words or punctuation."""
        return list(dict.fromkeys(self.terms(query)))


def index_text(chunk: Chunk) -> str:
    """What the lexical index sees: the heading path and the text."""
    return f"{chunk.heading}\n{chunk.text}" if chunk.heading else chunk.text


def informative_terms(terms: Sequence[str], df: Mapping[str, int], rows: int) -> list[str]:
    """Drop terms found in at least half of all chunks, unless no term would be left.

    Their BM25 IDF is <= 0 and clamped to 1e-6, so they barely move a score, but each one
    makes the index visit most rows ("drucker" in an IT wiki): a 10k-chunk query goes from
    ~45 ms to a few ms without them. Both implementations apply this rule.
    """
    kept = [t for t in terms if 2 * df.get(t, 0) < rows]
    return kept or list(terms)


def bm25_idf(rows: int, hits: int) -> float:
    idf = math.log((rows - hits + 0.5) / (hits + 0.5))
    return idf if idf > 0.0 else 1e-6


class InMemoryLexicalIndex:
    """BM25 over dicts; the reference implementation for the contract tests.

    Thread-safe (one lock), so a reindex may write while questions are answered."""

    def __init__(self, analyzer: Analyzer | None = None) -> None:
        self._analyzer = analyzer or Analyzer()
        self._lock = threading.RLock()
        self._chunks: dict[str, Chunk] = {}
        self._freqs: dict[str, Counter[str]] = {}
        self._lengths: dict[str, int] = {}
        self._postings: dict[str, set[str]] = {}
        self._latent: dict[str, LatentTerms] = {}

    def upsert(self, chunks: Sequence[Chunk], latent: Sequence[LatentTerms] | None = None) -> None:
        check_acl(chunks)
        paired = _paired(chunks, latent)
        analysed = [(c, self._analyzer.terms(index_text(c))) for c in chunks]
        with self._lock:
            for (chunk, terms), chunk_latent in zip(analysed, paired, strict=True):
                self._remove(chunk.chunk_id)
                if chunk_latent is not None:
                    self._latent[chunk.chunk_id] = chunk_latent
                freqs = Counter(terms)
                self._chunks[chunk.chunk_id] = chunk
                self._freqs[chunk.chunk_id] = freqs
                self._lengths[chunk.chunk_id] = len(terms)
                for term in freqs:
                    self._postings.setdefault(term, set()).add(chunk.chunk_id)

    def delete(self, chunk_ids: Sequence[str]) -> None:
        with self._lock:
            for chunk_id in chunk_ids:
                self._remove(chunk_id)

    def search(self, query: str, k: int, groups: Collection[str] | None = None) -> list[Hit]:
        terms = self._analyzer.query_terms(query)
        with self._lock:
            return self._search(terms, k, groups)

    def contains(self, word: str, groups: Collection[str] | None = None) -> bool:
        terms = self._analyzer.query_terms(word)
        with self._lock:
            return any(
                groups is None or not set(groups).isdisjoint(self._chunks[chunk_id].acl)
                for term in terms
                for chunk_id in self._postings.get(term, ())
            )

    def _search(self, terms: list[str], k: int, groups: Collection[str] | None) -> list[Hit]:
        if k < 1 or not terms or not self._chunks:
            return []
        allowed = None if groups is None else set(groups)
        rows = len(self._chunks)
        avgdl = sum(self._lengths.values()) / rows
        df = {t: len(self._postings.get(t, ())) for t in terms}
        scores: dict[str, float] = {}
        for term in informative_terms(terms, df, rows):
            posting = self._postings.get(term, set())
            idf = bm25_idf(rows, len(posting))
            for chunk_id in posting:
                if allowed is not None and not allowed.intersection(self._chunks[chunk_id].acl):
                    continue
                f = self._freqs[chunk_id][term]
                norm = 1.0 - BM25_B + BM25_B * self._lengths[chunk_id] / avgdl
                scores[chunk_id] = scores.get(chunk_id, 0.0) + idf * (
                    f * (BM25_K1 + 1.0) / (f + BM25_K1 * norm)
                )
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return [Hit(self._chunks[cid], score) for cid, score in ranked[:k]]

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        with self._lock:
            return [self._chunks[i] for i in chunk_ids if i in self._chunks]

    def latent(self, chunk_ids: Sequence[str]) -> dict[str, LatentTerms]:
        with self._lock:
            return {i: self._latent[i] for i in chunk_ids if i in self._latent}

    def ids(self) -> set[str]:
        with self._lock:
            return set(self._chunks)

    def count(self) -> int:
        return len(self._chunks)

    def close(self) -> None:
        return None

    def _remove(self, chunk_id: str) -> None:
        self._latent.pop(chunk_id, None)
        if self._chunks.pop(chunk_id, None) is None:
            return
        for term in self._freqs.pop(chunk_id):
            posting = self._postings[term]
            posting.discard(chunk_id)
            if not posting:
                del self._postings[term]
        del self._lengths[chunk_id]


# The FTS5 ``ascii`` tokenizer splits only on ASCII punctuation and space, so every term the
# Analyzer emits (letters and digits, lower case) is exactly one FTS token.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    source_id TEXT NOT NULL,
    title TEXT NOT NULL,
    heading TEXT NOT NULL,
    position INTEGER NOT NULL,
    language TEXT NOT NULL,
    acl TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    source TEXT NOT NULL,
    format TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunk_acl (
    chunk_rowid INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    grp TEXT NOT NULL,
    PRIMARY KEY (grp, chunk_rowid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS chunk_acl_by_chunk ON chunk_acl(chunk_rowid);
CREATE TABLE IF NOT EXISTS chunk_latent (
    chunk_rowid INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    terms BLOB NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_fts USING fts5(terms, tokenize='ascii');
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_vocab USING fts5vocab(chunk_fts, 'row');
"""

# user_version = schema version * 1000 + analyzer version.
_USER_VERSION = 2 * 1000 + ANALYZER_VERSION

_COLUMNS = (
    "c.chunk_id, c.text, c.source_id, c.title, c.heading, c.position, c.language, c.acl, "
    "c.content_hash, c.source, c.format"
)


def _chunk_from_row(row: Sequence[Any]) -> Chunk:
    return Chunk(
        chunk_id=row[0],
        text=row[1],
        source_id=row[2],
        title=row[3],
        heading=row[4],
        position=row[5],
        language=row[6],
        acl=tuple(json.loads(row[7])),
        content_hash=row[8],
        source=row[9],
        format=row[10],
    )


def fts_match(terms: Sequence[str]) -> str:
    """An FTS5 query OR-ing ``terms``, each quoted so no term is read as syntax."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


class SqliteLexicalIndex:
    """BM25 keyword search in one SQLite file (FTS5 over ``Analyzer`` terms).

    WAL mode; one connection guarded by a lock, so the API server may call from many threads.
    Each ``upsert``/``delete`` is one transaction.
    """

    def __init__(self, path: Path, analyzer: Analyzer | None = None) -> None:
        self._path = path
        self._analyzer = analyzer or Analyzer()
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(
                f"cannot open the lexical index {path}: {exc}",
                hint="check that the directory exists and is writable",
            ) from exc
        try:
            self._setup()
        except StoreError:
            self._conn.close()
            raise
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreError(
                f"cannot open the lexical index {path}: {exc}",
                hint="if the file is corrupt, delete it and reindex",
            ) from exc
        logger.info("lexical_open path=%s count=%d", path, self.count())

    def _setup(self) -> None:
        conn = self._conn
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, _USER_VERSION):
            raise StoreError(
                f"the lexical index {self._path} has format {version}, "
                f"this version of Lotse writes {_USER_VERSION}",
                hint="delete the file and reindex",
            )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={_USER_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def upsert(self, chunks: Sequence[Chunk], latent: Sequence[LatentTerms] | None = None) -> None:
        check_acl(chunks)
        if not chunks:
            return
        paired = _paired(chunks, latent)
        started = time.perf_counter()
        analysed = [(c, " ".join(self._analyzer.terms(index_text(c)))) for c in chunks]
        with self._transaction("write") as conn:
            for (chunk, terms), chunk_latent in zip(analysed, paired, strict=True):
                self._delete_one(conn, chunk.chunk_id)
                cursor = conn.execute(
                    "INSERT INTO chunks (chunk_id, text, source_id, title, heading, position, "
                    "language, acl, content_hash, source, format) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        chunk.chunk_id,
                        chunk.text,
                        chunk.source_id,
                        chunk.title,
                        chunk.heading,
                        chunk.position,
                        chunk.language,
                        json.dumps(list(chunk.acl)),
                        chunk.content_hash,
                        chunk.source,
                        chunk.format,
                    ),
                )
                rowid = cursor.lastrowid
                conn.execute("INSERT INTO chunk_fts (rowid, terms) VALUES (?, ?)", (rowid, terms))
                if chunk_latent is not None:
                    conn.execute(
                        "INSERT INTO chunk_latent (chunk_rowid, terms) VALUES (?, ?)",
                        (rowid, chunk_latent.to_bytes()),
                    )
                conn.executemany(
                    "INSERT OR IGNORE INTO chunk_acl (chunk_rowid, grp) VALUES (?, ?)",
                    [(rowid, group) for group in chunk.acl],
                )
        logger.info(
            "lexical_upsert chunks=%d ms=%.1f", len(chunks), (time.perf_counter() - started) * 1000
        )

    def delete(self, chunk_ids: Sequence[str]) -> None:
        if not chunk_ids:
            return
        with self._transaction("write") as conn:
            for chunk_id in chunk_ids:
                self._delete_one(conn, chunk_id)
        logger.info("lexical_delete chunks=%d", len(chunk_ids))

    @staticmethod
    def _delete_one(conn: sqlite3.Connection, chunk_id: str) -> None:
        row = conn.execute("SELECT id FROM chunks WHERE chunk_id = ?", (chunk_id,)).fetchone()
        if row is None:
            return
        conn.execute("DELETE FROM chunk_fts WHERE rowid = ?", (row[0],))
        conn.execute(
            "DELETE FROM chunks WHERE id = ?", (row[0],)
        )  # cascades to chunk_acl, chunk_latent

    def search(self, query: str, k: int, groups: Collection[str] | None = None) -> list[Hit]:
        terms = self._analyzer.query_terms(query)
        if k < 1 or not terms or (groups is not None and not groups):
            return []
        # MATERIALIZED: the MATCH drives the query. Left to the planner, SQLite may probe the
        # FTS index once per allowed rowid instead, which takes seconds at 10k chunks.
        sql = (
            "WITH m AS MATERIALIZED ("
            "SELECT rowid AS id, bm25(chunk_fts) AS rank FROM chunk_fts WHERE chunk_fts MATCH ?"
            f") SELECT {_COLUMNS}, -m.rank FROM m JOIN chunks c ON c.id = m.id "
        )
        with self._reading() as conn:
            rows_total = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
            df = dict(
                conn.execute(
                    "SELECT term, doc FROM chunk_vocab "
                    "WHERE term IN (SELECT value FROM json_each(?))",
                    (json.dumps(terms),),
                ).fetchall()
            )
            params: list[Any] = [fts_match(informative_terms(terms, df, rows_total))]
            if groups is not None:
                sql += (
                    "WHERE m.id IN (SELECT chunk_rowid FROM chunk_acl "
                    "WHERE grp IN (SELECT value FROM json_each(?))) "
                )
                params.append(json.dumps(sorted(set(groups))))
            sql += "ORDER BY m.rank, c.chunk_id LIMIT ?"
            params.append(k)
            rows = conn.execute(sql, params).fetchall()
        return [Hit(_chunk_from_row(row), float(row[11])) for row in rows]

    def contains(self, word: str, groups: Collection[str] | None = None) -> bool:
        terms = self._analyzer.query_terms(word)
        if not terms or (groups is not None and not groups):
            return False
        sql = "SELECT 1 FROM chunk_fts WHERE chunk_fts MATCH ?"
        params: list[Any] = [fts_match(terms)]
        if groups is not None:
            sql += (
                " AND rowid IN (SELECT chunk_rowid FROM chunk_acl "
                "WHERE grp IN (SELECT value FROM json_each(?)))"
            )
            params.append(json.dumps(sorted(set(groups))))
        with self._reading() as conn:
            return conn.execute(sql + " LIMIT 1", params).fetchone() is not None

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        if not chunk_ids:
            return []
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM chunks c "
                "WHERE c.chunk_id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(chunk_ids)),),
            ).fetchall()
        found = {row[0]: _chunk_from_row(row) for row in rows}
        return [found[i] for i in chunk_ids if i in found]

    def latent(self, chunk_ids: Sequence[str]) -> dict[str, LatentTerms]:
        if not chunk_ids:
            return {}
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT c.chunk_id, l.terms FROM chunks c JOIN chunk_latent l "
                "ON l.chunk_rowid = c.id WHERE c.chunk_id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(chunk_ids)),),
            ).fetchall()
        return {row[0]: LatentTerms.from_bytes(row[1]) for row in rows}

    def ids(self) -> set[str]:
        with self._reading() as conn:
            return {row[0] for row in conn.execute("SELECT chunk_id FROM chunks")}

    def count(self) -> int:
        with self._reading() as conn:
            return int(conn.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise StoreError(
                    f"cannot read the lexical index {self._path}: {exc}",
                    hint="if the file is corrupt, delete it and reindex",
                ) from exc

    @contextmanager
    def _transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(
                    f"cannot {action} the lexical index {self._path}: {exc}",
                    hint="check that no other process writes to it and the disk is not full",
                ) from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(
                        f"cannot {action} the lexical index {self._path}: {exc}",
                        hint="check free disk space; the previous state was kept",
                    ) from exc
                raise
