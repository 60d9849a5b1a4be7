"""``ChromaVectorStore``: the ``VectorStore`` protocol over a Chroma collection.

Embedded (``persistent(path)``) for one machine, a Chroma server (``http(url)``) for scale-out.

- We always pass our own embeddings; the collection is created with ``embedding_function=None``
  so Chroma never loads (or downloads) its default model.
- Cosine space; ``score = 1 - cosine distance``.
- The ACL filter runs inside the index: every group is its own boolean metadata key
  (``acl:<group>: True``) and a query carries a ``where`` over the caller's groups. The group
  list itself is kept as JSON under ``acl`` for reading back. A cheaper unfiltered search
  answers first when it already holds ``k`` allowed hits (see ``query``).
- Chroma's search is approximate (HNSW) once a collection outgrows its brute-force buffer;
  ties are broken by chunk id among the hits returned.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import struct
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit

import numpy as np

from knowledge.documents import Chunk
from knowledge.vectorstore import Hit, check_acl
from models.embedder import Vectors
from models.errors import StoreError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.collection_configuration import CreateCollectionConfiguration
    from chromadb.api.models.Collection import Collection as ChromaCollection

logger = logging.getLogger(__name__)

ACL_KEY = "acl"
ACL_GROUP_PREFIX = "acl:"
SPACE: Final = "cosine"


class ChunkRecords(Protocol):
    """Where chunks can be read by id (``LexicalIndex`` is one)."""

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]: ...


OVERFETCH = 4  # unfiltered neighbours fetched per wanted hit before filtering inside Chroma


def acl_key(group: str) -> str:
    """The boolean metadata key that marks a chunk as visible to ``group``."""
    return f"{ACL_GROUP_PREFIX}{group}"


def acl_where(groups: Collection[str]) -> dict[str, Any]:
    """A Chroma ``where`` matching chunks that share at least one of ``groups`` (non-empty)."""
    clauses: list[dict[str, Any]] = [{acl_key(g): True} for g in sorted(set(groups))]
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}


def chunk_metadata(chunk: Chunk) -> dict[str, str | int | bool | None]:
    """Every ``Chunk`` field except ``text`` (stored as the Chroma document)."""
    meta: dict[str, str | int | bool | None] = {
        "chunk_id": chunk.chunk_id,
        "source_id": chunk.source_id,
        "title": chunk.title,
        "heading": chunk.heading,
        "position": chunk.position,
        "language": chunk.language,
        "content_hash": chunk.content_hash,
        "source": chunk.source,
        "format": chunk.format,
        ACL_KEY: json.dumps(list(chunk.acl)),
    }
    for group in chunk.acl:
        meta[acl_key(group)] = True
    return meta


def chunk_from_record(chunk_id: str, text: str | None, meta: Mapping[str, Any]) -> Chunk:
    return Chunk(
        chunk_id=chunk_id,
        text=text or "",
        source_id=str(meta["source_id"]),
        title=str(meta["title"]),
        heading=str(meta["heading"]),
        position=int(meta["position"]),
        language=str(meta["language"]),
        acl=tuple(json.loads(str(meta[ACL_KEY]))),
        content_hash=str(meta["content_hash"]),
        source=str(meta["source"]),
        format=str(meta["format"]),
    )


class ChromaVectorStore:
    """A ``VectorStore`` over one Chroma collection; build it with ``persistent`` or ``http``."""

    def __init__(self, client: ClientAPI, collection: str, *, location: str) -> None:
        self._client = client
        self._records: ChunkRecords | None = None
        self._location = location
        self._name = collection
        configuration: CreateCollectionConfiguration = {"hnsw": {"space": SPACE}}
        with self._errors("open the collection", hint=_open_hint(location)):
            self._collection: ChromaCollection = client.get_or_create_collection(
                collection,
                configuration=configuration,
                embedding_function=None,
            )
            space = (self._collection.configuration.get("hnsw") or {}).get("space")
            self._max_batch = max(1, int(client.get_max_batch_size()))
        if space != SPACE:
            raise StoreError(
                f"the Chroma collection {collection!r} at {location} uses distance {space!r}, "
                f"not {SPACE!r}",
                hint="delete the collection (or the index directory) and reindex",
            )
        logger.info(
            "chroma_open location=%s collection=%s count=%d max_batch=%d",
            location,
            collection,
            self.count(),
            self._max_batch,
        )

    def read_records_from(self, records: ChunkRecords) -> None:
        """Read the chunks an ACL-filtered search finds from ``records`` (the keyword index,
        which stores every chunk this one does) instead of Chroma's metadata: at 10k chunks
        0.6 ms for 80 against 6.4 ms. An id ``records`` does not know (written here first,
        not there yet) is read from Chroma, so nothing is lost while a reindex runs."""
        self._records = records

    def _chunks(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        records = [] if self._records is None else self._records.get(chunk_ids)
        found = {c.chunk_id: c for c in records}
        missing = [i for i in chunk_ids if i not in found]
        if missing:
            found.update((c.chunk_id, c) for c in self.get(missing))
        return found

    @property
    def _embedded(self) -> bool:
        """An index in files of this process (``persistent``), not a Chroma server."""
        return not self._location.startswith(("http://", "https://"))

    @classmethod
    def persistent(cls, path: Path, collection: str = "chunks") -> ChromaVectorStore:
        """Embedded Chroma in ``path`` (created if missing); one process must own it."""
        chromadb, settings = _import_chromadb()
        try:
            path.mkdir(parents=True, exist_ok=True)
            # what an earlier process (one killed, say) left in the capacity stays off the disk
            _scrub_quietly(path, "open")
            client = chromadb.PersistentClient(path=str(path), settings=settings)
        except Exception as exc:  # chromadb raises plain Exceptions from its Rust bindings
            raise StoreError(
                f"cannot open the Chroma index at {path}: {exc}",
                hint="check that the directory is writable and not used by another process; "
                "if it is corrupt, delete it and reindex",
            ) from exc
        return cls(client, collection, location=str(path))

    @classmethod
    def http(cls, url: str, collection: str = "chunks") -> ChromaVectorStore:
        """A Chroma server, e.g. ``http://chroma.intranet:8000`` (``https`` for TLS)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StoreError(
                f"invalid Chroma server URL {url!r}",
                hint="use the form http://host:port or https://host:port",
            )
        ssl = parts.scheme == "https"
        try:
            port = parts.port or (443 if ssl else 8000)
        except ValueError as exc:
            raise StoreError(f"invalid port in Chroma server URL {url!r}") from exc
        chromadb, settings = _import_chromadb()
        try:
            client = chromadb.HttpClient(host=parts.hostname, port=port, ssl=ssl, settings=settings)
        except Exception as exc:  # ValueError("Could not connect ...") or httpx errors
            raise StoreError(
                f"cannot reach the Chroma server at {url}: {exc}",
                hint="check that the server runs (`chroma run --path ...`) and the URL and "
                "firewall allow the connection",
            ) from exc
        return cls(client, collection, location=url)

    def upsert(self, chunks: Sequence[Chunk], embeddings: Vectors) -> None:
        if len(chunks) != len(embeddings):
            raise ValueError(f"{len(chunks)} chunks but {len(embeddings)} embeddings")
        check_acl(chunks)
        if not chunks:
            return
        matrix = np.asarray(embeddings, dtype=np.float32)
        started = time.perf_counter()
        # Chroma rejects duplicate ids within one call; the last occurrence wins, as in a dict.
        latest = {chunk.chunk_id: i for i, chunk in enumerate(chunks)}
        order = sorted(latest.values())
        with self._errors("write to", hint="check free disk space and the embedder dimension"):
            for start in range(0, len(order), self._max_batch):
                rows = order[start : start + self._max_batch]
                ids = [chunks[i].chunk_id for i in rows]
                metadatas = [chunk_metadata(chunks[i]) for i in rows]
                self._clear_stale_groups(ids, metadatas)
                self._collection.upsert(
                    ids=ids,
                    embeddings=matrix[rows],
                    metadatas=metadatas,  # type: ignore[arg-type]  # dict is invariant
                    documents=[chunks[i].text for i in rows],
                )
        logger.info(
            "chroma_upsert chunks=%d batches=%d ms=%.1f",
            len(order),
            -(-len(order) // self._max_batch),
            (time.perf_counter() - started) * 1000,
        )

    def _clear_stale_groups(
        self, ids: list[str], metadatas: list[dict[str, str | int | bool | None]]
    ) -> None:
        """Chroma's upsert merges metadata: a group a chunk no longer has must be set to None."""
        existing = self._collection.get(ids=ids, include=["metadatas"])
        old_groups = {
            cid: {key for key in (meta or {}) if key.startswith(ACL_GROUP_PREFIX)}
            for cid, meta in zip(existing["ids"], existing["metadatas"] or [], strict=True)
        }
        for cid, meta in zip(ids, metadatas, strict=True):
            for key in old_groups.get(cid, set()) - meta.keys():
                meta[key] = None

    def delete(self, chunk_ids: Sequence[str]) -> None:
        if not chunk_ids:
            return
        unique = list(dict.fromkeys(chunk_ids))
        with self._errors("delete from"):
            for start in range(0, len(unique), self._max_batch):
                self._collection.delete(ids=unique[start : start + self._max_batch])
        logger.info("chroma_delete chunks=%d", len(unique))

    def query(self, embedding: Vectors, k: int, groups: Collection[str] | None = None) -> list[Hit]:
        """Nearest chunks the caller may read.

        With ``groups``, one cheap unfiltered search for the ``OVERFETCH * k`` nearest ids comes
        first; their records (the ACL groups, the text) are read nearest first, ``k`` and then
        the rest, until ``k`` allowed ones are found: when they are, they are exactly the best
        allowed ones (every allowed chunk nearer than the k-th is among the neighbours).
        Otherwise the ``where`` filter runs inside Chroma's index. At 10k chunks a filtered
        Chroma search costs 40-100 ms and an unfiltered one for 80 ids 2.6 ms, while reading a
        record costs about 0.08 ms; most callers share a group ("everyone") with most chunks,
        so the first ``k`` records are usually all it takes.
        """
        if k < 1 or (groups is not None and not groups):
            return []
        vector = np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        with self._errors("query", hint="an index built with another embedder must be rebuilt"):
            if groups is None:
                hits = self._search(vector, k, None)
            else:
                hits = self._allowed_nearest(vector, k, set(groups))
        hits.sort(key=lambda h: (-h.score, h.chunk.chunk_id))
        return hits

    def _allowed_nearest(self, vector: Vectors, k: int, allowed: set[str]) -> list[Hit]:
        wanted = OVERFETCH * k
        result = self._collection.query(
            query_embeddings=vector, n_results=wanted, include=["distances"]
        )
        ids = result["ids"][0]
        distances = (result["distances"] or [[]])[0]
        # fewer than asked for: every chunk there is, unless the graph came back short
        seen_all = len(ids) < wanted
        if seen_all and len(ids) < self._collection.count():
            nearest = self._search(vector, wanted, None)  # ``_search`` then searches exactly
            ids = [h.chunk.chunk_id for h in nearest]
            distances = [1.0 - h.score for h in nearest]
            seen_all = len(ids) < wanted
        hits: list[Hit] = []
        for start, stop in ((0, k), (k, wanted)):
            chunks = self._chunks(ids[start:stop])
            for cid, distance in zip(ids[start:stop], distances[start:stop], strict=True):
                chunk = chunks.get(cid)  # None: deleted since the search
                if chunk is not None and allowed.intersection(chunk.acl):
                    hits.append(Hit(chunk, 1.0 - float(distance)))
            if len(hits) >= k:
                break
        if len(hits) >= k or seen_all:
            hits.sort(key=lambda h: (-h.score, h.chunk.chunk_id))
            return hits[:k]
        return self._search(vector, k, acl_where(allowed))

    def _search(self, vector: Vectors, k: int, where: dict[str, Any] | None) -> list[Hit]:
        result = self._collection.query(
            query_embeddings=vector,
            n_results=k,
            where=where,
            include=["metadatas", "documents", "distances"],
        )
        ids = result["ids"][0]
        metadatas = (result["metadatas"] or [[]])[0]
        documents = (result["documents"] or [[]])[0]
        distances = (result["distances"] or [[]])[0]
        hits = [
            Hit(chunk_from_record(cid, doc, meta), 1.0 - float(dist))
            for cid, doc, meta, dist in zip(ids, documents, metadatas, distances, strict=True)
        ]
        hits.sort(key=lambda h: (-h.score, h.chunk.chunk_id))
        if len(hits) < k:
            hits = self._exact_if_short(vector[0], k, where, hits)
        return hits

    def _exact_if_short(
        self, vector: Vectors, k: int, where: dict[str, Any] | None, hits: list[Hit]
    ) -> list[Hit]:
        """Exact search over the allowed chunks when HNSW returned fewer than it could.

        Chroma's filtered HNSW search can miss allowed chunks entirely (seen with 1.5.9 when one
        chunk of several thousand near-duplicates is allowed), which for an ACL filter means a
        user cannot find the one document they may read. Fewer than ``k`` hits while more
        chunks are allowed is the signal; the allowed set is then small or the graph is broken.
        """
        if where is None:
            allowed = self._collection.count()
        else:
            allowed = len(self._collection.get(where=where, include=[])["ids"])
        if allowed <= len(hits):
            return hits
        logger.warning(
            "chroma_ann_short location=%s hits=%d allowed=%d k=%d action=exact_search",
            self._location,
            len(hits),
            allowed,
            k,
        )
        records = self._collection.get(
            where=where, include=["embeddings", "metadatas", "documents"]
        )
        matrix = np.asarray(records["embeddings"], dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1)
        norms[norms == 0] = 1.0
        qn = float(np.linalg.norm(vector)) or 1.0
        scores = (matrix @ vector) / (norms * qn)
        exact = [
            Hit(chunk_from_record(cid, doc, meta), float(score))
            for cid, doc, meta, score in zip(
                records["ids"],
                records["documents"] or [],
                records["metadatas"] or [],
                scores,
                strict=True,
            )
        ]
        exact.sort(key=lambda h: (-h.score, h.chunk.chunk_id))
        return exact[:k]

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        if not chunk_ids:
            return []
        found: dict[str, Chunk] = {}
        unique = list(dict.fromkeys(chunk_ids))
        with self._errors("read from"):
            for start in range(0, len(unique), self._max_batch):
                result = self._collection.get(
                    ids=unique[start : start + self._max_batch],
                    include=["metadatas", "documents"],
                )
                metadatas = result["metadatas"] or []
                documents = result["documents"] or []
                for cid, doc, meta in zip(result["ids"], documents, metadatas, strict=True):
                    found[cid] = chunk_from_record(cid, doc, meta)
        return [found[i] for i in chunk_ids if i in found]

    def purge_erased(self, chunk_ids: Sequence[str]) -> None:
        """Make deleted chunks' text leave the disk (erasure); embedded Chroma only.

        ``delete`` removes a chunk from Chroma's segments, but its text stays in Chroma's
        write-ahead log (``embeddings_queue``, replayed into the HNSW index on open) and in
        free pages of its full-text index. This blanks the payload of those log entries (their
        vectors stay, so a replay stays consistent), merges the full-text index and rewrites
        the file. It also zeroes the unused capacity of the vector index files (see
        ``scrub_hnsw_capacity``), after any erasure: that memory may have held a person's
        conversations as well. (The capacity is also zeroed when the embedded index is opened
        and closed: an index created or grown later writes the process's heap again.) A Chroma
        server manages its own files: nothing to do here.
        """
        if not self._embedded:
            return
        if chunk_ids:
            self._purge_log(chunk_ids)
        scrubbed = scrub_hnsw_capacity(Path(self._location))
        logger.info("chroma_purge chunks=%d hnsw_bytes_scrubbed=%d", len(chunk_ids), scrubbed)

    def _purge_log(self, chunk_ids: Sequence[str]) -> None:
        path = Path(self._location) / "chroma.sqlite3"
        try:
            conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {path} to purge erased chunks: {exc}") from exc
        try:
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "UPDATE embeddings_queue SET metadata = NULL "
                "WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(chunk_ids)),),
            )
            conn.execute(
                "INSERT INTO embedding_fulltext_search(embedding_fulltext_search) "
                "VALUES('optimize')"
            )
            conn.execute("COMMIT")
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(
                f"cannot purge erased chunks from {path}: {exc}",
                hint="the chunks are deleted from the index; run the erasure again to purge "
                "their text from the file",
            ) from exc
        finally:
            conn.close()

    def ids(self) -> set[str]:
        out: set[str] = set()
        with self._errors("read from"):
            total = self._collection.count()
            for offset in range(0, total, self._max_batch):
                page = self._collection.get(include=[], limit=self._max_batch, offset=offset)
                out.update(page["ids"])
        return out

    def count(self) -> int:
        with self._errors("read from"):
            return int(self._collection.count())

    def close(self) -> None:
        """Release the client (and, for an embedded index, its files; for a server, its
        connections)."""
        sessions = _http_sessions(self._client)
        try:
            self._client.close()  # type: ignore[attr-defined]  # chromadb >= 1.4 Client
        except AttributeError:
            return
        except Exception as exc:
            logger.warning("chroma_close_failed location=%s error=%s", self._location, exc)
        for session in sessions:
            session.close()
        if self._embedded:
            # an index this process created (or grew) holds its heap in the capacity
            _scrub_quietly(Path(self._location), "close")

    @contextmanager
    def _errors(self, action: str, *, hint: str | None = None) -> Iterator[None]:
        from chromadb.errors import ChromaError

        try:
            yield
        except (ChromaError, OSError) as exc:
            raise StoreError(
                f"cannot {action} the Chroma collection {self._name!r} at {self._location}: {exc}",
                hint=hint or _open_hint(self._location),
            ) from exc


