"""Questions with known answers over the sample knowledge base, asked of the real small model."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import pytest

from assistant.answering import Assistant
from assistant.identity import Caller
from tests.e2e.conftest import SAMPLE_EVAL, load_jsonl

pytestmark = pytest.mark.e2e

CASES = load_jsonl(SAMPLE_EVAL / "e2e.jsonl")
ANSWERABLE = [c for c in CASES if c["answerable"]]
UNANSWERABLE = [c for c in CASES if not c["answerable"]]
EMPLOYEE = Caller("e2e-employee", "employee")


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"(?<=\d)[.,](?=\d{3}\b)", "", text)  # 1.000 / 1,000 -> 1000
    return re.sub(r"\s+", " ", text)


def test_the_dataset_is_big_enough() -> None:
    languages = [c["language"] for c in ANSWERABLE]
    assert languages.count("de") >= 5 and languages.count("en") >= 5
    assert len(UNANSWERABLE) >= 5


@pytest.mark.parametrize("case", ANSWERABLE, ids=[c["id"] for c in ANSWERABLE])
def test_answerable_question_states_the_fact_and_cites_the_document(
    sample_assistant: Assistant, case: dict[str, Any]
) -> None:
    answer = sample_assistant.ask(case["question"], EMPLOYEE)
    assert not answer.abstained, (case["question"], answer.reason)
    assert any(normalize(a) in normalize(answer.answer) for a in case["answers"]), (
        case["question"],
        answer.answer,
    )
    assert case["source"] in [s.source_id for s in answer.sources]
    assert answer.language == case["language"]
    assert answer.ai_generated is True


@pytest.mark.parametrize("case", UNANSWERABLE, ids=[c["id"] for c in UNANSWERABLE])
def test_unanswerable_question_abstains(sample_assistant: Assistant, case: dict[str, Any]) -> None:
    answer = sample_assistant.ask(case["question"], EMPLOYEE)
    assert answer.abstained, (case["question"], answer.answer)
    expected = {
        "de": "Dazu habe ich in der Wissensbasis nichts gefunden.",
        "en": "I could not find this in the knowledge base.",
    }[case["language"]]
    assert answer.answer == expected
    assert answer.sources == ()
