"""/v1/ask and /v1/chat with the question translated before retrieval
(``LOTSE_RETRIEVAL__TRANSLATE_QUESTION=true``; the scripted model of these tests gives the
translation first, then the answer)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.wiring import Services
from models.llm import FakeLLM
from tests.api.conftest import fake_services, fake_settings
from tests.api.test_chat import chat, names

DIEM_DE = "Wie hoch ist das Tagegeld für einen vollen Tag in Deutschland?"
DIEM_EN = "How high is the per diem for a full day in Germany?"


@pytest.fixture
def translating(tmp_path: Path) -> Iterator[Services]:
    settings = fake_settings(tmp_path)
    settings = settings.model_copy(
        update={"retrieval": settings.retrieval.model_copy(update={"translate_question": True})}
    )
    svc = fake_services(tmp_path, FakeLLM(), settings)
    yield svc
    svc.close()


@pytest.fixture
def client(translating: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=translating)) as test_client:
        yield test_client


def fake(services: Services) -> FakeLLM:
    assert isinstance(services.llm, FakeLLM)
    return services.llm


def test_a_german_question_is_answered_from_the_english_page(
    client: TestClient, translating: Services
) -> None:
    llm = fake(translating)
    llm.queue(DIEM_EN, "Das Tagegeld für einen vollen Tag in Deutschland beträgt 28 Euro.")
    body = client.post("/v1/ask", json={"question": DIEM_DE}).json()
    assert body["abstained"] is False, body
    assert body["answer"].endswith("28 Euro.")
    assert body["sources"][0]["source_id"] == "finance/travel.md"
    translation, answer = llm.prompts
    assert "into English" in translation[0].content and translation[1].content == DIEM_DE
    assert "per diem for a full day in Germany is 28 euros" in answer[-1].content


def test_the_chat_streams_sources_after_the_translation_then_tokens(
    client: TestClient, translating: Services
) -> None:
    llm = fake(translating)
    llm.queue("Wie hoch ist das Tagegeld?", "The per diem is 28 euros.")
    events = chat(client, "What is the per diem in Germany?")
    assert names(events)[0] == "sources" and names(events)[-1] == "done"
    assert set(names(events)[1:-1]) == {"token"}
    assert events[0][1]["sources"][0]["source_id"] == "finance/travel.md"
    assert "ins Deutsche" in llm.prompts[0][0].content  # English question -> German


def test_a_follow_up_is_translated_with_the_question_it_leans_on(
    client: TestClient, translating: Services
) -> None:
    llm = fake(translating)
    llm.queue(DIEM_EN, "Das Tagegeld beträgt 28 Euro.")
    first = chat(client, DIEM_DE)
    cid = first[-1][1]["conversation_id"]
    llm.queue("And for half a day?", "Dazu habe ich in der Wissensbasis nichts gefunden.")
    chat(client, "und für einen halben Tag?", conversation_id=cid)
    asked = llm.prompts[2][1].content  # the third call: the follow-up's translation
    assert asked.startswith(DIEM_DE) and asked.endswith("und für einen halben Tag?")


def test_the_audit_says_the_question_was_translated_but_keeps_no_translation(
    client: TestClient, translating: Services, caplog: pytest.LogCaptureFixture
) -> None:
    llm = fake(translating)
    llm.queue(DIEM_EN, "Das Tagegeld für einen vollen Tag in Deutschland beträgt 28 Euro.")
    caplog.set_level("INFO")
    assert client.post("/v1/ask", json={"question": DIEM_DE}).status_code == 200
    record = translating.audit.records(event="answer")[-1]
    assert record.details["translated_question"] is True
    assert DIEM_EN not in repr(record)  # the translation is the question's text: not metadata
    assert all(
        DIEM_EN not in r.getMessage() and DIEM_DE not in r.getMessage() for r in caplog.records
    )
    llm.queue("", "Das Tagegeld beträgt 28 Euro.")  # the model gave no translation
    client.post("/v1/ask", json={"question": DIEM_DE})
    assert "translated_question" not in translating.audit.records(event="answer")[-1].details


def test_the_translation_is_a_setting_off_by_default(tmp_path: Path, translating: Services) -> None:
    from api.settings import Settings
    from assistant.translation import ModelTranslator

    assert Settings().retrieval.translate_question is False
    assert isinstance(translating.assistant.translator, ModelTranslator)
    assert translating.assistant.translator.llm is translating.llm
    plain = fake_services(tmp_path / "plain", FakeLLM())
    try:
        assert plain.assistant.translator is None
    finally:
        plain.close()
