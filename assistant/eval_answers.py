"""``lotse eval answers``: the whole pipeline — retrieval, the three abstention gates, the model —
judged on questions with known answers.

Each row of a JSONL dataset ``{"id", "question", "language", "answerable", "answers": [acceptable
strings], "source"?, "requires_groups"?}`` is asked of the real ``Assistant`` as an employee with
the row's groups, and measured:

* **correct**: the answer was given (not abstained) and one acceptable string occurs in it, both
  normalised (``assistant.eval_common.normalize``: case, Unicode, umlauts, number formats);
* **f1**: token F1 of the answer against the best acceptable string (0 for an abstention);
* **citation support**: one of the cited passages (the full chunk text, not the snippet)
  contains an acceptable string — the answer is backed by what the user is shown;
* **abstention precision / recall**: an abstention is any of the three gates (weak retrieval,
  the model declining, the grounding check); unanswerable rows are the positive class;
  **false abstention** is the share of answerable rows abstained on;
* **language match**: the answer's detected language is the question's (rows whose answer
  carries no language evidence, such as a bare host name, are counted apart);
* **latency**: p50/p95 of the total time and of the time to the first token.

A report records every reply the model gave, withdrawn ones included, so ``--replay`` can run the
same questions again through the current retrieval and gates with those replies instead of the
model (``ReplayedLLM``): a new grounding threshold is measured in seconds, not in an hour. The
replies are the recorded prompt's; a replay measures the gates, never the model or its latency.

Rates are ``None`` where nothing was measured (no answered row, say), never a misleading 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.answering import Answer, Assistant
from assistant.eval_common import (
    best_f1,
    first_match,
    latency_summary,
    load_cases,
    ratio,
    read_report,
)
from assistant.identity import Caller
from assistant.prompting import PROMPT_VERSION
from knowledge.documents import Chunk
from knowledge.language import detect_language
from models.errors import GenerationFailed, InvalidInput
from models.llm import LLM, ChatMessage, Completion, GenerationParams, StreamChunk, Usage, collect

ChunkLookup = Callable[[Sequence[str]], Sequence[Chunk]]


@dataclass(frozen=True)
class AnswerCase:
    id: str
    question: str
    language: str
    answerable: bool
    answers: tuple[str, ...] = ()
    source: str | None = None
    requires_groups: tuple[str, ...] = ()


def load_answer_cases(path: Path) -> list[AnswerCase]:
    cases = load_cases(path, AnswerCase, what="an answer case")
    for case in cases:
        if case.answerable and not case.answers:
            raise InvalidInput(f"{path}: answerable case {case.id} lists no acceptable answer")
    return cases


@dataclass(frozen=True)
class ItemResult:
    id: str
    language: str
    answerable: bool
    decision: str  # "answered", "abstained" or "error" (the model failed on this question)
    reason: str  # why it abstained, or the error ("" when answered)
    answer: str
    correct: bool
    f1: float
    cited: tuple[str, ...]  # the cited source ids
    citation_supported: bool
    answer_language: str
    latency_ms: float
    first_token_ms: float | None
    # what a gate after generation withdrew, whether it held an acceptable answer, and the
    # reply's grounding support: to tune those gates without running the model again
    withdrawn: str = ""
    withdrawn_correct: bool = False
    support: float | None = None
    # the term rules' claim support and verdict (``GroundingCheck``)
    claim_support: float | None = None
    grounded: bool | None = None
    translation: str = ""  # the question in the other language that retrieval also used

    @property
    def abstained(self) -> bool:
        return self.decision == "abstained"

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "language": self.language,
            "answerable": self.answerable,
            "decision": self.decision,
            "reason": self.reason,
            "answer": self.answer,
            "correct": self.correct,
            "f1": round(self.f1, 4),
            "cited": list(self.cited),
            "citation_supported": self.citation_supported,
            "answer_language": self.answer_language,
            "latency_ms": round(self.latency_ms, 1),
            "first_token_ms": None
            if self.first_token_ms is None
            else round(self.first_token_ms, 1),
            "withdrawn": self.withdrawn,
            "withdrawn_correct": self.withdrawn_correct,
            "support": _rounded(self.support),
            "claim_support": _rounded(self.claim_support),
            "grounded": self.grounded,
            "translation": self.translation,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True)
class AnswersReport:
    dataset: str
    model: str
    items: tuple[ItemResult, ...]
    prompt_version: str = PROMPT_VERSION
    settings: dict[str, object] = field(default_factory=dict)

    def summary(self, items: Sequence[ItemResult]) -> dict[str, object]:
        answerable = [i for i in items if i.answerable]
        unanswerable = [i for i in items if not i.answerable]
        answered = [i for i in answerable if i.decision == "answered"]
        abstained = [i for i in items if i.abstained]
        spoken = [i for i in items if i.decision == "answered" and i.answer_language != "und"]
        true_abstentions = sum(1 for i in unanswerable if i.abstained)
        return {
            "n": len(items),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "correct": ratio(sum(i.correct for i in answerable), len(answerable)),
            "f1": round(sum(i.f1 for i in answerable) / len(answerable), 4) if answerable else None,
            "citation_support": ratio(sum(i.citation_supported for i in answered), len(answered)),
            "abstention_precision": ratio(true_abstentions, len(abstained)),
            "abstention_recall": ratio(true_abstentions, len(unanswerable)),
            "false_abstention_rate": ratio(
                sum(1 for i in answerable if i.abstained), len(answerable)
            ),
            "language_match": ratio(
                sum(i.answer_language == i.language for i in spoken), len(spoken)
            ),
            "language_undetermined": sum(
                1 for i in items if i.decision == "answered" and i.answer_language == "und"
            ),
            "errors": sum(1 for i in items if i.decision == "error"),
            "abstained_by": {
                reason: sum(1 for i in abstained if i.reason == reason)
                for reason in sorted({i.reason for i in abstained})
            },
        }

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "dataset": self.dataset,
            "model": self.model,
            "prompt_version": self.prompt_version,
            "settings": self.settings,
            **self.summary(self.items),
            "latency_ms": {
                "total": latency_summary([i.latency_ms for i in self.items]),
                "first_token": latency_summary(
                    [i.first_token_ms for i in self.items if i.first_token_ms is not None]
                ),
            },
            "per_language": {
                lang: self.summary([i for i in self.items if i.language == lang])
                for lang in sorted({i.language for i in self.items})
            },
            "per_item": [i.as_dict() for i in self.items],
        }
        return out


def judge(case: AnswerCase, answer: Answer, lookup: ChunkLookup) -> ItemResult:
    """One case's measures from the assistant's ``Answer``."""
    abstained = answer.abstained
    text = answer.answer
    correct = bool(case.answerable and not abstained and first_match(case.answers, text))
    f1 = best_f1(text, case.answers) if case.answerable and not abstained else 0.0
    supported = False
    if case.answerable and not abstained and answer.sources:
        passages = lookup([s.chunk_id for s in answer.sources])
        supported = any(first_match(case.answers, p.text) for p in passages)
    return ItemResult(
        id=case.id,
        language=case.language,
        answerable=case.answerable,
        decision="abstained" if abstained else "answered",
        reason=answer.reason if abstained else "",
        answer=text,
        correct=correct,
        f1=f1,
        cited=tuple(dict.fromkeys(s.source_id for s in answer.sources)),
        citation_supported=supported,
        answer_language=detect_language(text, default="und"),
        latency_ms=answer.timings.total_ms,
        first_token_ms=answer.timings.first_token_ms,
        withdrawn=answer.withdrawn,
        withdrawn_correct=bool(
            case.answerable and answer.withdrawn and first_match(case.answers, answer.withdrawn)
        ),
        support=answer.support,
        claim_support=answer.claim_support,
        grounded=answer.grounded,
        translation=answer.translation,
    )


def failed(case: AnswerCase, exc: GenerationFailed, latency_ms: float) -> ItemResult:
    """A question the model failed on (a timeout, say): recorded, and the run goes on."""
    return ItemResult(
        id=case.id,
        language=case.language,
        answerable=case.answerable,
        decision="error",
        reason=exc.message,
        answer="",
        correct=False,
        f1=0.0,
        cited=(),
        citation_supported=False,
        answer_language="und",
        latency_ms=latency_ms,
        first_token_ms=None,
    )


@dataclass(frozen=True)
class RecordedRun:
    """What a saved ``lotse eval answers`` report holds for a replay: each question's reply."""

    model: str
    prompt_version: str
    replies: Mapping[str, str]  # case id -> the model's reply (withdrawn ones included)
    withheld: frozenset[str]  # ids that never reached the model (weak retrieval, an error)
    translations: Mapping[str, str] = field(default_factory=dict)  # case id -> translation


