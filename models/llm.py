"""The ``LLM`` protocol, its value types, and the replaying fake.

Contract:
- ``complete(messages, params)`` returns the whole reply; ``stream(messages, params)`` yields
  ``StreamChunk``s whose ``text`` pieces concatenate to the reply. The last chunk carries
  ``finish_reason`` ("stop" or "length") and ``usage``; no chunk follows it.
- Messages use the roles "system", "user" and "assistant"; the backend applies the model's own
  chat template.
- ``count_tokens(text)`` counts tokens the way the model does (used to fit prompts into
  ``context_size``).
- Implementations are NOT thread-safe: callers serialise generation per model
  (see ``assistant.generation.GenerationGate``).
- Failures raise ``GenerationFailed`` (or ``ModelUnavailable`` when the model cannot load).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class GenerationParams:
    max_tokens: int = 256
    temperature: float = 0.0
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class StreamChunk:
    text: str
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str
    usage: Usage


@runtime_checkable
class LLM(Protocol):
    model_id: str
    context_size: int

    def count_tokens(self, text: str) -> int: ...

    def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion: ...

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Iterator[StreamChunk]: ...


def collect(chunks: Iterator[StreamChunk]) -> Completion:
    """Drain a stream into one ``Completion`` (shared by backends that only stream)."""
    parts: list[str] = []
    finish, usage = "stop", Usage(0, 0)
    for chunk in chunks:
        parts.append(chunk.text)
        if chunk.finish_reason is not None:
            finish = chunk.finish_reason
        if chunk.usage is not None:
            usage = chunk.usage
    return Completion(text="".join(parts), finish_reason=finish, usage=usage)


@dataclass
class FakeLLM:
    """Replays queued replies (or a default one) and records every prompt it was given.

    Tokens are whitespace-separated words, so counts are predictable in tests.
    """

    replies: deque[str] = field(default_factory=deque)
    default_reply: str = "Dazu habe ich in der Wissensbasis nichts gefunden."
    model_id: str = "fake-llm"
    context_size: int = 4096
    prompts: list[list[ChatMessage]] = field(default_factory=list)

    def queue(self, *replies: str) -> None:
        self.replies.extend(replies)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _next(self, messages: Sequence[ChatMessage], params: GenerationParams) -> tuple[str, str]:
        self.prompts.append(list(messages))
        reply = self.replies.popleft() if self.replies else self.default_reply
        words = reply.split(" ")
        if len(words) > params.max_tokens:
            return " ".join(words[: params.max_tokens]), "length"
        return reply, "stop"

    def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        return collect(self.stream(messages, params))

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Iterator[StreamChunk]:
        reply, finish = self._next(messages, params)
        prompt_tokens = sum(self.count_tokens(m.content) for m in messages)
        words = reply.split(" ")
        for i, word in enumerate(words):
            yield StreamChunk(text=word if i == 0 else " " + word)
        yield StreamChunk(text="", finish_reason=finish, usage=Usage(prompt_tokens, len(words)))
