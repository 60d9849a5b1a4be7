"""Request and response models of the HTTP API (pydantic at the edge)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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


class QueueOut(BaseModel):
    waiting: int = Field(ge=0, description="Questions waiting for the model.")
    running: int = Field(ge=0, description="Generations running now (at most 1 per model).")
    rejected: int = Field(ge=0, description="Requests refused as overloaded since the start.")
    max_queue: int = Field(ge=1, description="Waiting questions beyond which Lotse answers 503.")


class Readiness(BaseModel):
    status: str = Field(examples=["ready"])
    model: str = Field(description="The language model answering.", examples=["qwen2.5-1.5b"])
    embedder: str = Field(examples=["e5:multilingual-e5-small-q4"])
    chunks: int = Field(ge=0, description="Chunks in the vector index.")
    documents: int = Field(ge=0, description="Documents in the manifest.")
    queue: QueueOut


# --- chat, conversations, search, feedback, stats ---


class ChatRequest(BaseModel):
    message: str = Field(
        min_length=1,
        max_length=100000,
        description="The user's message, in German or English. Follow-ups may lean on the "
        "conversation ('und auf dem Mac?'). Longer than api.max_question_chars: 413.",
        examples=["Wie verbinde ich mich mit dem VPN?"],
    )
    conversation_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Continue this conversation; leave out to start a new one.",
        examples=["3f2b9c0d8e7a4b6f9a1c2d3e4f5a6b7c"],
    )
    stream: bool = Field(
        True,
        description="true: Server-Sent Events (sources, token..., done); false: one JSON answer.",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"message": "Wie verbinde ich mich mit dem VPN?"},
                {
                    "message": "und auf dem Mac?",
                    "conversation_id": "3f2b9c0d8e7a4b6f9a1c2d3e4f5a6b7c",
                    "stream": False,
                },
            ]
        }
    }


class ChatResponse(BaseModel):
    """The answer (the ``done`` event of a stream, or the whole body with ``stream: false``)."""

    answer_id: str = Field(description="Rate this answer with POST /v1/feedback.")
    conversation_id: str = Field(description="Send it back to continue the conversation.")
    answer: str
    abstained: bool = Field(description="True when Lotse found nothing to ground an answer on.")
    sources: list[SourceOut]
    model: str
    ai_generated: bool = Field(True, description="Always true: this text was written by an AI.")
    timings: TimingsOut


class ChatSourcesEvent(BaseModel):
    """SSE ``event: sources``: the passages given to the model, before the first token."""

    sources: list[SourceOut]


class ChatTokenEvent(BaseModel):
    """SSE ``event: token``: the next piece of the answer text."""

    text: str


class ChatStreamEvent(BaseModel):
    """One Server-Sent Event of a streamed chat answer (the OpenAPI schema of each event)."""

    event: Literal["sources", "token", "done", "error"] = Field(
        description="sources (once, first), token (repeated), then done or error."
    )
    data: str = Field(
        description="One line of JSON: ChatSourcesEvent, ChatTokenEvent, ChatResponse or "
        "ErrorResponse, by event.",
        json_schema_extra={"contentMediaType": "application/json"},
    )


class TurnOut(BaseModel):
    role: Literal["user", "assistant"]
    text: str
    created: datetime
    answer_id: str | None = Field(None, description="Assistant turns: the answer's id.")
    abstained: bool = False
    sources: list[SourceOut] = Field(default_factory=list)
    model: str | None = Field(None, description="Assistant turns: the model that wrote it.")
    ai_generated: bool = Field(description="True for assistant turns.")


class ConversationOut(BaseModel):
    conversation_id: str
    created: datetime
    updated: datetime
    turns: list[TurnOut]


class SearchRequest(BaseModel):
    query: str = Field(
        min_length=1,
        max_length=100000,
        description="What to look for, in German or English (retrieval only, no model).",
        examples=["VPN Mac Tunnelblick"],
    )
    k: int = Field(5, ge=1, le=50, description="How many passages to return.")


class SearchHit(BaseModel):
    rank: int = Field(ge=1)
    chunk_id: str
    source_id: str = Field(description="Path of the document relative to its source folder.")
    title: str
    heading: str = Field(description="Heading path of the passage.")
    snippet: str
    text: str = Field(description="The whole passage.")
    score: float = Field(description="Fused reciprocal-rank score (higher is better).")
    dense_score: float | None = Field(None, description="Cosine similarity, when matched.")
    lexical_score: float | None = Field(None, description="BM25 score, when matched.")


class SearchResponse(BaseModel):
    query: str
    results: list[SearchHit]
    took_ms: float


class FeedbackRequest(BaseModel):
    answer_id: str = Field(
        min_length=1,
        max_length=64,
        description="The answer_id of a chat answer.",
        examples=["9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"],
    )
    rating: Literal["up", "down"] = Field(description="Helpful (up) or not (down).")
    comment: str | None = Field(
        None,
        max_length=2000,
        description="Optional free text; removed when the conversation is deleted.",
        examples=["Der Link im Schritt 2 fehlt."],
    )


class FeedbackOut(BaseModel):
    answer_id: str
    rating: Literal["up", "down"]
    comment: str | None
    created: datetime


class StatsDay(BaseModel):
    """One UTC calendar day of ``StatsResponse.per_day`` (for the admin console's charts)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "day": "2025-03-01",
                    "questions": 12,
                    "answered": 9,
                    "abstained": 3,
                    "feedback_up": 4,
                    "feedback_down": 1,
                }
            ]
        }
    )

    day: date = Field(description="The UTC day.")
    questions: int = Field(ge=0)
    answered: int = Field(ge=0)
    abstained: int = Field(ge=0)
    feedback_up: int = Field(ge=0)
    feedback_down: int = Field(ge=0)


class StatsResponse(BaseModel):
    since: datetime
    until: datetime
    questions: int = Field(ge=0, description="Questions answered or abstained in the window.")
    answered: int = Field(ge=0)
    abstained: int = Field(ge=0)
    answer_rate: float | None = Field(
        None, ge=0, le=1, description="answered / questions (none without questions)."
    )
    deflection_rate: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Questions answered without a thumbs-down / questions: an estimate of "
        "the questions that needed no ticket.",
    )
    feedback_up: int = Field(ge=0)
    feedback_down: int = Field(ge=0)
    total_ms_p50: float | None = Field(None, description="Median time to the whole answer.")
    total_ms_p95: float | None = None
    first_token_ms_p50: float | None = Field(None, description="Median time to first token.")
    first_token_ms_p95: float | None = None
    per_day: list[StatsDay] = Field(
        default_factory=list,
        description="The window per UTC calendar day, oldest first (the first and last day "
        "clipped to the window; at most the newest 366 days).",
    )