def load_recorded_run(path: Path) -> RecordedRun:
    def parse(report: Any) -> RecordedRun:
        replies: dict[str, str] = {}
        withheld: set[str] = set()
        translations: dict[str, str] = {}
        for item in report["per_item"]:
            if item.get("translation"):
                translations[item["id"]] = str(item["translation"])
            reply = item["answer"] if item["decision"] == "answered" else item["withdrawn"]
            if reply:
                replies[item["id"]] = reply
            else:
                withheld.add(item["id"])
        return RecordedRun(
            str(report["model"]),
            str(report["prompt_version"]),
            replies,
            frozenset(withheld),
            translations,
        )

    return read_report(
        path,
        parse,
        needs="lotse eval answers --out (it needs per_item with id, decision, answer and "
        "withdrawn)",
    )


class ReplayedLLM:
    """An ``LLM`` that gives the recorded reply of the case being asked (``expect``).

    Tokens are counted by ``tokenizer``, the recorded run's model, so the prompt holds the same
    passages as it did then. A case whose question never reached the model in the recorded run
    (weak retrieval) has no reply to give: asking it fails with ``GenerationFailed``, and the
    harness records an error instead of inventing an answer.
    """

    def __init__(self, run: RecordedRun, tokenizer: LLM) -> None:
        self.run = run
        self.tokenizer = tokenizer
        self.model_id = f"replay of {run.model}"
        self.context_size = tokenizer.context_size
        self._case = ""

    def expect(self, case_id: str) -> None:
        self._case = case_id

    def count_tokens(self, text: str) -> int:
        return self.tokenizer.count_tokens(text)

    def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        return collect(self.stream(messages, params))

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Iterator[StreamChunk]:
        reply = self.run.replies.get(self._case)
        if reply is None:
            why = (
                "it was withheld before the model in the recorded run, or failed there"
                if self._case in self.run.withheld
                else "the recorded run did not ask it"
            )
            raise GenerationFailed(f"no recorded reply for {self._case}: {why}")
        return iter(
            [StreamChunk(text=reply), StreamChunk(text="", finish_reason="stop", usage=Usage(0, 0))]
        )


