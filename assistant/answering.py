"""Answering a question: retrieve -> abstain? -> (translate -> abstain on a name no page
mentions? -> retrieve again) -> prompt -> stream -> cite.

``Assistant.stream`` yields, in this order: one ``SourcesEvent`` as soon as retrieval is done
(before any generation; with a ``translator``, after the question's translation and the
retrieval with it, in the model's turn), ``TokenEvent``s, and one ``DoneEvent`` with the final
``Answer``.
Sources are attached by the application from the chunks that went into the prompt, never parsed
from the model's text (DESIGN decision 6). Closing the iterator early cancels generation and
frees the model.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from assistant.abstention import (
    ANSWER_LANGUAGES,
    AbstentionRule,
    GroundingCheck,
    abstain_message,
    could_become_marker,
    is_decline,
    off_language,
)
from assistant.generation import GenerationGate, GenerationLimit, QueuePlace
from assistant.identity import Caller
from assistant.prompting import PROMPT_VERSION, BuiltPrompt, build_answer_prompt
from assistant.retrieval import HybridRetriever, RankedChunk, Retrieval
from assistant.translation import Translator
from knowledge.language import detect_language
from knowledge.lexical import index_text
from models.errors import GenerationFailed
from models.llm import LLM, GenerationParams

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnswerConfig:
    context_k: int = 4
    max_tokens: int = 320
    temperature: float = 0.1
    default_language: str = "de"
    generation_timeout_s: float = 120.0
    snippet_chars: int = 240
    system_suffix: str = ""  # an extra system-prompt line (the injection suite's canary)
    language_gate: bool = True  # withdraw a reply not in the question's language


@dataclass(frozen=True)
class SourceRef:
    source_id: str
    title: str
    heading: str
    snippet: str
    score: float
    chunk_id: str
    content_hash: str
    source: str = "default"

    def as_dict(self) -> dict[str, object]:
        return {
            "source_id": self.source_id,
            "title": self.title,
            "heading": self.heading,
            "snippet": self.snippet,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class Timings:
    retrieval_ms: float = 0.0
    first_token_ms: float | None = None
    total_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    queue_ms: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "retrieval_ms": round(self.retrieval_ms, 1),
            "first_token_ms": None
            if self.first_token_ms is None
            else round(self.first_token_ms, 1),
            "total_ms": round(self.total_ms, 1),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


@dataclass(frozen=True)
class Answer:
    answer_id: str
    question: str
    answer: str
    abstained: bool
    sources: tuple[SourceRef, ...]
    model: str
    language: str
    timings: Timings
    reason: str = ""  # why: no_results, weak_retrieval, model_declined, ungrounded, wrong_language
    prompt_version: str = PROMPT_VERSION
    chunk_ids: tuple[str, ...] = ()
    ai_generated: bool = True
    # The model's reply when a gate after generation withdrew it, and the reply's grounding as
    # the term rules measured and judged it: for the evaluation harness (tuning those gates),
    # never shown or stored.
    withdrawn: str = ""
    support: float | None = None
    claim_support: float | None = None
    grounded: bool | None = None
    translation: str = ""  # the question in the other language that retrieval also used

    def as_dict(self) -> dict[str, object]:
        """The public shape of ``lotse ask --json`` and ``POST /v1/ask``."""
        return {
            "answer": self.answer,
            "abstained": self.abstained,
            "sources": [s.as_dict() for s in self.sources],
            "model": self.model,
            "ai_generated": self.ai_generated,
            "timings": self.timings.as_dict(),
        }


@dataclass(frozen=True)
class SourcesEvent:
    sources: tuple[SourceRef, ...]
    language: str


@dataclass(frozen=True)
class TokenEvent:
    text: str


@dataclass(frozen=True)
class DoneEvent:
    answer: Answer


AnswerEvent = SourcesEvent | TokenEvent | DoneEvent

_SPACE = re.compile(r"\s+")


def snippet(text: str, limit: int) -> str:
    flat = _SPACE.sub(" ", text).strip()
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + " …"


def source_refs(results: list[RankedChunk], snippet_chars: int) -> tuple[SourceRef, ...]:
    refs = []
    for r in results:
        score = r.dense_score if r.dense_score is not None else r.score
        c = r.chunk
        refs.append(
            SourceRef(
                source_id=c.source_id,
                title=c.title,
                heading=c.heading,
                snippet=snippet(c.text, snippet_chars),
                score=score,
                chunk_id=c.chunk_id,
                content_hash=c.content_hash,
                source=c.source,
            )
        )
    return tuple(refs)


@dataclass
class _Run:
    started: float = field(default_factory=time.perf_counter)
    first_token: float | None = None

    def ms(self, at: float | None = None) -> float:
        return ((at or time.perf_counter()) - self.started) * 1000


class Assistant:
    def __init__(
        self,
        *,
        retriever: HybridRetriever,
        llm: LLM,
        gate: GenerationGate | None = None,
        abstention: AbstentionRule | None = None,
        grounding: GroundingCheck | None = None,
        config: AnswerConfig | None = None,
        translator: Translator | None = None,
    ) -> None:
        """``translator``: retrieval also searches with the question in the other language
        (``assistant.translation``); it runs in the model's turn, before the answer."""
        self.retriever = retriever
        self.translator = translator
        self.llm = llm
        self.gate = gate or GenerationGate()
        self.abstention = abstention or AbstentionRule()
        self.grounding = grounding or GroundingCheck()
        self.config = config or AnswerConfig()

    def language_of(self, question: str) -> str:
        return detect_language(question, default=self.config.default_language)

    def ask(
        self,
        question: str,
        caller: Caller,
        *,
        search_query: str | None = None,
        history: Sequence[tuple[str, str]] = (),
    ) -> Answer:
        for event in self.stream(question, caller, search_query=search_query, history=history):
            if isinstance(event, DoneEvent):
                return event.answer
        raise GenerationFailed("the answer stream ended without a result")

    def _abstain(
        self,
        run: _Run,
        question: str,
        language: str,
        retrieval: Retrieval,
        reason: str,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        chunk_ids: tuple[str, ...] = (),
    ) -> Answer:
        return Answer(
            answer_id=uuid.uuid4().hex,
            question=question,
            answer=abstain_message(language),
            abstained=True,
            sources=(),
            model=self.llm.model_id,
            language=language,
            timings=Timings(
                retrieval_ms=retrieval.ms,
                first_token_ms=None,
                total_ms=run.ms(),
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
            ),
            reason=reason,
            chunk_ids=chunk_ids,
        )

    def _prompt(
        self,
        question: str,
        language: str,
        retrieval: Retrieval,
        history: Sequence[tuple[str, str]],
    ) -> tuple[BuiltPrompt, tuple[SourceRef, ...]]:
        """The prompt from the best passages that fit, and the sources it cites."""
        prompt = build_answer_prompt(
            question,
            [r.chunk for r in retrieval.results[: self.config.context_k]],
            language=language,
            count_tokens=self.llm.count_tokens,
            budget_tokens=self.llm.context_size - self.config.max_tokens - 16,
            history=history,
            system_suffix=self.config.system_suffix,
        )
        used = {c.chunk_id for c in prompt.chunks}
        sources = source_refs(
            [r for r in retrieval.results if r.chunk.chunk_id in used], self.config.snippet_chars
        )
        return prompt, sources

    def stream(
        self,
        question: str,
        caller: Caller,
        *,
        search_query: str | None = None,
        history: Sequence[tuple[str, str]] = (),
        cancelled: threading.Event | None = None,
    ) -> Iterator[AnswerEvent]:
        """``search_query`` (default: the question) is what retrieval sees; ``history`` holds
        earlier ``(role, text)`` turns for the prompt (see ``assistant.condense``). Setting
        ``cancelled`` (the client went away) ends a question still waiting for the model, or
        its generation, with ``ClientGone``."""
        run = _Run()
        # the place in the queue is taken before retrieval: a burst cannot overfill it
        with self.gate.place(cancelled) as place:
            yield from self._stream(run, place, question, caller, search_query, history, cancelled)

    def _stream(
        self,
        run: _Run,
        place: QueuePlace,
        question: str,
        caller: Caller,
        search_query: str | None,
        history: Sequence[tuple[str, str]],
        cancelled: threading.Event | None,
    ) -> Iterator[AnswerEvent]:
        language = self.language_of(question)
        query = search_query or question
        # the gate judges the question as asked: an unanswerable one abstains at once, without
        # waiting for the model (the translation needs it)
        retrieval = self.retriever.retrieve(query, caller.acl_groups)
        if self.abstention.weak_retrieval(retrieval):
            yield SourcesEvent((), language)
            reason = "no_results" if not retrieval.results else "weak_retrieval"
            yield DoneEvent(self._abstain(run, question, language, retrieval, reason))
            return
        translation: str | None = None
        if self.translator is None:
            prompt, sources = self._prompt(question, language, retrieval, history)
            yield SourcesEvent(sources, language)
        parts: list[str] = []
        held: list[str] = []
        with place.turn() as waited:
            limit = GenerationLimit(self.config.generation_timeout_s, cancelled)
            if self.translator is not None:
                translator = self.translator
                translation = limit.call(
                    lambda: translator.translate(query, language, interrupt=limit.reached)
                )
                missing = self.abstention.missing_names(
                    query,
                    translation or "",
                    language,
                    lambda word: self.retriever.contains(word, caller.acl_groups),
                )
                if missing:
                    yield SourcesEvent((), language)
                    answer = self._abstain(run, question, language, retrieval, "unknown_name")
                    answer = replace(answer, translation=translation or "")
                    logger.info(
                        "abstained language=%s reason=unknown_name names=%d total_ms=%.1f",
                        language,
                        len(missing),
                        answer.timings.total_ms,
                    )
                    yield DoneEvent(answer)
                    return
                if translation:
                    retrieval = self.retriever.retrieve(
                        query, caller.acl_groups, translation=translation
                    )
                prompt, sources = self._prompt(question, language, retrieval, history)
                yield SourcesEvent(sources, language)
            usage_prompt, usage_completion = prompt.prompt_tokens, 0
            params = GenerationParams(
                max_tokens=self.config.max_tokens,
                temperature=self.config.temperature,
                interrupt=limit.reached,  # also stops a long prompt evaluation
            )
            stream = self.llm.stream(prompt.messages, params)
            try:
                for chunk in limit.guard(stream):
                    if chunk.usage is not None:
                        usage_prompt = chunk.usage.prompt_tokens
                        usage_completion = chunk.usage.completion_tokens
                    if not chunk.text:
                        continue
                    if run.first_token is None:
                        run.first_token = time.perf_counter()
                    parts.append(chunk.text)
                    # hold tokens back while the reply could still be the NOT_FOUND marker
                    held.append(chunk.text)
                    if could_become_marker("".join(parts)):
                        continue
                    for text in held:
                        yield TokenEvent(text)
                    held.clear()
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
        reply = "".join(parts).strip()
        reason = ""
        # measured once: it decides the gate and is kept on the Answer for the harness
        other = any(
            c.language in ANSWER_LANGUAGES and c.language != language for c in prompt.chunks
        )
        grounding = self.grounding.measure(
            question, reply, [index_text(c) for c in prompt.chunks], other_language=other
        )
        grounded = not self.grounding.withdraws(grounding)
        if is_decline(reply):
            reason = "model_declined"
        elif not grounded:
            reason = "ungrounded"
        elif self.config.language_gate and off_language(
            reply, language
        ):  # e.g. a passage told it to switch
            reason = "wrong_language"
        if reason:
            answer = self._abstain(
                run,
                question,
                language,
                retrieval,
                reason,
                usage_prompt,
                usage_completion,
                chunk_ids=tuple(c.chunk_id for c in prompt.chunks),
            )
            answer = replace(
                answer,
                withdrawn=reply,
                support=grounding.support,
                claim_support=grounding.claim_support,
                grounded=grounded,
                translation=translation or "",
            )
            logger.info(
                "abstained language=%s reason=%s retrieval_ms=%.1f total_ms=%.1f",
                language,
                reason,
                retrieval.ms,
                answer.timings.total_ms,
            )
            yield DoneEvent(answer)
            return
        for text in held:
            yield TokenEvent(text)
        answer = Answer(
            answer_id=uuid.uuid4().hex,
            question=question,
            answer=reply,
            abstained=False,
            sources=sources,
            model=self.llm.model_id,
            language=language,
            timings=Timings(
                retrieval_ms=retrieval.ms,
                first_token_ms=run.ms(run.first_token) if run.first_token else None,
                total_ms=run.ms(),
                prompt_tokens=usage_prompt,
                completion_tokens=usage_completion,
                queue_ms=waited * 1000,
            ),
            chunk_ids=tuple(c.chunk_id for c in prompt.chunks),
            support=grounding.support,
            claim_support=grounding.claim_support,
            grounded=grounded,
            translation=translation or "",
        )
        logger.info(
            "answered language=%s abstained=%s sources=%d retrieval_ms=%.1f total_ms=%.1f",
            language,
            answer.abstained,
            len(sources),
            retrieval.ms,
            answer.timings.total_ms,
        )
        yield DoneEvent(answer)