# The start of hnswlib's persisted ``header.bin`` (chroma-core/hnswlib, ``persistHeader``):
# int32 version, then size_t offsetLevel0, max_elements, cur_element_count,
# size_data_per_element, native byte order.
_HNSW_HEADER: Final = struct.Struct("=iQQQQ")
_HNSW_VERSION: Final = 1
_SCRUB_BLOCK: Final = 1 << 20


def scrub_hnsw_capacity(location: Path) -> int:
    """Zero the unused capacity of every persisted HNSW index under ``location``; return the
    number of bytes zeroed.

    When Chroma creates a vector index it writes the index's whole capacity to
    ``data_level0.bin`` and ``length.bin`` straight from ``malloc``: memory that is never
    initialised, so the slots not yet holding a vector carry whatever the process had freed
    before, document text included. Only slots at or beyond the element count in
    ``header.bin`` are touched: an index (or an element count not yet written to the header)
    rewrites its own slots when it fills them. Vectors of deleted chunks stay in the graph
    (HNSW only marks them deleted); they are numbers, not text.
    """
    scrubbed = 0
    for header in sorted(location.glob("*/header.bin")):
        try:
            raw = header.read_bytes()[: _HNSW_HEADER.size]
        except OSError as exc:
            raise StoreError(f"cannot read {header}: {exc}") from exc
        if len(raw) < _HNSW_HEADER.size:
            continue
        version, _, _, count, per_element = _HNSW_HEADER.unpack(raw)
        if version != _HNSW_VERSION or per_element == 0:
            logger.warning("hnsw_scrub_skipped path=%s version=%d", header.parent, version)
            continue
        scrubbed += _zero_from(header.with_name("data_level0.bin"), count * per_element)
        scrubbed += _zero_from(header.with_name("length.bin"), count * 4)  # one float each
    return scrubbed


