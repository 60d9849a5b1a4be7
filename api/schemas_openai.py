"""Request and response models of the OpenAI-compatible endpoints (``/v1/chat/completions``,
``/v1/models``).

They follow the OpenAI Chat Completions shapes closely enough for the official clients; Lotse's
own extras travel in one extra top-level field, ``lotse``, which OpenAI clients ignore. Request
fields Lotse does not use (``top_p``, ``user``, ``tools``, …) are accepted and ignored so that
existing integrations keep working; those it cannot honour (``n`` > 1) are rejected.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.schemas import SourceOut

MAX_COMPLETION_TOKENS = 4096


class TextPart(BaseModel):
    """One part of a multi-part message; Lotse reads text parts only."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["text"] = Field(description="Only text parts are supported.")
    text: str = Field(max_length=100000)


class ChatCompletionMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"] = Field(
        description="system/developer messages are accepted but not used: Lotse's own "
        "instructions ground every answer."
    )
    content: str | list[TextPart] | None = Field(
        None, description="The text, or a list of text parts that are joined."
    )

    @field_validator("content", mode="before")
    @classmethod
    def _text_parts_only(cls, content: object) -> object:
        if isinstance(content, list):
            for part in content:
                kind = part.get("type") if isinstance(part, dict) else None
                if kind != "text":
                    raise ValueError(
                        f"only text content parts are supported, not {kind!r}; "
                        "send the text as a string or as parts of type 'text'"
                    )
        return content

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = Field(
        False, description="Send one last chunk with token usage (and no choices)."
    )


class ChatCompletionRequest(BaseModel):
    """An OpenAI chat request. The last user message is the question; earlier user and
    assistant messages are history that only sharpens the search."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "model": "qwen2.5-1.5b",
                    "messages": [{"role": "user", "content": "Wie verbinde ich mich mit dem VPN?"}],
                    "stream": False,
                },
                {
                    "model": "qwen2.5-1.5b",
                    "messages": [
                        {"role": "user", "content": "How do I claim travel expenses?"},
                        {"role": "assistant", "content": "Submit the form in the portal."},
                        {"role": "user", "content": "And the per diem?"},
                    ],
                    "stream": True,
                },
            ]
        },
    )

    model: str = Field(
        min_length=1,
        max_length=200,
        description="A model id listed by GET /v1/models.",
        examples=["qwen2.5-1.5b"],
    )
    messages: list[ChatCompletionMessage] = Field(
        min_length=1, max_length=200, description="The conversation; the last one is the user's."
    )
    stream: bool = Field(False, description="Stream server-sent events ending with [DONE].")
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(
        None,
        ge=1,
        le=MAX_COMPLETION_TOKENS,
        description="Upper bound on answer tokens; never above the server's configured limit.",
    )
    max_completion_tokens: int | None = Field(
        None, ge=1, le=MAX_COMPLETION_TOKENS, description="Newer name of max_tokens; wins."
    )
    temperature: float | None = Field(
        None, ge=0.0, le=2.0, description="Sampling temperature; default: the server's."
    )
    n: int | None = Field(None, ge=1, le=1, description="Only one choice per request.")

    @field_validator("messages")
    @classmethod
    def _last_is_a_user_question(
        cls, messages: list[ChatCompletionMessage]
    ) -> list[ChatCompletionMessage]:
        if messages and messages[-1].role != "user":
            raise ValueError(
                f"the last message must have role 'user' (the question), not '{messages[-1].role}'"
            )
        if messages and not messages[-1].text().strip():
            raise ValueError("the last user message is empty")
        return messages

    def answer_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class LotseExtras(BaseModel):
    """Lotse's additions to an OpenAI response (clients that do not know them ignore them)."""

    sources: list[SourceOut] = Field(description="The passages the answer is grounded on.")
    abstained: bool = Field(description="True when the knowledge base did not cover it.")
    ai_generated: bool = Field(True, description="Always true: this text was written by an AI.")
    answer_id: str | None = Field(
        None, description="Id of the answer (for feedback and the audit log)."
    )


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class ChatCompletionResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "chatcmpl-5f0c2a",
                    "object": "chat.completion",
                    "created": 1767225600,
                    "model": "qwen2.5-1.5b",
                    "choices": [
                        {
                            "index": 0,
                            "message": {
                                "role": "assistant",
                                "content": "Starten Sie Cisco AnyConnect und verbinden Sie sich "
                                "mit vpn.nordwind.de [1].",
                            },
                            "finish_reason": "stop",
                            "logprobs": None,
                        }
                    ],
                    "usage": {"prompt_tokens": 412, "completion_tokens": 21, "total_tokens": 433},
                    "lotse": {
                        "sources": [
                            {
                                "source_id": "it/vpn.md",
                                "title": "VPN",
                                "heading": "VPN > Verbindung",
                                "snippet": "Starten Sie Cisco AnyConnect …",
                                "score": 0.91,
                            }
                        ],
                        "abstained": False,
                        "ai_generated": True,
                        "answer_id": "5f0c2a",
                    },
                }
            ]
        }
    )

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(description="Unix time in seconds.")
    model: str
    choices: list[Choice]
    usage: Usage
    lotse: LotseExtras


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop", "length"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One ``data:`` event of a streamed answer. The first chunk carries the role, the last one
    ``finish_reason`` and the ``lotse`` extras; with ``stream_options.include_usage`` one more
    chunk with ``usage`` and no choices follows. The stream ends with ``data: [DONE]``."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    lotse: LotseExtras | None = None


class ModelCard(BaseModel):
    id: str = Field(examples=["qwen2.5-1.5b"])
    object: Literal["model"] = "model"
    created: int = Field(description="Unix time of this listing, in seconds.")
    owned_by: str = Field("lotse", examples=["lotse"])


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
