"""Request and response models of ``POST /v1/admin/erase`` (GDPR Art. 17 erasure)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from assistant.erasure import MIN_MATCH_CHARS, ErasureReport


class EraseRequest(BaseModel):
    """Exactly one of ``user``, ``source`` (optionally with ``document``) or ``match``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"user": "m.mustermann", "dry_run": True},
                {"source": "it-wiki", "document": "alt/vpn-anleitung.md"},
                {"match": "Erika Mustermann"},
            ]
        },
    )

    user: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Erase this person's conversations, feedback comments, audit texts and "
        "API keys.",
    )
    source: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Erase every document of this source (or only ``document``) from the "
        "indexes and tombstone it.",
    )
    document: str | None = Field(
        None,
        min_length=1,
        max_length=4096,
        description="With ``source``: only this document (its source id, e.g. a relative path).",
    )
    match: str | None = Field(
        None,
        min_length=MIN_MATCH_CHARS,
        max_length=1000,
        description="Erase every document containing this text (case-insensitive), and every "
        "conversation turn and audit text containing it.",
    )
    dry_run: bool = Field(False, description="Only report what would be erased.")

    @model_validator(mode="after")
    def _one_target(self) -> EraseRequest:
        given = [n for n in ("user", "source", "match") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of user, source or match")
        if self.document is not None and self.source is None:
            raise ValueError("document needs source")
        return self


class ErasedDocumentInfo(BaseModel):
    source: str
    source_id: str
    chunks: int = Field(ge=0)


class EraseResult(BaseModel):
    """What was erased (or would be, with ``dry_run``); never the erased content."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "match",
                    "dry_run": False,
                    "documents": [{"source": "it-wiki", "source_id": "vpn.md", "chunks": 3}],
                    "chunks": 3,
                    "conversations": None,
                    "conversation_texts": 1,
                    "audit_texts": 2,
                    "api_keys": None,
                    "match_sha256": "9f86d081884c7d659a2feaa0c55ad015"
                    + "a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "audit_seq": 42,
                    "notes": [],
                }
            ]
        }
    )

    kind: Literal["user", "source", "match"]
    dry_run: bool
    documents: list[ErasedDocumentInfo] = Field(description="Erased (and tombstoned) documents.")
    chunks: int = Field(ge=0)
    conversations: int | None = Field(description="Conversations removed (user erasure).")
    conversation_texts: int = Field(ge=0, description="Turns and comments removed (match).")
    audit_texts: int | None = Field(description="Stored question/answer texts removed.")
    api_keys: int | None = Field(description="API keys deleted; null without a key store.")
    escalations: int | None = Field(
        None, description="Ticket drafts from the chat removed; null without that store."
    )
    tickets: int | None = Field(
        None, description="Agents' tickets and AI suggestions removed; null without that store."
    )
    match_sha256: str | None = Field(description="SHA-256 of the case-folded match text.")
    audit_seq: int | None = Field(description="The erasure's own audit record (not in dry runs).")
    notes: list[str]

    @classmethod
    def of(cls, report: ErasureReport) -> EraseResult:
        return cls.model_validate(report.as_dict())
