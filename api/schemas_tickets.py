"""Request and response bodies of agent assist (``/v1/tickets``) and the ticket webhook."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from assistant.ticket_store import StoredTicket


class SuggestRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"subject": "VPN: Zertifikat ungültig", "body": "AnyConnect meldet seit heute…"},
                {"ticket_id": "NW-INC-104021"},
            ]
        },
    )

    subject: str | None = Field(None, min_length=1, max_length=1000)
    body: str | None = Field(None, min_length=1)
    language: Literal["de", "en"] | None = Field(
        None, description="The reply's language (default: the ticket's, else detected)."
    )
    ticket_id: str | None = Field(
        None, min_length=1, max_length=200, description="A stored ticket instead of a text."
    )

    @model_validator(mode="after")
    def _one_of(self) -> SuggestRequest:
        if self.ticket_id is None and (self.subject is None or self.body is None):
            raise ValueError("send either ticket_id, or subject and body")
        if self.ticket_id is not None and (self.subject is not None or self.body is not None):
            raise ValueError("send either ticket_id, or subject and body, not both")
        return self


class SourceOut(BaseModel):
    source_id: str
    title: str
    heading: str
    snippet: str
    score: float


class SimilarTicketOut(BaseModel):
    ticket_id: str
    subject: str
    similarity: float = Field(description="Cosine similarity of the best-matching passage.")
    resolution_snippet: str
    queue: str
    priority: str
    type: str


class TriageValueOut(BaseModel):
    value: str
    confidence: float = Field(ge=0, le=1, description="Share of the similarity-weighted vote.")
    votes: int = Field(ge=0, description="Similar tickets that voted for this value.")


class TriageOut(BaseModel):
    queue: TriageValueOut | None
    priority: TriageValueOut | None
    type: TriageValueOut | None


class SuggestionOut(BaseModel):
    suggestion_id: str
    ticket_id: str | None
    ai_generated: Literal[True] = True
    model: str
    language: str
    draft: str = Field(description="The AI draft reply; empty when Lotse abstained.")
    abstained: bool
    reason: str = Field(description="Why there is no draft ('' when there is one).")
    sources: list[SourceOut]
    similar: list[SimilarTicketOut]
    triage: TriageOut
    prompt_version: str
    created: datetime
    decision: Literal["accept", "edit", "reject"] | None = None

    @classmethod
    def of(cls, payload: dict[str, Any], created: datetime, decision: str | None) -> SuggestionOut:
        fields = {k: v for k, v in payload.items() if k in cls.model_fields}
        return cls.model_validate({**fields, "created": created, "decision": decision})


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["accept", "edit", "reject"]
    text: str | None = Field(None, min_length=1, description="edit: the text that was sent.")


class DecisionOut(BaseModel):
    suggestion_id: str
    decision: Literal["accept", "edit", "reject"]
    recorded_at: datetime


class TicketSummary(BaseModel):
    ticket_id: str
    subject: str
    status: str
    queue: str
    priority: str
    language: str
    created: datetime | None
    origin: str
    has_suggestion: bool


class TicketList(BaseModel):
    tickets: list[TicketSummary]


class TicketOut(BaseModel):
    ticket_id: str
    subject: str
    body: str
    status: str
    queue: str
    priority: str
    type: str
    language: str
    created: datetime | None
    origin: str

    @classmethod
    def of(cls, t: StoredTicket) -> TicketOut:
        return cls(
            ticket_id=t.ticket_id,
            subject=t.subject,
            body=t.body,
            status=t.status,
            queue=t.queue,
            priority=t.priority,
            type=t.type,
            language=t.language,
            created=None if t.created is None else datetime.fromtimestamp(t.created).astimezone(),
            origin=t.origin,
        )


class TicketDetail(BaseModel):
    ticket: TicketOut
    suggestion: SuggestionOut | None


class WebhookTicket(BaseModel):
    """Lotse's own webhook body (Zammad's trigger payload is accepted too, see the docs)."""

    model_config = ConfigDict(extra="ignore")

    ticket_id: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=1000)
    body: str = Field(min_length=1)
    language: Literal["de", "en"] | None = None
    queue: str = ""
    priority: str = ""
    type: str = ""
    status: str = "new"


class WebhookAccepted(BaseModel):
    ticket_id: str
    accepted: Literal[True] = True
    suggestion: Literal["queued", "off"]
