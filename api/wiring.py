"""The one place that picks implementations from settings and assembles the services."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from api.jobs import JobRunner
from api.lock import DataDirLock
from api.settings import Settings
from assistant.abstention import AbstentionRule, GroundingCheck
from assistant.answering import AnswerConfig, Assistant
from assistant.audit import (
    AuditLog,
    InMemoryAuditLog,
    RetentionPolicy,
    SqliteAuditLog,
    record_settings,
)
from assistant.conversations import (
    ConversationStore,
    InMemoryConversationStore,
    SqliteConversationStore,
)
from assistant.delivery import (
    CustomerRule,
    Deliverer,
    DeliveryTarget,
    RetryPolicy,
    SmtpTarget,
    WebhookTarget,
    ZammadTarget,
    ZnunyTarget,
)
from assistant.erasure import Eraser, EscalationForgetter, SqliteDiskPurge, TicketForgetter
from assistant.escalation import (
    Escalation,
    EscalationAction,
    EscalationFileEraser,
    EscalationStore,
    InMemoryEscalationStore,
    SqliteEscalationStore,
    TriageHint,
    audit_event,
)
from assistant.generation import GenerationGate
from assistant.retrieval import HybridRetriever, RetrievalConfig
from assistant.ticket_assist import AssistConfig, TicketAssistant
from assistant.ticket_store import TICKETS_FILE, TicketStore
from assistant.translation import ModelTranslator, Translator
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

    models = settings.models
    return E5Embedder(num_threads=models.embed_threads, engines=models.embed_engines)


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
        nice=m.generation_nice,
    )


def build_vectors(settings: Settings, records: LexicalIndex | None = None) -> VectorStore:
    """``records``: the keyword index, where Chroma reads the chunks its searches find."""
    if settings.knowledge.store == "memory":
        from knowledge.vectorstore import InMemoryVectorStore

        return InMemoryVectorStore()
    from knowledge.chroma import ChromaVectorStore

    if settings.knowledge.chroma_url:
        store = ChromaVectorStore.http(settings.knowledge.chroma_url)
    else:
        store = ChromaVectorStore.persistent(settings.data_dir / "chroma")
    if records is not None:
        store.read_records_from(records)
    return store


def build_lexical(settings: Settings) -> LexicalIndex:
    if settings.knowledge.store == "memory":
        from knowledge.lexical import InMemoryLexicalIndex

        return InMemoryLexicalIndex()
    from knowledge.lexical import SqliteLexicalIndex

    return SqliteLexicalIndex(settings.data_dir / "lexical.sqlite3")


def retrieval_config(settings: Settings) -> RetrievalConfig:
    r = settings.retrieval
    return RetrievalConfig(
        dense_k=r.dense_k,
        lexical_k=r.lexical_k,
        rrf_k=r.rrf_k,
        lexical_weight=r.fusion_lexical_weight,
        latent_weight=r.latent_weight,
        translation_weight=r.translation_weight,
        latent_candidates=r.latent_candidates,
        keyword_score_weight=r.latent_keyword_weight,
        fusion=r.fusion,
    )


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
    settings: Settings,
    *,
    purpose: str,
    embedder: Embedder | None = None,
    lock: bool = True,
    latent_terms: bool | None = None,
) -> Knowledge:
    """Open the stores under the data directory, taking its lock first. ``latent_terms``:
    whether ingestion computes them (default: when retrieval rescores with them)."""
    data_lock = DataDirLock(settings.data_dir, purpose).acquire() if lock else None
    try:
        embedder = embedder or build_embedder(settings)
        lexical = build_lexical(settings)
        vectors = build_vectors(settings, records=lexical)
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
            latent_terms=settings.retrieval.latent_weight > 0
            if latent_terms is None
            else latent_terms,
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
    settings: Settings,
    knowledge: Knowledge,
    llm: LLM,
    gate: GenerationGate | None = None,
    *,
    system_suffix: str = "",
    translator: Translator | None = None,
) -> Assistant:
    """``system_suffix``: an extra system-prompt line (``lotse eval injection``'s canary).
    ``translator``: instead of the model's own (``retrieval.translate_question``), e.g. a
    replay's recorded translations."""
    m, r = settings.models, settings.retrieval
    if not r.translate_question:
        translator = None
    elif translator is None:
        translator = ModelTranslator(llm)
    return Assistant(
        translator=translator,
        retriever=knowledge.retriever,
        llm=llm,
        gate=gate or build_gate(settings),
        abstention=AbstentionRule(
            min_score=r.min_evidence,
            lexical_weight=r.lexical_weight,
            names=r.abstain_unknown_names,
        ),
        grounding=GroundingCheck(
            min_support=r.min_answer_support,
            subject_support=r.subject_support,
            min_claim_support=r.min_claim_support,
            other_language_numbers=r.other_language_numbers,
        ),
        config=AnswerConfig(
            context_k=r.context_k,
            max_tokens=m.max_tokens,
            temperature=m.temperature,
            generation_timeout_s=settings.api.generation_timeout_s,
            system_suffix=system_suffix,
            language_gate=r.withdraw_wrong_language,
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


class KeyStoreEraser:
    """Erasure's hook to the API-key store: deletes every key of one user, revoked ones too,
    and rewrites the file so that their user id leaves the disk (``KeyStore.delete_user``)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def delete_user(self, user_id: str) -> int:
        from api.keys import KeyStore

        return KeyStore(self.data_dir).delete_user(user_id)


def build_eraser(
    settings: Settings,
    knowledge: Knowledge,
    conversations: ConversationStore,
    audit: AuditLog,
    *,
    escalations: EscalationForgetter | None = None,
    tickets: TicketForgetter | None = None,
) -> Eraser:
    """Erasure over the given stores; on disk, deleted rows are also purged from the files.
    Escalations: the given store, else (on disk) the escalation file itself."""
    if escalations is None and settings.knowledge.store != "memory":
        escalations = EscalationFileEraser(settings.data_dir)
    if tickets is None and settings.knowledge.store != "memory":
        tickets = TicketFileEraser(settings.data_dir)
    keys = KeyStoreEraser(settings.data_dir)  # the key store is a file in every store mode
    if settings.knowledge.store == "memory":
        return Eraser(
            indexer=knowledge.indexer,
            manifest=knowledge.manifest,
            conversations=conversations,
            audit=audit,
            keys=keys,
            escalations=escalations,
            tickets=tickets,
        )
    return Eraser(
        indexer=knowledge.indexer,
        manifest=knowledge.manifest,
        conversations=conversations,
        audit=audit,
        keys=keys,
        disk=SqliteDiskPurge(settings.data_dir, knowledge.vectors),
        escalations=escalations,
        tickets=tickets,
    )


def build_tickets(settings: Settings) -> TicketStore:
    if settings.knowledge.store == "memory":
        return TicketStore.memory()
    return TicketStore(settings.data_dir / TICKETS_FILE)


class TicketFileEraser:
    """Erasure's hook to the agents' ticket store on disk (opened per call, like
    ``EscalationFileEraser``)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def forget_user(self, user_id: str) -> int:
        store = TicketStore(self.data_dir / TICKETS_FILE)
        try:
            return store.forget_user(user_id)
        finally:
            store.close()

    def forget_matching(self, needle: str, *, dry_run: bool = False) -> int:
        """Tickets, suggestions and knowledge candidates containing ``needle``."""
        store = TicketStore(self.data_dir / TICKETS_FILE)
        try:
            return store.forget_matching(needle, dry_run=dry_run)
        finally:
            store.close()

    def forget_candidates(
        self, source: str, source_id: str | None = None, *, dry_run: bool = False
    ) -> int:
        """The knowledge candidates of an erased source (or document)."""
        store = TicketStore(self.data_dir / TICKETS_FILE)
        try:
            return store.forget_candidates(source, source_id, dry_run=dry_run)
        finally:
            store.close()


def build_ticket_assistant(
    settings: Settings,
    knowledge: Knowledge,
    llm: LLM,
    tickets: TicketStore,
    gate: GenerationGate | None = None,
) -> TicketAssistant:
    m, r = settings.models, settings.retrieval
    return TicketAssistant(
        retriever=knowledge.retriever,
        store=tickets,
        llm=llm,
        gate=gate,
        abstention=AbstentionRule(min_score=r.min_evidence, lexical_weight=r.lexical_weight),
        # a draft opens with a greeting and closes with regards, which no passage holds: the
        # claim rule is measured for chat answers only, so drafts keep the overall support
        grounding=GroundingCheck(
            min_support=r.min_answer_support,
            subject_support=r.subject_support,
            min_claim_support=0.0,
        ),
        config=AssistConfig(
            max_tokens=m.max_tokens,
            temperature=m.temperature,
            language_gate=r.withdraw_wrong_language,
            generation_timeout_s=settings.api.generation_timeout_s,
        ),
    )


def triage_hint_of(assist: TicketAssistant) -> TriageHint:
    """Escalations' queue and priority: the triage vote over similar solved tickets."""

    def hint(subject: str, body: str) -> tuple[str | None, str | None]:
        triage = assist.triage(f"{subject}\n{body}")
        return (
            triage.queue.value if triage.queue else None,
            triage.priority.value if triage.priority else None,
        )

    return hint


def build_escalations(settings: Settings) -> EscalationStore:
    if settings.knowledge.store == "memory":
        return InMemoryEscalationStore()
    return SqliteEscalationStore.in_data_dir(settings.data_dir)


def build_delivery_target(settings: Settings) -> DeliveryTarget | None:
    """The configured ticket system (``None``: target ``none``, drafts are only stored)."""
    e = settings.escalation
    customer = CustomerRule(fixed=e.customer, domain=e.customer_domain)

    def secret(value: SecretStr | None) -> str | None:
        return None if value is None else value.get_secret_value()

    if e.target == "webhook":
        assert e.webhook_url is not None  # validated by EscalationSettings
        return WebhookTarget(e.webhook_url, secret=secret(e.webhook_secret), timeout_s=e.timeout_s)
    if e.target == "zammad":
        assert e.zammad_url is not None and e.zammad_token is not None
        return ZammadTarget(
            e.zammad_url,
            e.zammad_token.get_secret_value(),
            customer=customer,
            timeout_s=e.timeout_s,
        )
    if e.target == "znuny":
        assert e.znuny_url is not None
        return ZnunyTarget(
            e.znuny_url,
            webservice=e.znuny_webservice,
            user=e.znuny_user,
            password=secret(e.znuny_password),
            session_id=secret(e.znuny_session_id),
            state=e.znuny_state,
            customer=customer,
            timeout_s=e.timeout_s,
        )
    if e.target == "smtp":
        assert e.smtp_host is not None and e.smtp_from is not None
        return SmtpTarget(
            e.smtp_host,
            port=e.smtp_port,
            sender=e.smtp_from,
            recipients=e.smtp_to,
            starttls=e.smtp_starttls,
            user=e.smtp_user,
            password=secret(e.smtp_password),
            timeout_s=e.timeout_s,
        )
    return None


def build_deliverer(
    settings: Settings, escalations: EscalationStore, audit: AuditLog | None = None
) -> Deliverer:
    """Deliveries to the configured target; each final status is audited (when ``audit``)."""
    e = settings.escalation

    def audited(escalation: Escalation) -> None:
        if audit is not None:
            action: EscalationAction = "delivered" if escalation.status == "delivered" else "failed"
            audit.append(audit_event(escalation, action=action, user_id="system", role="system"))

    return Deliverer(
        escalations,
        build_delivery_target(settings),
        RetryPolicy(
            max_attempts=e.max_attempts, backoff_s=e.backoff_s, backoff_max_s=e.backoff_max_s
        ),
        on_final=audited,
    )


def settings_values(settings: Settings) -> dict[str, object]:
    """Every effective setting by its dotted name (``api.max_queue``), secrets revealed: for
    ``record_settings``, which keeps only keyed digests of them."""
    values: dict[str, object] = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, SecretStr):
            values[prefix] = value.get_secret_value()
        elif isinstance(value, list | tuple | set | frozenset):
            values[prefix] = [str(v) for v in value]
        elif value is None or isinstance(value, bool | int | float | str):
            values[prefix] = value
        else:
            values[prefix] = str(value)

    walk("", settings.model_dump())
    return values


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
    escalations: EscalationStore = field(default_factory=InMemoryEscalationStore)
    deliverer: Deliverer | None = None  # None: build_services was not used (no deliveries)
    triage_hint: TriageHint | None = None  # queue/priority suggestion for escalations
    tickets: TicketStore = field(default_factory=TicketStore.memory)  # the agents' tickets
    model_sha256: str | None = None  # of the model file, recorded with every answer
    jobs: JobRunner = field(init=False)  # background reindex jobs over ``knowledge``
    ticket_assist: TicketAssistant = field(init=False)  # similar tickets, triage, drafts

    def __post_init__(self) -> None:
        self.jobs = JobRunner(
            self.knowledge.indexer,
            self.knowledge.manifest,
            tickets=self.tickets,
            review_mode=self.settings.tickets.knowledge_review,
            keep=self.settings.api.jobs_kept,
        )
        self.ticket_assist = build_ticket_assistant(
            self.settings, self.knowledge, self.llm, self.tickets, self.assistant.gate
        )
        if self.triage_hint is None:
            self.triage_hint = triage_hint_of(self.ticket_assist)

    def close(self) -> None:
        if self.deliverer is not None:
            self.deliverer.close()  # the running delivery finishes; pending ones resume later
        self.escalations.close()
        self.tickets.close()
        self.jobs.close()
        self.conversations.close()
        self.audit.close()
        self.knowledge.close()


def build_services(
    settings: Settings, *, llm: LLM | None = None, triage_hint: TriageHint | None = None
) -> Services:
    knowledge = open_knowledge(settings, purpose="lotse serve")
    escalations: EscalationStore | None = None
    try:
        llm = llm or build_llm(settings)
        assistant = build_assistant(settings, knowledge, llm)
        conversations = build_conversations(settings)
        audit = build_audit(settings)
        audit.prune()  # retention at every start (and `lotse audit prune` on a schedule)
        fingerprint = model_sha256(settings)
        # a changed setting or model file since the last start is an audited admin change
        record_settings(
            audit, settings_values(settings), model_id=llm.model_id, model_sha256=fingerprint
        )
        escalations = build_escalations(settings)
        tickets = build_tickets(settings)
        deliverer = build_deliverer(settings, escalations, audit)
        deliverer.resume()  # what a previous run left pending is delivered now
    except BaseException:
        if escalations is not None:
            escalations.close()
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
        escalations=escalations,
        deliverer=deliverer,
        triage_hint=triage_hint,
        tickets=tickets,
    )
