"""Request and response bodies of the admin review of ticket knowledge candidates
(``/v1/admin/candidates``, setting ``tickets.knowledge_review``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.ticket_store import KnowledgeCandidate

StatusFilter = Literal["pending", "approved", "rejected", "all"]


def _when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds).astimezone()


class CandidateOut(BaseModel):
    """One resolved ticket's redacted knowledge document, as it would go live."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "source": "tickets",
                    "ticket_id": "NW-INC-104021",
                    "source_id": "tickets/NW-INC-104021",
                    "title": "VPN: Zertifikat ungültig",
                    "text": "# VPN: Zertifikat ungültig\n\n## Problem\n\nHallo, hier [NAME] …",
                    "language": "de",
                    "content_hash": "9f2c…",
                    "acl": ["everyone"],
                    "redactions": {"name": 1, "phone": 1},
                    "status": "pending",
                    "live": False,
                    "decided_by": None,
                    "decided_at": None,
                    "reason": None,
                    "created_at": "2025-01-07T09:12:00+01:00",
                    "updated_at": "2025-01-07T09:12:00+01:00",
                }
            ]
        }
    )

    source: str = Field(description="The employee knowledge source it belongs to.")
    ticket_id: str
    source_id: str = Field(description="Its document id in the source (tickets/<id>).")
    title: str = Field(description="The redacted subject.")
    text: str = Field(description="The redacted text exactly as employees would see it.")
    language: str
    content_hash: str = Field(description="Send it back with a decision to decide on this text.")
    acl: list[str] = Field(description="The groups that may read it once it is live.")
    redactions: dict[str, int] = Field(description="Placeholders inserted, by kind.")
    status: Literal["pending", "approved", "rejected"]
    live: bool = Field(description="Approved for this very text, so it is in the index.")
    decided_by: str | None = Field(
        description="Pseudonymous actor id of the deciding admin (as in the audit log), or "
        "'auto' when mode 'auto' published it."
    )
    decided_at: datetime | None
    reason: str | None = Field(description="The reason given with the decision, if any.")
    created_at: datetime
    updated_at: datetime = Field(description="When its text last changed.")

    @classmethod
    def of(cls, c: KnowledgeCandidate) -> CandidateOut:
        return cls(
            source=c.source,
            ticket_id=c.ticket_id,
            source_id=c.source_id,
            title=c.title,
            text=c.text,
            language=c.language,
            content_hash=c.content_hash,
            acl=list(c.acl),
            redactions=dict(c.redactions),
            status=c.status,
            live=c.live,
            decided_by=c.decided_by,
            decided_at=_when(c.decided_at),
            reason=c.reason,
            created_at=_when(c.created_at) or datetime.fromtimestamp(0).astimezone(),
            updated_at=_when(c.updated_at) or datetime.fromtimestamp(0).astimezone(),
        )


class CandidateList(BaseModel):
    """One page of candidates, oldest first."""

    candidates: list[CandidateOut]
    total: int = Field(ge=0, description="How many candidates match the filter in all.")
    limit: int = Field(ge=1)
    offset: int = Field(ge=0)
    counts: dict[str, int] = Field(
        description="Candidates per status (of the source, when one is given)."
    )
    mode: Literal["auto", "review"] = Field(description="The setting tickets.knowledge_review.")


class CandidateDecisionRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"content_hash": "9f2c…"},
                {"reason": "Enthält noch eine interne Rufnummer."},
            ]
        },
    )

    reason: str | None = Field(
        None, max_length=1000, description="Why (optional; kept with the candidate)."
    )
    content_hash: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="The content_hash of the text you reviewed: the decision is refused (409) "
        "when the candidate's text has changed since.",
    )


class CandidateDecisionOut(BaseModel):
    candidate: CandidateOut
    audit_seq: int = Field(ge=1, description="The decision's audit record.")
    chunks_written: int = Field(ge=0, description="Chunks indexed by this decision.")
    documents_removed: int = Field(ge=0, description="Documents taken out of the index.")
