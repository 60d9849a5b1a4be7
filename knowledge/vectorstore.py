"""The ``VectorStore`` protocol, the ``Hit`` result type and the in-memory implementation.

Contract:
- ``upsert(chunks, embeddings)`` stores each chunk with its row of ``embeddings`` (same order);
  an existing id is replaced. Every chunk must carry at least one ACL group.
- ``query(embedding, k, groups)`` returns at most ``k`` hits, best first, ``score`` = cosine
  similarity in [-1, 1]. With ``groups`` given, only chunks sharing at least one group are
  considered — the filter is applied inside the index, never after the top-k cut.
  ``groups=None`` means no filter (system use only). Ties are broken by chunk id.
- ``delete(ids)`` ignores unknown ids. ``get(ids)`` returns the known ones in the given order.
- ``ids()`` and ``count()`` reflect every completed write.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from knowledge.documents import Chunk
from models.embedder import Vectors


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float


@runtime_checkable
class VectorStore(Protocol):
    def upsert(self, chunks: Sequence[Chunk], embeddings: Vectors) -> None: ...

    def delete(self, chunk_ids: Sequence[str]) -> None: ...

    def query(
        self, embedding: Vectors, k: int, groups: Collection[str] | None = None
    ) -> list[Hit]: ...

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]: ...

    def ids(self) -> set[str]: ...

    def count(self) -> int: ...

    def close(self) -> None: ...


def check_acl(chunks: Sequence[Chunk]) -> None:
    """A chunk without ACL metadata is never indexed."""
    for chunk in chunks:
        if not chunk.acl or not all(chunk.acl):
            raise ValueError(f"chunk {chunk.chunk_id} of {chunk.source_id} has no ACL groups")


class InMemoryVectorStore:
    """Exact cosine search over a dict; the reference implementation for the contract tests.

    Thread-safe (one lock), so a reindex may write while questions are answered."""

    def __init__(self) -> None:
        self._chunks: dict[str, Chunk] = {}
        self._vectors: dict[str, Vectors] = {}
        self._lock = threading.Lock()

    def upsert(self, chunks: Sequence[Chunk], embeddings: Vectors) -> None:
        if len(chunks) != len(embeddings):
            raise ValueError(f"{len(chunks)} chunks but {len(embeddings)} embeddings")
        check_acl(chunks)
        with self._lock:
            for chunk, vector in zip(chunks, embeddings, strict=True):
                self._chunks[chunk.chunk_id] = chunk
                self._vectors[chunk.chunk_id] = np.asarray(vector, dtype=np.float32)

    def delete(self, chunk_ids: Sequence[str]) -> None:
        with self._lock:
            for chunk_id in chunk_ids:
                self._chunks.pop(chunk_id, None)
                self._vectors.pop(chunk_id, None)

    def query(self, embedding: Vectors, k: int, groups: Collection[str] | None = None) -> list[Hit]:
        allowed = None if groups is None else set(groups)
        q = np.asarray(embedding, dtype=np.float32)
        qn = float(np.linalg.norm(q)) or 1.0
        hits = []
        with self._lock:
            rows = [(chunk, self._vectors[cid]) for cid, chunk in self._chunks.items()]
        for chunk, v in rows:
            if allowed is not None and not allowed.intersection(chunk.acl):
                continue
            vn = float(np.linalg.norm(v)) or 1.0
            hits.append(Hit(chunk, float(np.dot(q, v) / (qn * vn))))
        hits.sort(key=lambda h: (-h.score, h.chunk.chunk_id))
        return hits[:k]

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        with self._lock:
            return [self._chunks[i] for i in chunk_ids if i in self._chunks]

    def ids(self) -> set[str]:
        with self._lock:
            return set(self._chunks)

    def count(self) -> int:
        return len(self._chunks)

    def close(self) -> None:
        return None
