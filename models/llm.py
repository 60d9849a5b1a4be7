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
- ``params.interrupt``, when given, is asked while the backend works — llama.cpp's prompt
  evaluation included, which can take many seconds before the first token — and once it returns
  True the stream raises ``GenerationInterrupted`` as soon as the backend can stop.
- Failures raise ``GenerationFailed`` (or ``ModelUnavailable`` when the model cannot load).
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from models.errors import GenerationInterrupted

Role = Literal["system", "user", "assistant"]

INTERRUPT_POLL_S = 0.05  # how often an ``InterruptWatch`` asks ``GenerationParams.interrupt``


class TokenCountMemo:
    """Remembers the token counts of recent texts for a backend's ``count_tokens``.

    Fitting a prompt counts the system prompt, the fixed lines and every passage block, and the
    same ones recur from question to question; counting them again cost llama.cpp ~5 ms per
    question and the OpenAI backend one HTTP call per text, all before the ``sources`` event.
    Bounded (least recently used out) and thread-safe; texts over ``max_chars`` are not kept.
    """

    def __init__(
        self, count: Callable[[str], int], max_entries: int = 2048, max_chars: int = 8_000
    ) -> None:
        self._count = count
        self._max_chars = max_chars
        self._known = functools.lru_cache(maxsize=max_entries)(count)

    def __call__(self, text: str) -> int:
        return self._count(text) if len(text) > self._max_chars else self._known(text)

    def __len__(self) -> int:
        return self._known.cache_info().currsize


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class GenerationParams:
    max_tokens: int = 256
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    # "Stop now?": cheap, thread-safe, may be called from another thread (see the module doc).
    interrupt: Callable[[], bool] | None = field(default=None, compare=False)


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


class InterruptWatch:
    """Asks ``interrupt`` every ``INTERRUPT_POLL_S`` on a thread of its own and calls
    ``on_fire`` once it says stop: for backends whose work blocks where they cannot ask
    themselves (llama.cpp evaluating a prompt, a read from a server that is still thinking).
    ``end()`` when the generation is over; without an ``interrupt`` nothing is started."""

    def __init__(self, interrupt: Callable[[], bool] | None, on_fire: Callable[[], None]) -> None:
        self._done = threading.Event()
        self._fired = False
        if interrupt is not None:
            threading.Thread(
                target=self._watch,
                args=(interrupt, on_fire),
                name="lotse-llm-interrupt",
                daemon=True,
            ).start()

    @property
    def fired(self) -> bool:
        return self._fired

    def _watch(self, interrupt: Callable[[], bool], on_fire: Callable[[], None]) -> None:
        while not self._done.wait(INTERRUPT_POLL_S):
            if interrupt():
                self._fired = True
                on_fire()
                return

    def end(self) -> None:
        self._done.set()


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
            if params.interrupt is not None and params.interrupt():
                raise GenerationInterrupted(f"{self.model_id} was interrupted")
            yield StreamChunk(text=word if i == 0 else " " + word)
        yield StreamChunk(text="", finish_reason=finish, usage=Usage(prompt_tokens, len(words)))
