"""The question in the other language, by Lotse's default model, over the real sample index:
the translation is in the other language, and with it the page in the other language comes
back among the passages the model reads."""

from __future__ import annotations

from typing import Any

import pytest

from api.wiring import Knowledge
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
