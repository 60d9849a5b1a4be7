"""The question in the other language, for retrieval across languages.

Half of the dev questions ask in one language about a page written in the other ("Wie lange
gilt ein Gastzugang?" for an English page). The keyword index cannot meet such a page, and
the multilingual embedder meets it less well than a page in the question's language
(docs/evaluation.md#translated-questions). ``ModelTranslator`` asks the answering model for
the question in the other language (German <-> English) before retrieval, and the retriever
searches with both: the vector index with the mean of the two embeddings, the keyword index
with both texts (``HybridRetriever.retrieve(..., translation=...)``).

Contract of a ``Translator``: ``translate(text, language)`` returns ``text`` in the other
answer language, one line, or ``None`` when there is none to give (the language is not German
or English, the model echoed the text or gave nothing). Never raises for a bad reply: retrieval
then runs with the question alone. The model's own failures (``GenerationFailed``) propagate,
as they would for the answer a moment later.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Protocol

from models.llm import LLM, ChatMessage, GenerationParams

logger = logging.getLogger(__name__)

_INSTRUCTIONS = {
    "en": "Translate the user's question into English. Reply with the translation only, "
    "no explanation.",
    "de": "Übersetze die Frage des Nutzers ins Deutsche. Antworte nur mit der Übersetzung, "
    "ohne Erklärung.",
}
OTHER_LANGUAGE = {"de": "en", "en": "de"}

# A question longer than this is cut for the translation (the keyword search still gets it
# whole): a pasted log or e-mail would otherwise cost seconds of model time.
MAX_SOURCE_CHARS = 400
_LEAD = re.compile(r"^(?:translation|übersetzung)\s*:\s*", re.IGNORECASE)
_QUOTES = "\"'“”„«»‚‘’"


class Translator(Protocol):
    def translate(
        self, text: str, language: str, *, interrupt: Callable[[], bool] | None = None
    ) -> str | None: ...


def clean_translation(reply: str, source: str) -> str | None:
    """The first non-empty line of ``reply`` without a "Translation:" lead or quotes; ``None``
    when nothing is left or it repeats ``source``."""
    line = next((ln.strip() for ln in reply.splitlines() if ln.strip()), "")
    line = _LEAD.sub("", line).strip().strip(_QUOTES).strip()
    if not line or line.casefold() == source.strip().casefold():
        return None
    return line


class ModelTranslator:
    """Translates with the answering model: a short, greedy generation (about 1.4 s with the
    1.5B model on 2 cores). The caller holds the model's turn (``GenerationGate``)."""

    def __init__(self, llm: LLM, *, max_tokens: int = 96) -> None:
        self.llm = llm
        self.max_tokens = max_tokens

    def translate(
        self, text: str, language: str, *, interrupt: Callable[[], bool] | None = None
    ) -> str | None:
        target = OTHER_LANGUAGE.get(language)
        source = " ".join(text.split())[:MAX_SOURCE_CHARS]
        if target is None or not source:
            return None
        messages = [ChatMessage("system", _INSTRUCTIONS[target]), ChatMessage("user", source)]
        # a translation is about as long as its source; the cap stops a model that answers
        limit = min(self.max_tokens, self.llm.count_tokens(source) * 2 + 16)
        params = GenerationParams(max_tokens=limit, temperature=0.0, interrupt=interrupt)
        translation = clean_translation(self.llm.complete(messages, params).text, source)
        if translation is None:
            logger.info("translation_empty language=%s target=%s", language, target)
        return translation


class RecordedTranslations:
    """The translations a recorded ``lotse eval answers`` run used (its replay): by question."""

    def __init__(self, by_question: Mapping[str, str]) -> None:
        self._by_question = dict(by_question)

    def translate(
        self, text: str, language: str, *, interrupt: Callable[[], bool] | None = None
    ) -> str | None:
        return self._by_question.get(text)
