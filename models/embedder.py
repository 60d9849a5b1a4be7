"""The ``Embedder`` protocol and the deterministic fake.

Contract:
- ``embed_passages(texts)`` returns a float32 array of shape ``(len(texts), dim)``, each row
  L2-normalised; ``embed_query(text)`` returns shape ``(dim,)``, L2-normalised.
- Same input, same output (deterministic within one process and across processes).
- An empty list gives an array of shape ``(0, dim)``. Texts may be any length; real
  implementations truncate or window internally.
- ``name`` identifies the model so an index built with one embedder is never queried with another.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int

    def embed_passages(self, texts: Sequence[str]) -> Vectors: ...

    def embed_query(self, text: str) -> Vectors: ...


def normalize_rows(matrix: Vectors) -> Vectors:
    """L2-normalise each row; all-zero rows stay zero."""
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    norms[norms == 0] = 1.0
    result: Vectors = (matrix / norms).astype(np.float32)
    return result


_WORD = re.compile(r"\w+", re.UNICODE)


class FakeEmbedder:
    """Hashing bag-of-words embedder: deterministic, fast, no weights.

    Texts sharing words get similar vectors, which is enough for retrieval tests.
    """

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.name = f"fake-hashing-{dim}"

    def _vector(self, text: str) -> Vectors:
        vec = np.zeros(self.dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            h = zlib.crc32(word.encode("utf-8"))
            vec[h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
        return vec

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalize_rows(np.stack([self._vector(t) for t in texts]))

    def embed_query(self, text: str) -> Vectors:
        row: Vectors = normalize_rows(self._vector(text)[None, :])[0]
        return row
