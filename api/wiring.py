"""The one place that picks implementations from settings and assembles the services."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from api.jobs import JobRunner
from api.lock import DataDirLock
from api.settings import Settings
from assistant.abstention import AbstentionRule, GroundingCheck
from assistant.answering import AnswerConfig, Assistant
from assistant.audit import AuditLog, InMemoryAuditLog, RetentionPolicy, SqliteAuditLog
from assistant.conversations import (
    ConversationStore,
    InMemoryConversationStore,
    SqliteConversationStore,
)
from assistant.erasure import Eraser, SqliteDiskPurge
from assistant.generation import GenerationGate
from assistant.retrieval import HybridRetriever, RetrievalConfig
from knowledge.chunking import ChunkingConfig
from knowledge.indexer import DocumentLoader, Indexer
from knowledge.lexical import LexicalIndex
from knowledge.loaders import LoadLimits, SafeLoader
from knowledge.manifest import Manifest
from knowledge.vectorstore import VectorStore
from models.embedder import Embedder, FakeEmbedder
from models.llm import LLM, FakeLLM

logger = logging.getLogger(__name__)


def build_embedder(settings: Settings) -> Embedder:
    choice = settings.models.embedder
    if choice == "fake":
        return FakeEmbedder()
    if choice == "sentence-transformers":
        from models.sentence_transformers import SentenceTransformersEmbedder

        return SentenceTransformersEmbedder(settings.models.st_model)
    from models.e5 import E5Embedder

    return E5Embedder(num_threads=settings.models.embed_threads)


def llm_file(settings: Settings) -> Path:
    """The GGUF file the in-process backend will load (verified to exist)."""
    from models.provision import resolve_model_file

    target: str | Path = settings.models.llm_path or settings.models.llm
    return resolve_model_file(target, settings.models.cache_dir)


def build_llm(settings: Settings) -> LLM:
    m = settings.models
    if m.llm_backend == "fake":
        return FakeLLM(context_size=m.n_ctx)
    if m.llm_backend == "openai":
        from models.openai_compat import OpenAICompatibleLLM

        assert m.openai_base_url is not None  # validated by ModelSettings
        return OpenAICompatibleLLM(
            m.openai_base_url,
            m.openai_model,
            api_key=m.openai_api_key,
            timeout_s=m.openai_timeout_s,
            context_size=m.n_ctx,
        )
    from models.llamacpp import LlamaCppLLM

    path = llm_file(settings)
    model_id = m.llm_path.stem if m.llm_path else m.llm
    return LlamaCppLLM(
        path,
        model_id=model_id,
        n_ctx=m.n_ctx,
        n_threads=m.n_threads,
        n_batch=m.n_batch,
        chat_format=m.chat_format,
    )


def build_vectors(settings: Settings) -> VectorStore:
    if settings.knowledge.store == "memory":
        from knowledge.vectorstore import InMemoryVectorStore

        return InMemoryVectorStore()
    from knowledge.chroma import ChromaVectorStore

    if settings.knowledge.chroma_url:
        return ChromaVectorStore.http(settings.knowledge.chroma_url)
    return ChromaVectorStore.persistent(settings.data_dir / "chroma")


def build_lexical(settings: Settings) -> LexicalIndex:
    if settings.knowledge.store == "memory":
        from knowledge.lexical import InMemoryLexicalIndex

        return InMemoryLexicalIndex()
    from knowledge.lexical import SqliteLexicalIndex

    return SqliteLexicalIndex(settings.data_dir / "lexical.sqlite3")


def retrieval_config(settings: Settings) -> RetrievalConfig:
    r = settings.retrieval
    return RetrievalConfig(dense_k=r.dense_k, lexical_k=r.lexical_k, rrf_k=r.rrf_k)


@dataclass
class Knowledge:
    """The stores and the indexer: everything ingestion and search need (no LLM)."""

    settings: Settings
    embedder: Embedder
    vectors: VectorStore
    lexical: LexicalIndex
    manifest: Manifest
    loader: DocumentLoader
    indexer: Indexer
    retriever: HybridRetriever
    lock: DataDirLock | None = None
    _closed: bool = field(default=False, repr=False)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.loader.close()
        self.vectors.close()
        self.lexical.close()
        self.manifest.close()
        if self.lock is not None:
            self.lock.release()


def open_knowledge(
    settings: Settings, *, purpose: str, embedder: Embedder | None = None, lock: bool = True
) -> Knowledge:
    """Open the stores under the data directory, taking its lock first."""
    data_lock = DataDirLock(settings.data_dir, purpose).acquire() if lock else None
    try:
        embedder = embedder or build_embedder(settings)
        vectors = build_vectors(settings)
        lexical = build_lexical(settings)
        manifest = Manifest(settings.data_dir / "manifest.sqlite3")
        k = settings.knowledge
        limits = LoadLimits(max_bytes=int(k.max_file_mb * 1_000_000), timeout_s=k.file_timeout_s)
        loader = SafeLoader()
        indexer = Indexer(
            embedder=embedder,
            vectors=vectors,
            lexical=lexical,
            manifest=manifest,
            loader=loader,
            chunking=ChunkingConfig(target_tokens=k.chunk_tokens, overlap_tokens=k.chunk_overlap),
            limits=limits,
            default_acl=k.default_acl,
            embed_batch=k.embed_batch,
        )
        retriever = HybridRetriever(embedder, vectors, lexical, retrieval_config(settings))
    except BaseException:
        if data_lock is not None:
            data_lock.release()
        raise
    return Knowledge(
        settings=settings,
        embedder=embedder,
        vectors=vectors,
        lexical=lexical,
        manifest=manifest,
        loader=loader,
        indexer=indexer,
        retriever=retriever,
        lock=data_lock,
    )


def build_gate(settings: Settings) -> GenerationGate:
    return GenerationGate(
        max_queue=settings.api.max_queue, queue_timeout_s=settings.api.queue_timeout_s
    )


def build_assistant(
    settings: Settings, knowledge: Knowledge, llm: LLM, gate: GenerationGate | None = None
) -> Assistant:
    m, r = settings.models, settings.retrieval
    return Assistant(
        retriever=knowledge.retriever,
        llm=llm,
        gate=gate or build_gate(settings),
        abstention=AbstentionRule(min_score=r.min_evidence, lexical_weight=r.lexical_weight),
        grounding=GroundingCheck(min_support=r.min_answer_support),
        config=AnswerConfig(
            context_k=r.context_k,
            max_tokens=m.max_tokens,
            temperature=m.temperature,
            generation_timeout_s=settings.api.generation_timeout_s,
        ),
    )


def build_conversations(settings: Settings) -> ConversationStore:
    if settings.knowledge.store == "memory":
        return InMemoryConversationStore()
    return SqliteConversationStore(settings.data_dir / "conversations.sqlite3")


def audit_policy(settings: Settings) -> RetentionPolicy:
    a = settings.audit
    return RetentionPolicy(
        text_days=a.text_retention_days, metadata_days=a.retention_days, store_texts=a.store_texts
    )


def build_audit(settings: Settings) -> AuditLog:
    """The durable log under the data directory; in memory when the stores are."""
    if settings.knowledge.store == "memory":
        import secrets

        return InMemoryAuditLog(audit_policy(settings), key=secrets.token_bytes(32))
    return SqliteAuditLog(settings.data_dir, audit_policy(settings))


class KeyStoreRevoker:
    """Erasure's hook to the API-key store: revokes every active key of one user."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def revoke_user(self, user_id: str) -> int:
        from api.keys import KeyStore

        store = KeyStore(self.data_dir)
        active = [k for k in store.list_keys() if k.user_id == user_id and k.revoked is None]
        for key in active:
            store.revoke(key.key_id)
        return len(active)


