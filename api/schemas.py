"""Request and response models of the HTTP API (pydantic at the edge)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AskRequest(BaseModel):
    question: str = Field(
        min_length=1,
        max_length=20000,
        description="The question, in German or English.",
        examples=["Wie verbinde ich mich mit dem VPN?"],
    )


class SourceOut(BaseModel):
    source_id: str = Field(description="Path of the document relative to its source folder.")
    title: str
    heading: str = Field(description="Heading path of the cited passage.")
    snippet: str
    score: float


class TimingsOut(BaseModel):
    retrieval_ms: float
    first_token_ms: float | None
    total_ms: float
    prompt_tokens: int
    completion_tokens: int


class AskResponse(BaseModel):
    answer: str
    abstained: bool = Field(description="True when Lotse found nothing to ground an answer on.")
    sources: list[SourceOut]
    model: str
    ai_generated: bool = Field(True, description="Always true: this text was written by an AI.")
    timings: TimingsOut


class Health(BaseModel):
    status: str = Field(examples=["ok"])
