"""Request and response models of the audit API (``/v1/admin/audit``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from assistant.audit import AuditRecord, AuditText, Checkpoint, VerifyResult

_HASH = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256, hex.")


class AuditRecordOut(BaseModel):
    """One audit record; digests and a pseudonym, never names or texts (unless asked for)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "seq": 42,
                    "time": "2025-03-01T08:15:02.123456+00:00",
                    "event": "answer",
                    "actor": "5f0c1e9a2b3d4c5e6f708192a3b4c5d6",
                    "role": "employee",
                    "request_id": "9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f",
                    "question_sha256": "3a7bd3e2…",
                    "answer_sha256": "2c26b46b…",
                    "chunk_ids": ["b5f1…"],
                    "content_hashes": ["e3b0…"],
                    "acl_filter": ["everyone", "it"],
                    "model_id": "qwen2.5-1.5b",
                    "model_sha256": "cc324af0…",
                    "prompt_version": "answer-v2",
                    "decision": "answered",
                    "latency_ms": {"retrieval_ms": 18.2, "total_ms": 2140.5},
                    "details": {"endpoint": "chat", "language": "de"},
                    "prev_hash": "8f43…",
                    "hash": "19ab…",
                }
            ]
        }
    )

    seq: int = Field(ge=1, description="Position in the chain, contiguous from 1.")
    time: str = Field(description="UTC, ISO 8601 with microseconds.")
    event: str = Field(description="answer, search, feedback, reindex, source_registered, …")
    actor: str = Field(description="Pseudonymous id: keyed HMAC-SHA256 of the user id.")
    role: str
    request_id: str = Field(description="The answer_id for answers and their feedback.")
    question_sha256: str | None
    answer_sha256: str | None
    chunk_ids: list[str] = Field(description="Chunks given to the model (or returned).")
    content_hashes: list[str] = Field(description="Document versions of those chunks.")
    acl_filter: list[str] | None = Field(description="Groups retrieval was limited to.")
    model_id: str
    model_sha256: str | None
    prompt_version: str
    decision: str | None = Field(
        description="answered, abstained, refused, overloaded or error (answers only)."
    )
    latency_ms: dict[str, float]
    details: dict[str, object]
    prev_hash: str = _HASH
    hash: str = _HASH
    question: str | None = Field(
        None, description="Only with include_texts=true, while the text retention lasts."
    )
    answer: str | None = Field(None, description="As question.")

    @classmethod
    def of(cls, record: AuditRecord, text: AuditText | None = None) -> AuditRecordOut:
        out = cls.model_validate(record.as_dict())
        if text is not None:
            out.question, out.answer = text.question, text.answer
        return out


class AuditList(BaseModel):
    records: list[AuditRecordOut] = Field(description="Newest first.")
    count: int = Field(ge=0)


class CheckpointOut(BaseModel):
    """A signed checkpoint; store it outside this server and verify against it later."""

    format: str = Field(examples=["lotse-audit-checkpoint/1"])
    count: int = Field(ge=0, description="Records in the chain at the checkpoint.")
    head_hash: str = _HASH
    time: str
    public_key: str = Field(description="Ed25519 public key, PEM.")
    signature: str = Field(description="Ed25519 signature, hex.")

    @classmethod
    def of(cls, checkpoint: Checkpoint) -> CheckpointOut:
        return cls(
            format=checkpoint.format,
            count=checkpoint.count,
            head_hash=checkpoint.head_hash,
            time=checkpoint.time,
            public_key=checkpoint.public_key,
            signature=checkpoint.signature,
        )

    def to_checkpoint(self) -> Checkpoint:
        return Checkpoint(
            count=self.count,
            head_hash=self.head_hash,
            time=self.time,
            public_key=self.public_key,
            signature=self.signature,
            format=self.format,
        )


class AuditVerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint: CheckpointOut | None = Field(
        None, description="A checkpoint from earlier: also detects records cut off the end."
    )


class AuditVerifyResponse(BaseModel):
    ok: bool
    records: int = Field(ge=0, description="Records checked.")
    head_seq: int = Field(ge=0)
    head_hash: str
    bad_seq: int | None = Field(None, description="The first bad record, when not ok.")
    reason: str = Field("", description="What is wrong with it.")
    notes: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, result: VerifyResult) -> AuditVerifyResponse:
        return cls.model_validate(result.as_dict())