def build_eraser(
    settings: Settings, knowledge: Knowledge, conversations: ConversationStore, audit: AuditLog
) -> Eraser:
    """Erasure over the given stores; on disk, deleted rows are also purged from the files."""
    if settings.knowledge.store == "memory":
        return Eraser(
            indexer=knowledge.indexer,
            manifest=knowledge.manifest,
            conversations=conversations,
            audit=audit,
        )
    return Eraser(
        indexer=knowledge.indexer,
        manifest=knowledge.manifest,
        conversations=conversations,
        audit=audit,
        keys=KeyStoreRevoker(settings.data_dir),
        disk=SqliteDiskPurge(settings.data_dir, knowledge.vectors),
    )


def model_sha256(settings: Settings) -> str | None:
    """SHA-256 of the model file that answers, for the audit log (``None``: not a local file).

    A registered model's hash is the registry's, which provisioning verified at install and
    ``llm_file`` checks at start; any other GGUF is hashed once (cached by size and mtime).
    """
    m = settings.models
    if m.llm_backend != "llamacpp":
        return None
    from models.provision import file_sha256
    from models.registry import LLM_MODELS

    if m.llm_path is None and m.llm in LLM_MODELS:
        return LLM_MODELS[m.llm].sha256
    return file_sha256(llm_file(settings))


@dataclass
class Services:
    """Everything the HTTP service needs; ``create_app`` accepts a ready-made one (tests)."""

    settings: Settings
    knowledge: Knowledge
    llm: LLM
    assistant: Assistant
    conversations: ConversationStore = field(default_factory=InMemoryConversationStore)
    audit: AuditLog = field(default_factory=InMemoryAuditLog)
    model_sha256: str | None = None  # of the model file, recorded with every answer
    jobs: JobRunner = field(init=False)  # background reindex jobs over ``knowledge``

    def __post_init__(self) -> None:
        self.jobs = JobRunner(
            self.knowledge.indexer, self.knowledge.manifest, keep=self.settings.api.jobs_kept
        )

    def close(self) -> None:
        self.jobs.close()
        self.conversations.close()
        self.audit.close()
        self.knowledge.close()


def build_services(settings: Settings, *, llm: LLM | None = None) -> Services:
    knowledge = open_knowledge(settings, purpose="lotse serve")
    try:
        llm = llm or build_llm(settings)
        assistant = build_assistant(settings, knowledge, llm)
        conversations = build_conversations(settings)
        audit = build_audit(settings)
        audit.prune()  # retention at every start (and `lotse audit prune` on a schedule)
        fingerprint = model_sha256(settings)
    except BaseException:
        knowledge.close()
        raise
    return Services(
        settings=settings,
        knowledge=knowledge,
        llm=llm,
        assistant=assistant,
        conversations=conversations,
        audit=audit,
        model_sha256=fingerprint,
    )