def _scrub_quietly(location: Path, when: str) -> None:
    """``scrub_hnsw_capacity`` on opening and closing an embedded index: a failure there is
    logged, not raised (erasures scrub, and fail, loudly)."""
    try:
        scrubbed = scrub_hnsw_capacity(location)
    except StoreError as exc:
        logger.warning("hnsw_scrub_failed when=%s error=%s", when, exc)
        return
    if scrubbed:
        logger.info("hnsw_scrubbed when=%s bytes=%d", when, scrubbed)


def _zero_from(path: Path, start: int) -> int:
    """Overwrite ``path`` from byte ``start`` to its end with zeros where it is not zero."""
    zeroed = 0
    try:
        with path.open("r+b") as f:
            f.seek(start)
            while block := f.read(_SCRUB_BLOCK):
                if block.count(0) != len(block):
                    f.seek(-len(block), 1)
                    f.write(bytes(len(block)))
                    zeroed += len(block)
            if zeroed:
                f.flush()
                os.fsync(f.fileno())
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise StoreError(
            f"cannot scrub {path} after an erasure: {exc}",
            hint="the data is deleted; run the erasure again to scrub the file",
        ) from exc
    return zeroed


def _http_sessions(client: Any) -> list[Any]:
    """The connection pools of an HTTP client and its admin client. chromadb (1.5.9) does not
    close them when the client closes; every HTTP client has its own System, so they are
    unused once it is closed."""
    sessions = []
    for owner in (client, getattr(client, "_admin_client", None)):
        session = getattr(getattr(owner, "_server", None), "_session", None)
        if session is not None and callable(getattr(session, "close", None)):
            sessions.append(session)
    return sessions


def _open_hint(location: str) -> str:
    if location.startswith(("http://", "https://")):
        return "check that the Chroma server is running and reachable"
    return "check that the directory is writable and not used by another process"


def _import_chromadb() -> tuple[Any, Any]:
    try:
        import chromadb
        from chromadb.config import Settings
    except ImportError as exc:
        raise StoreError(
            "the chromadb package is not installed",
            hint="install Lotse with its dependencies: pip install -e .",
        ) from exc
    return chromadb, Settings(anonymized_telemetry=False, allow_reset=False)