def evaluate_answers(
    assistant: Assistant,
    cases: Sequence[AnswerCase],
    *,
    lookup: ChunkLookup,
    dataset: str = "",
    progress: Callable[[int, int, ItemResult], None] | None = None,
    user_id: str = "eval-answers",
) -> AnswersReport:
    """Ask every case in order (one at a time: the model is the bottleneck anyway). With a
    ``ReplayedLLM`` each case gets its recorded reply."""
    replay = assistant.llm if isinstance(assistant.llm, ReplayedLLM) else None
    items = []
    for number, case in enumerate(cases, start=1):
        if replay is not None:
            replay.expect(case.id)
        caller = Caller(user_id, "employee", case.requires_groups)
        started = time.perf_counter()
        try:
            item = judge(case, assistant.ask(case.question, caller), lookup)
        except GenerationFailed as exc:
            item = failed(case, exc, (time.perf_counter() - started) * 1000)
        items.append(item)
        if progress is not None:
            progress(number, len(cases), item)
    return AnswersReport(
        dataset=dataset,
        model=assistant.llm.model_id,
        items=tuple(items),
        prompt_version=replay.run.prompt_version if replay else PROMPT_VERSION,
        settings={
            "context_k": assistant.config.context_k,
            "max_tokens": assistant.config.max_tokens,
            "temperature": assistant.config.temperature,
            "min_evidence": assistant.abstention.min_score,
            "lexical_weight": assistant.abstention.lexical_weight,
            "min_answer_support": assistant.grounding.min_support,
            "min_claim_support": assistant.grounding.min_claim_support,
            "subject_support": assistant.grounding.subject_support,
            "other_language_numbers": assistant.grounding.other_language_numbers,
            "fusion": assistant.retriever.config.fusion,
            "latent_weight": assistant.retriever.config.latent_weight,
            "translate_question": assistant.translator is not None,
            "abstain_unknown_names": assistant.abstention.names,
            "translation_weight": assistant.retriever.config.translation_weight,
        },
    )
