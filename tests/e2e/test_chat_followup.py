"""A follow-up question through /v1/chat with the real e5 embedder, Chroma and the small LLM."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.wiring import Services, build_assistant, build_conversations, open_knowledge
from assistant.prompting import SYSTEM_PROMPT
from models.embedder import Embedder
from models.llm import LLM, ChatMessage, Completion, GenerationParams, StreamChunk
from tests.e2e.conftest import e2e_settings

pytestmark = pytest.mark.e2e

DOCS = {
    "it/vpn.md": (
        "# VPN-Zugang\n\n"
        "## Windows\n\n"
        "Unter Windows starten Sie Cisco AnyConnect aus dem Startmenü und geben als Server "
        "vpn.nordwind.de ein. Melden Sie sich mit Ihrem Firmenkonto an und bestätigen Sie die "
        "Anmeldung in der Authenticator-App.\n\n"
        "## Mac\n\n"
        "Auf dem Mac installieren Sie Tunnelblick aus dem Self-Service-Portal und importieren "
        "das Profil nordwind.ovpn. Danach verbinden Sie sich über das Tunnelblick-Symbol in der "
        "Menüleiste und melden sich mit Ihrem Firmenkonto an.\n"
    ),
    "it/drucker.md": (
        "# Drucker einrichten\n\n"
        "## Windows\n\n"
        "Unter Windows öffnen Sie Einstellungen > Drucker und fügen den Drucker "
        "PR-2OG-Nord über die Adresse \\\\print.nordwind.de hinzu.\n\n"
        "## Mac\n\n"
        "Auf dem Mac öffnen Sie die Systemeinstellungen > Drucker & Scanner, klicken auf Plus "
        "und wählen den Drucker PR-2OG-Nord mit dem Treiber Generic PostScript.\n"
    ),
    "hr/urlaub.md": (
        "# Urlaub\n\n## Anspruch\n\nJede Vollzeitkraft hat 30 Tage Urlaub im Kalenderjahr. "
        "Urlaub beantragen Sie im HR-Portal unter Abwesenheiten.\n"
    ),
}


def parse_sse(text: str) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    for block in text.split("\n\n"):
        name, data = "message", []
        for line in block.splitlines():
            key, _, value = line.partition(":")
            if key == "event":
                name = value.strip()
            elif key == "data":
                data.append(value.removeprefix(" "))
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


class RecordingLLM:
    """The real model, remembering the prompts it was given."""

    def __init__(self, inner: LLM) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.context_size = inner.context_size
        self.prompts: list[list[ChatMessage]] = []

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        self.prompts.append(list(messages))
        return self.inner.complete(messages, params)

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Iterator[StreamChunk]:
        self.prompts.append(list(messages))
        return self.inner.stream(messages, params)


@pytest.fixture
def llm(small_llm: LLM) -> RecordingLLM:
    return RecordingLLM(small_llm)


@pytest.fixture
def client(tmp_path: Path, e5_embedder: Embedder, llm: RecordingLLM) -> Iterator[TestClient]:
    folder = tmp_path / "docs"
    for name, text in DOCS.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    settings = e2e_settings(tmp_path / "data", max_tokens=48)
    knowledge = open_knowledge(settings, purpose="e2e chat", embedder=e5_embedder)
    services = Services(
        settings=settings,
        knowledge=knowledge,
        llm=llm,
        assistant=build_assistant(settings, knowledge, llm),
        conversations=build_conversations(settings),
    )
    try:
        summary = knowledge.indexer.ingest(folder, source="e2e")
        assert summary.new == 3, summary.as_dict()
        with TestClient(create_app(services=services)) as test_client:
            yield test_client
    finally:
        services.close()


def test_a_german_follow_up_retrieves_the_mac_section_of_the_vpn_document(
    client: TestClient, llm: RecordingLLM
) -> None:
    question = "Wie verbinde ich mich mit dem VPN?"
    first = client.post("/v1/chat", json={"message": question})
    assert first.status_code == 200
    events = parse_sse(first.text)
    assert events[0][0] == "sources" and events[-1][0] == "done"
    assert events[0][1]["sources"][0]["source_id"] == "it/vpn.md"
    conversation_id = events[-1][1]["conversation_id"]

    follow_up = client.post(
        "/v1/chat", json={"message": "und auf dem Mac?", "conversation_id": conversation_id}
    )
    assert follow_up.status_code == 200
    events = parse_sse(follow_up.text)
    assert events[0][0] == "sources" and events[-1][0] == "done"
    # the passages given to the model: the VPN document's Mac section first
    top = events[0][1]["sources"][0]
    assert (top["source_id"], top["heading"]) == ("it/vpn.md", "VPN-Zugang > Mac")
    done = events[-1][1]
    assert done["conversation_id"] == conversation_id
    assert (done["ai_generated"], done["model"]) == (True, "qwen2.5-0.5b")
    # the model saw the earlier question and the follow-up as it was asked
    system, user = llm.prompts[-1]
    assert system.content == SYSTEM_PROMPT
    assert f"\nUser: {question}\n" in user.content
    assert user.content.endswith("Question: und auf dem Mac?\nAnswer in German.")
    # the follow-up alone would have found the printer's Mac section first
    alone = client.post("/v1/search", json={"query": "und auf dem Mac?", "k": 1}).json()
    assert alone["results"][0]["source_id"] != "it/vpn.md"

    turns = client.get(f"/v1/conversations/{conversation_id}").json()["turns"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]
