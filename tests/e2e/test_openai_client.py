"""The official ``openai`` client against Lotse served by a real uvicorn on 127.0.0.1.

One server runs on the fakes (protocol shapes, errors); one on the real default (1.5B) LLM with
e5 over a tiny corpus (a grounded answer arrives through the client, streamed and not).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from api.app import create_app
from api.settings import Settings
from api.wiring import Services, build_assistant, build_services, open_knowledge
from models.embedder import Embedder
from models.errors import GenerationFailed
from models.llm import LLM, ChatMessage, FakeLLM, GenerationParams, StreamChunk
from tests.conftest import DEFAULT_LLM
from tests.servers import lotse_server

VPN_DE = "Wie verbinde ich mich von zu Hause mit dem VPN?"
VACATION_EN = "How many vacation days do employees get per year?"

TINY_CORPUS = {
    "it/vpn.md": "# VPN\n\n## Verbindung von zu Hause\n\nDie Serveradresse des VPN lautet "
    "vpn.nordwind.de. Starten Sie Cisco AnyConnect, geben Sie vpn.nordwind.de ein und melden Sie "
    "sich mit Ihrem Windows-Passwort an.\n",
    "hr/vacation.md": "# Vacation\n\n## Vacation days\n\nEvery employee gets 30 vacation days "
    "per year. Request them in the HR portal at least two weeks ahead.\n",
    "facility/parking.md": "# Parken\n\n## Parkplätze\n\nMitarbeiter parken auf dem Hof hinter "
    "Halle 3. Gäste melden sich am Empfang.\n",
}


def client_for(base_url: str) -> OpenAI:
    return OpenAI(base_url=f"{base_url}/v1", api_key="not-needed", max_retries=0, timeout=180)


def write_corpus(folder: Path) -> Path:
    for name, text in TINY_CORPUS.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


class FailingAfterOneWord(FakeLLM):
    """Streams one word, then fails like a model server that went away."""

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Iterator[StreamChunk]:
        yield StreamChunk(text="Starten")
        raise GenerationFailed("the LLM server at http://127.0.0.1:9 broke")


# --- fake services -----------------------------------------------------------------------------


@pytest.fixture
def fake_services(tmp_path: Path) -> Iterator[Services]:
    settings = Settings(
        data_dir=tmp_path / "data",
        models={"llm_backend": "fake", "embedder": "fake"},
        knowledge={"store": "memory"},
        retrieval={"min_evidence": -1.0, "min_answer_support": 0.0},
    )
    services = build_services(settings, llm=FakeLLM(model_id="lotse-fake"))
    services.knowledge.indexer.ingest(write_corpus(tmp_path / "docs"), source="tiny")
    yield services
    services.close()


def test_openai_client_against_lotse_with_fakes(fake_services: Services) -> None:
    llm = fake_services.llm
    assert isinstance(llm, FakeLLM)
    llm.queue(
        "Starten Sie Cisco AnyConnect [1].",
        "Every employee gets 30 vacation days per year [1].",
        "NOT_FOUND",
    )
    with lotse_server(create_app(services=fake_services)) as url:
        client = client_for(url)

        assert [m.id for m in client.models.list()] == ["lotse-fake"]

        completion = client.chat.completions.create(
            model="lotse-fake", messages=[{"role": "user", "content": VPN_DE}]
        )
        assert completion.object == "chat.completion"
        assert completion.choices[0].message.role == "assistant"
        assert completion.choices[0].message.content == "Starten Sie Cisco AnyConnect [1]."
        assert completion.choices[0].finish_reason == "stop"
        assert completion.usage is not None and completion.usage.completion_tokens == 5
        extras = completion.model_extra or {}
        assert extras["lotse"]["abstained"] is False
        assert extras["lotse"]["ai_generated"] is True
        assert extras["lotse"]["sources"][0]["source_id"] == "it/vpn.md"

        stream = client.chat.completions.create(
            model="lotse-fake",
            messages=[{"role": "user", "content": VACATION_EN}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "Every employee gets 30 vacation days per year [1]."
        finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
        assert [c.choices[0].finish_reason for c in finals] == ["stop"]
        lotse = (finals[0].model_extra or {})["lotse"]
        assert lotse["sources"][0]["source_id"] == "hr/vacation.md"
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 9

        abstained = client.chat.completions.create(
            model="lotse-fake", messages=[{"role": "user", "content": "Wo parke ich mein Boot?"}]
        )
        assert abstained.choices[0].message.content == (
            "Dazu habe ich in der Wissensbasis nichts gefunden."
        )
        assert (abstained.model_extra or {})["lotse"]["abstained"] is True

        with pytest.raises(openai.NotFoundError) as unknown:
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": VPN_DE}]
            )
        assert unknown.value.status_code == 404
        assert "'gpt-4o' is not served here; available: lotse-fake" in unknown.value.message

        with pytest.raises(openai.UnprocessableEntityError) as invalid:
            client.chat.completions.create(
                model="lotse-fake",
                messages=[
                    {"role": "user", "content": VPN_DE},
                    {"role": "assistant", "content": "Mit AnyConnect."},
                ],
            )
        assert "the last message must have role 'user'" in invalid.value.message

        fake_services.assistant.llm = FailingAfterOneWord(model_id="lotse-fake")
        broken = client.chat.completions.create(
            model="lotse-fake", messages=[{"role": "user", "content": VPN_DE}], stream=True
        )
        first = next(iter(broken))
        assert first.choices[0].delta.content == "Starten"
        with pytest.raises(openai.APIError, match=r"the LLM server at http://127\.0\.0\.1:9 broke"):
            list(broken)


# --- the real default LLM and e5 -----------------------------------------------------------------
# The 0.5B model declined this grounded question (NOT_FOUND) on one machine and answered it on
# another (same code, same weights: llama.cpp's kernels follow the CPU), so the answer is judged
# on the default model, as the other end-to-end answer tests are.


@pytest.fixture
def real_services(tmp_path: Path, e5_embedder: Embedder, default_llm: LLM) -> Iterator[Services]:
    settings = Settings(
        data_dir=tmp_path / "data",
        models={"llm": DEFAULT_LLM, "max_tokens": 48, "temperature": 0.0},
    )
    knowledge = open_knowledge(settings, purpose="e2e openai client", embedder=e5_embedder)
    services = Services(
        settings=settings,
        knowledge=knowledge,
        llm=default_llm,
        assistant=build_assistant(settings, knowledge, default_llm),
    )
    summary = services.knowledge.indexer.ingest(write_corpus(tmp_path / "docs"), source="tiny")
    assert summary.new == 3, summary.as_dict()
    yield services
    services.close()


@pytest.mark.e2e
def test_openai_client_gets_grounded_answers_from_the_default_llm(real_services: Services) -> None:
    with lotse_server(create_app(services=real_services)) as url:
        client = client_for(url)
        assert [m.id for m in client.models.list()] == [DEFAULT_LLM]

        completion = client.chat.completions.create(
            model=DEFAULT_LLM,
            messages=[{"role": "user", "content": VACATION_EN}],
            max_tokens=32,
        )
        answer = completion.choices[0].message.content or ""
        lotse = (completion.model_extra or {})["lotse"]
        assert lotse["abstained"] is False, answer
        assert lotse["sources"][0]["source_id"] == "hr/vacation.md"
        assert "30" in answer
        assert completion.usage is not None and 0 < completion.usage.completion_tokens <= 32

        stream = client.chat.completions.create(
            model=DEFAULT_LLM,
            messages=[{"role": "user", "content": VPN_DE}],
            max_tokens=32,
            stream=True,
        )
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        final = chunks[-1]
        lotse = (final.model_extra or {})["lotse"]
        assert lotse["abstained"] is False, text
        assert lotse["sources"][0]["source_id"] == "it/vpn.md"
        assert "AnyConnect" in text or "vpn.nordwind.de" in text, text
        assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 2
        assert final.choices[0].finish_reason in ("stop", "length")
