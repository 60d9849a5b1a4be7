"""Incremental indexing: files (or ready-made documents) -> chunks -> both indexes + manifest.

Unchanged documents (same content hash and ACL) cost one hash and nothing else; changed ones are
replaced; documents that vanished from a source are deleted from both indexes; tombstoned
(erased) ones are never brought back. Every document is written under the manifest's
pending/complete protocol, so a killed ingest is repaired by the next one (``repair``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, cast

from knowledge.chunking import ChunkingConfig, chunk_document
from knowledge.documents import Chunk, Document, sha256_bytes
from knowledge.lexical import LatentStore, LexicalIndex
from knowledge.loaders import SUPPORTED_SUFFIXES, LoadLimits
from knowledge.manifest import Manifest, ManifestEntry
from knowledge.vectorstore import VectorStore
from models.embedder import Embedder
from models.errors import ConfigurationError, InvalidInput, UnsupportedDocument
from models.latent import LatentEmbedder, latent_of

logger = logging.getLogger(__name__)

ACL_SIDECAR = ".lotse-acl"
_EMBEDDER_KEY = "embedder"


class DocumentLoader(Protocol):
    def load(
        self, path: Path, *, source_id: str, source: str, acl: tuple[str, ...], limits: LoadLimits
    ) -> Document: ...

    def close(self) -> None: ...


class InProcessLoader:
    """Loads in the calling process: no time limit, for tests and trusted small inputs.
    Production ingestion uses ``knowledge.loaders.SafeLoader`` (a worker process)."""

    def load(
        self, path: Path, *, source_id: str, source: str, acl: tuple[str, ...], limits: LoadLimits
    ) -> Document:
        from knowledge.loaders import load_file

        return load_file(path, source_id=source_id, source=source, acl=acl, limits=limits)

    def close(self) -> None:
        return None


class Cancelled(Exception):
    """Raised inside ``ingest`` when its cancel event is set; the work done so far is kept."""


@dataclass(frozen=True)
class IngestProgress:
    phase: str  # "scan", "index", "delete", "done"
    done: int
    total: int
    current: str = ""
    chunks_written: int = 0


@dataclass
class IngestSummary:
    source: str
    files_seen: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    chunks_written: int = 0
    chunks_deleted: int = 0
    repaired: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "files_seen": self.files_seen,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "skipped": [{"source_id": s, "reason": r} for s, r in self.skipped],
            "chunks_written": self.chunks_written,
            "chunks_deleted": self.chunks_deleted,
            "repaired": self.repaired,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Candidate:
    """One document to consider: its id, content hash, ACL, and how to load it if needed."""

    source_id: str
    content_hash: str
    acl: tuple[str, ...]
    load: Callable[[], Document]


ProgressFn = Callable[[IngestProgress], None]


def _constant(document: Document) -> Callable[[], Document]:
    return lambda: document


def read_acl_sidecar(folder: Path, root: Path, default: tuple[str, ...]) -> tuple[str, ...]:
    """The nearest ``.lotse-acl`` at or above ``folder`` (within ``root``) wins."""
    current = folder
    while True:
        sidecar = current / ACL_SIDECAR
        if sidecar.is_file():
            groups = [
                line.strip()
                for line in sidecar.read_text(encoding="utf-8", errors="replace").splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            ]
            if groups:
                return tuple(sorted(set(groups)))
        if current == root or current.parent == current:
            return default
        current = current.parent


class Indexer:
    def __init__(
        self,
        *,
        embedder: Embedder,
        vectors: VectorStore,
        lexical: LexicalIndex,
        manifest: Manifest,
        loader: DocumentLoader,
        chunking: ChunkingConfig | None = None,
        limits: LoadLimits | None = None,
        default_acl: tuple[str, ...] = ("everyone",),
        embed_batch: int = 32,
        latent_terms: bool = True,
    ) -> None:
        """``latent_terms``: also store each chunk's latent terms, when the embedder gives them
        and the keyword index keeps them (``models.latent``; they cost a second pass of the
        model over every chunk)."""
        self.embedder = embedder
        self._latent = (
            latent_of(embedder) if latent_terms and isinstance(lexical, LatentStore) else None
        )
        self.vectors = vectors
        self.lexical = lexical
        self.manifest = manifest
        self.loader = loader
        self.chunking = chunking or ChunkingConfig()
        self.limits = limits or LoadLimits()
        self.default_acl = default_acl
        self.embed_batch = embed_batch
        self._write_lock = threading.Lock()

    # -- consistency ----------------------------------------------------------------------------
    def check_embedder(self) -> None:
        """Refuse to mix vectors of two embedders in one index."""
        built_with = self.manifest.meta(_EMBEDDER_KEY)
        if built_with is None:
            if self.vectors.count() == 0:
                self.manifest.set_meta(_EMBEDDER_KEY, self.embedder.name)
            return
        if built_with != self.embedder.name:
            raise ConfigurationError(
                f"the index was built with the embedder {built_with!r}, "
                f"but {self.embedder.name!r} is configured",
                hint="switch LOTSE_MODELS__EMBEDDER back, or start with an empty data directory "
                "and ingest again",
            )

    def repair(self) -> int:
        """Remove the chunks of documents whose write was interrupted; returns how many."""
        pending = self.manifest.pending()
        for entry in pending:
            ids = sorted(set(entry.chunk_ids) | set(entry.replaced_chunk_ids))
            self.vectors.delete(ids)
            self.lexical.delete(ids)
            self.manifest.remove(entry.source, entry.source_id)
            logger.warning(
                "repaired interrupted write source=%s source_id=%s chunks=%d",
                entry.source,
                entry.source_id,
                len(ids),
            )
        return len(pending)

    # -- entry points ---------------------------------------------------------------------------
    def ingest(
        self,
        path: Path,
        *,
        source: str | None = None,
        acl: Sequence[str] | None = None,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> IngestSummary:
        """Index a folder (recursively) or a single file; source ids are relative to it."""
        path = path.expanduser()
        if not path.exists():
            raise InvalidInput(f"{path} does not exist", field="path")
        path = path.resolve()
        single = path.is_file()
        root = path.parent if single else path
        name = source or root.name or "default"
        base_acl = tuple(sorted(set(acl))) if acl else self.default_acl
        summary = IngestSummary(source=name)
        files = [path] if single else sorted(self._walk(root))
        candidates: list[Candidate] = []
        for file in files:
            source_id = file.relative_to(root).as_posix()
            summary.files_seen += 1
            reason = self._precheck(file)
            if reason:
                summary.skipped.append((source_id, reason))
                self.manifest.record_skip(name, source_id, reason)
                continue
            candidates.append(self._file_candidate(file, root, source_id, name, base_acl))
        return self._sync(
            name,
            candidates,
            summary,
            progress=progress,
            cancel=cancel,
            delete_missing=not single,
        )

    def sync_documents(
        self,
        source: str,
        documents: Iterable[Document],
        *,
        delete_missing: bool = True,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> IngestSummary:
        """Index ready-made documents (tickets, for example) incrementally, like ``ingest``."""
        summary = IngestSummary(source=source)
        candidates = []
        for doc in documents:
            summary.files_seen += 1
            candidates.append(Candidate(doc.source_id, doc.content_hash, doc.acl, _constant(doc)))
        return self._sync(
            source,
            candidates,
            summary,
            progress=progress,
            cancel=cancel,
            delete_missing=delete_missing,
        )

    def remove_document(self, source: str, source_id: str) -> int:
        """Delete one document's chunks from both indexes and the manifest; returns chunk count."""
        with self._write_lock:
            entry = self.manifest.get(source, source_id)
            if entry is None:
                return 0
            ids = sorted(set(entry.chunk_ids) | set(entry.replaced_chunk_ids))
            self.vectors.delete(ids)
            self.lexical.delete(ids)
            self.manifest.remove(source, source_id)
            return len(ids)

    # -- internals ------------------------------------------------------------------------------
    def _walk(self, root: Path) -> Iterable[Path]:
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in filenames:
                if filename.startswith("."):
                    continue
                yield Path(dirpath) / filename

    def _precheck(self, file: Path) -> str | None:
        if file.is_symlink():
            return "symbolic link (not followed)"
        if file.name.startswith("~$"):
            return "Office lock file"
        suffix = file.suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            return f"unsupported format {suffix or '(no extension)'}"
        size = file.stat().st_size
        if size > self.limits.max_bytes:
            return f"file is {size / 1e6:.1f} MB, the limit is {self.limits.max_bytes / 1e6:g} MB"
        if size == 0:
            return "empty file"
        return None

    def _file_candidate(
        self, file: Path, root: Path, source_id: str, source: str, base_acl: tuple[str, ...]
    ) -> Candidate:
        content_hash = sha256_bytes(file.read_bytes())
        acl = read_acl_sidecar(file.parent, root, base_acl)

        def load() -> Document:
            return self.loader.load(
                file, source_id=source_id, source=source, acl=acl, limits=self.limits
            )

        return Candidate(source_id, content_hash, acl, load)

    def _sync(
        self,
        source: str,
        candidates: list[Candidate],
        summary: IngestSummary,
        *,
        progress: ProgressFn | None,
        cancel: threading.Event | None,
        delete_missing: bool,
    ) -> IngestSummary:
        started = time.perf_counter()
        with self._write_lock:
            self.check_embedder()
            summary.repaired = self.repair()
            total = len(candidates)
            report = progress or (lambda _p: None)
            report(IngestProgress("scan", 0, total))
            seen: set[str] = set()
            for done, cand in enumerate(candidates):
                report(IngestProgress("index", done, total, cand.source_id, summary.chunks_written))
                if cancel is not None and cancel.is_set():
                    raise Cancelled(f"ingest of {source} cancelled after {done} of {total}")
                seen.add(cand.source_id)
                self._sync_one(source, cand, summary)
            if delete_missing:
                for entry in self.manifest.entries(source):
                    if entry.source_id not in seen:
                        ids = sorted(set(entry.chunk_ids) | set(entry.replaced_chunk_ids))
                        self.vectors.delete(ids)
                        self.lexical.delete(ids)
                        self.manifest.remove(source, entry.source_id)
                        summary.deleted += 1
                        summary.chunks_deleted += len(ids)
            summary.seconds = time.perf_counter() - started
            report(IngestProgress("done", total, total, "", summary.chunks_written))
        logger.info(
            "ingest source=%s seen=%d new=%d changed=%d unchanged=%d deleted=%d skipped=%d "
            "chunks_written=%d seconds=%.2f",
            source,
            summary.files_seen,
            summary.new,
            summary.changed,
            summary.unchanged,
            summary.deleted,
            len(summary.skipped),
            summary.chunks_written,
            summary.seconds,
        )
        return summary

    @property
    def latent(self) -> LatentEmbedder | None:
        """What computes the chunks' latent terms at ingestion, or ``None`` when it does not."""
        return self._latent

    def _lacks_latent(self, entry: ManifestEntry) -> bool:
        """An unchanged document indexed before latent terms were computed is written again
        (counted as changed), so one ingest brings an older index up to date."""
        if self._latent is None or not entry.chunk_ids:
            return False
        stored = cast(LatentStore, self.lexical).latent(list(entry.chunk_ids))
        return len(stored) < len(entry.chunk_ids)

    def _sync_one(self, source: str, cand: Candidate, summary: IngestSummary) -> None:
        existing = self.manifest.get(source, cand.source_id)
        if self.manifest.is_tombstoned(source, cand.source_id, cand.content_hash):
            summary.skipped.append((cand.source_id, "erased earlier (tombstoned)"))
            return
        if (
            existing is not None
            and existing.state == "complete"
            and existing.content_hash == cand.content_hash
            and existing.acl == cand.acl
            and not self._lacks_latent(existing)
        ):
            summary.unchanged += 1
            return
        try:
            document = cand.load()
        except UnsupportedDocument as exc:
            summary.skipped.append((cand.source_id, exc.reason))
            self.manifest.record_skip(source, cand.source_id, exc.reason)
            logger.info(
                "skipped source=%s source_id=%s reason=%s", source, cand.source_id, exc.reason
            )
            return
        chunks = chunk_document(document, self.chunking)
        if not chunks:
            summary.skipped.append((cand.source_id, "no text"))
            self.manifest.record_skip(source, cand.source_id, "no text")
            return
        self._write(document, chunks, existing)
        summary.chunks_written += len(chunks)
        if existing is None:
            summary.new += 1
        else:
            summary.changed += 1

    def _write(
        self, document: Document, chunks: list[Chunk], existing: ManifestEntry | None
    ) -> None:
        new_ids = tuple(c.chunk_id for c in chunks)
        old_ids = tuple(i for i in (existing.chunk_ids if existing else ()) if i not in new_ids)
        self.manifest.begin(
            ManifestEntry(
                source=document.source,
                source_id=document.source_id,
                content_hash=document.content_hash,
                title=document.title,
                format=document.format,
                language=document.language,
                acl=document.acl,
                modified=document.modified,
                indexed_at=time.time(),
                chunk_ids=new_ids,
                replaced_chunk_ids=old_ids,
                state="pending",
                warnings=document.warnings,
            )
        )
        if old_ids:
            self.vectors.delete(old_ids)
            self.lexical.delete(old_ids)
        for start in range(0, len(chunks), self.embed_batch):
            batch = chunks[start : start + self.embed_batch]
            texts = [c.embedding_text for c in batch]
            vectors = self.embedder.embed_passages(texts)
            latent = self._latent.latent_passages(texts) if self._latent is not None else None
            self.vectors.upsert(batch, vectors)
            self.lexical.upsert(batch, latent=latent)
        self.manifest.commit(document.source, document.source_id)
