"""Request and response models of the escalation routes (ticket drafts from the chat) and of
the admin's knowledge gaps."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.escalation import MAX_DESCRIPTION_CHARS, MAX_SUBJECT_CHARS

StatusName = Literal["pending", "delivering", "delivered", "failed"]
TargetName = Literal["none", "webhook", "zammad", "znuny", "smtp"]


class EscalationRequest(BaseModel):
    """Escalate one of your conversations to the service desk."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "conversation_id": "3f2b9c1d2e3f4a5b6c7d8e9f0a1b2c3d",
                    "answer_id": "9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f",
                    "reason": "abstained",
                },
                {
                    "conversation_id": "3f2b9c1d2e3f4a5b6c7d8e9f0a1b2c3d",
                    "subject": "Anfrage: VPN bricht im Homeoffice ab",
                    "description": "Verlauf mit dem Self-Service-Assistenten Lotse\n…",
                    "reason": "not_helpful",
                },
            ]
        },
    )

    conversation_id: str = Field(
        min_length=1, max_length=64, description="Your conversation the ticket is about."
    )
    answer_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="The answer that abstained or did not help; the draft covers the "
        "conversation up to it (default: up to the last abstention, or all of it).",
    )
    subject: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_SUBJECT_CHARS,
        description="Your edited subject; default: built from the relevant question.",
    )
    description: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_DESCRIPTION_CHARS,
        description="Your edited description; default: the questions, Lotse's answers "
        "(marked AI-generated) and the cited sources.",
    )
    reason: Literal["abstained", "not_helpful"] | None = Field(
        None, description="Why: Lotse found nothing, or its answer did not help."
    )


class EscalationOut(BaseModel):
    """An escalation and its delivery status."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "escalation_id": "5a1e…",
                    "conversation_id": "3f2b…",
                    "answer_id": "9c1d…",
                    "subject": "Anfrage: Wie viele Urlaubstage habe ich?",
                    "description": "Verlauf mit dem Self-Service-Assistenten Lotse\n…",
                    "queue": "Users",
                    "priority": "normal",
                    "language": "de",
                    "reason": "abstained",
                    "target": "zammad",
                    "status": "delivered",
                    "attempts": 1,
                    "max_attempts": 5,
                    "last_error": None,
                    "external_ref": "31001",
                    "note": None,
                    "created": "2026-12-01T09:00:00Z",
                    "updated": "2026-12-01T09:00:01Z",
                }
            ]
        }
    )

    escalation_id: str
    conversation_id: str
    answer_id: str | None
    subject: str
    description: str
    queue: str = Field(description="Suggested queue (Zammad group, Znuny queue).")
    priority: str = Field(description="Suggested priority.")
    language: str = Field(description="Language of the draft's headings: de or en.")
    reason: Literal["abstained", "not_helpful"] | None
    target: TargetName = Field(description="Where it is delivered; none: stored only.")
    status: StatusName = Field(
        description="pending (waiting for its next attempt, or no target configured), "
        "delivering, delivered or failed."
    )
    attempts: int = Field(ge=0, description="Delivery attempts made so far.")
    max_attempts: int = Field(ge=1, description="Attempts before it counts as failed.")
    last_error: str | None = Field(
        description="What went wrong at the last attempt (no personal data)."
    )
    external_ref: str | None = Field(description="The ticket number the ticket system gave it.")
    note: str | None = Field(
        None, description="Why it stays pending, e.g. when no delivery target is configured."
    )
    created: datetime
    updated: datetime


class EscalationList(BaseModel):
    escalations: list[EscalationOut] = Field(description="Newest first.")


class EscalationConfigOut(BaseModel):
    """Whether escalations are delivered anywhere (the portal enables its send button)."""

    target: TargetName
    configured: bool = Field(description="False: drafts are stored, but nothing is sent.")
    max_attempts: int = Field(ge=1)


class GapOut(BaseModel):
    topic: str = Field(description="The key words the grouped questions share.")
    count: int = Field(ge=1, description="Abstained questions plus escalations on the topic.")
    abstained: int = Field(ge=0, description="Questions Lotse found nothing for.")
    escalated: int = Field(ge=0, description="Escalations to the service desk.")
    example: str = Field(description="The newest question of the group.")
    last_seen: datetime


class GapsOut(BaseModel):
    """Top unanswered topics: where the knowledge base needs a document."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "days": 30,
                    "since": "2026-11-01T00:00:00Z",
                    "until": "2026-12-01T00:00:00Z",
                    "gaps": [
                        {
                            "topic": "urlaubstage",
                            "count": 4,
                            "abstained": 3,
                            "escalated": 1,
                            "example": "Wie viele Urlaubstage habe ich?",
                            "last_seen": "2026-11-30T14:02:11Z",
                        }
                    ],
                    "abstentions_without_text": 0,
                }
            ]
        }
    )

    days: int
    since: datetime
    until: datetime
    gaps: list[GapOut]
    abstentions_without_text: int = Field(
        ge=0,
        description="Abstentions that could not be grouped: their text is not kept "
        "(LOTSE_AUDIT__STORE_TEXTS=false) or past its retention.",
    )
