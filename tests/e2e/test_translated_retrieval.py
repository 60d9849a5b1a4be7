"""The question in the other language, by Lotse's default model, over the real sample index:
the translation is in the other language, and with it the page in the other language comes
back among the passages the model reads; a question naming what no page mentions stops after
its translation."""

from __future__ import annotations

from typing import Any

import pytest

from api.wiring import Knowledge, build_assistant
from assistant.abstention import AbstentionRule, kept_names
from assistant.identity import Caller
from assistant.translation import OTHER_LANGUAGE, ModelTranslator
from knowledge.language import detect_language
from models.llm import LLM
from tests.e2e.conftest import SAMPLE_EVAL, load_jsonl

pytestmark = pytest.mark.e2e

EVERYONE = ("everyone",)


# Retrieval questions whose page is in the other language and is not among the four passages
# the model reads when the question alone is searched (docs/evaluation.md#translated-questions).
CROSS_IDS = ("r020", "r032", "r070", "r008", "r044", "r139")
CROSS = [c for c in load_jsonl(SAMPLE_EVAL / "retrieval.jsonl") if c["id"] in CROSS_IDS]


def test_the_cases_ask_across_languages_both_ways() -> None:
    assert len(CROSS) == len(CROSS_IDS)
    assert [c["language"] for c in CROSS] == ["en", "de", "de", "en", "de", "en"]


@pytest.mark.parametrize("case", CROSS, ids=[c["id"] for c in CROSS])
def test_a_question_finds_its_page_in_the_other_language(
    sample_knowledge: Knowledge, default_llm: LLM, case: dict[str, Any]
) -> None:
    translation = ModelTranslator(default_llm).translate(case["question"], case["language"])
    assert translation is not None
    target = OTHER_LANGUAGE[case["language"]]
    assert detect_language(translation, default="und") == target, translation
    retrieval = sample_knowledge.retriever.retrieve(
        case["question"], EVERYONE, translation=translation
    )
    top = list(dict.fromkeys(r.chunk.source_id for r in retrieval.results[:4]))
    assert case["relevant"][0] in top, (case["question"], translation, top)


# Questions that name a product: one no page of the sample mentions (the unanswerable
# questions of the eval sets), and ones the pages do mention, which must go on to the model.
UNKNOWN = [
    ("How do I install Slack on my laptop?", "en", ["slack"]),
    ("Wie installiere ich Slack auf meinem Firmenlaptop?", "de", ["slack"]),
    ("Which AutoCAD version is installed on the CAD laptops?", "en", ["autocad"]),
]
KNOWN = [
    ("Which connection group should a regular employee pick in AnyConnect?", "en"),
    ("Welche Serveradresse muss ich im Cisco-Client für die Fernverbindung eintragen?", "de"),
]


@pytest.mark.parametrize(("question", "language", "missing"), UNKNOWN, ids=["en", "de", "en2"])
def test_a_name_no_page_mentions_is_found_missing(
    sample_knowledge: Knowledge, default_llm: LLM, question: str, language: str, missing: list[str]
) -> None:
    translation = ModelTranslator(default_llm).translate(question, language)
    assert translation is not None
    found = AbstentionRule().missing_names(
        question,
        translation,
        language,
        lambda word: sample_knowledge.retriever.contains(word, EVERYONE),
    )
    assert found == missing, translation


@pytest.mark.parametrize(("question", "language"), KNOWN, ids=["en", "de"])
def test_a_name_the_pages_mention_is_not_missing(
    sample_knowledge: Knowledge, default_llm: LLM, question: str, language: str
) -> None:
    translation = ModelTranslator(default_llm).translate(question, language)
    assert translation is not None
    names = kept_names(question, translation, language)
    assert names, translation  # the name was recognised ...
    assert all(sample_knowledge.retriever.contains(n, EVERYONE) for n in names)  # ... and found


def test_the_assistant_abstains_on_the_name_without_generating_an_answer(
    sample_knowledge: Knowledge, default_llm: LLM
) -> None:
    settings = sample_knowledge.settings.model_copy(
        update={
            "retrieval": sample_knowledge.settings.retrieval.model_copy(
                update={"translate_question": True}
            )
        }
    )
    assistant = build_assistant(settings, sample_knowledge, default_llm)
    answer = assistant.ask(UNKNOWN[0][0], Caller("e2e-employee", "employee"))
    assert answer.abstained and answer.reason == "unknown_name", answer
    assert answer.answer == "I could not find this in the knowledge base."
    assert answer.sources == () and "slack" in answer.translation.casefold(), answer.translation
