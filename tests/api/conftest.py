"""The whole app wired with fakes through settings alone (the 'mock mode')."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import KeyStore
from api.settings import Settings
from api.wiring import Services, build_services
from knowledge.documents import Document, sha256_bytes
from models.errors import GenerationInterrupted
from models.llm import ChatMessage, FakeLLM, GenerationParams, StreamChunk

DOCS = {
    "it/vpn.md": (
        "VPN",
        "de",
        "# VPN\n\n## Verbindung\n\nStarten Sie Cisco AnyConnect und "
        "verbinden Sie sich mit vpn.nordwind.de.",
    ),
    "finance/travel.md": (
        "Travel expenses",
        "en",
        "# Travel expenses\n\n## Per diem\n\nThe per diem for a full day in Germany is 28 euros.",
    ),
}


@dataclass
class PrefillLLM(FakeLLM):
    """A ``FakeLLM`` that reads its prompt for ``prefill_s`` before the first piece, like
    llama.cpp on a small CPU, and stops when ``params.interrupt`` says so (as llama.cpp does
    within its computation): ``reading`` is set while it reads, ``interrupted`` once it
    stopped early."""

    prefill_s: float = 30.0
    reading: threading.Event = field(default_factory=threading.Event)
    interrupted: threading.Event = field(default_factory=threading.Event)

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Iterator[StreamChunk]:
        self.reading.set()
        done = time.monotonic() + self.prefill_s
        try:
            while time.monotonic() < done:
                if params.interrupt is not None and params.interrupt():
                    self.interrupted.set()
                    raise GenerationInterrupted("interrupted while reading the prompt")
                time.sleep(0.01)
        finally:
            self.reading.clear()
        yield from super().stream(messages, params)


def post_stopped_by_the_time_limit(
    client: TestClient,
    path: str,
    body: Mapping[str, object],
    reader: PrefillLLM,
    services: Services,
    limit_s: float,
) -> None:
    """POST ``body`` while ``reader`` would read its prompt for far longer than ``limit_s``:
    the time limit stops it inside the prompt (502), and the model is free again."""
    started = time.perf_counter()
    response = client.post(path, json=body)
    assert time.perf_counter() - started < 5  # stopped mid-prompt, not after reader.prefill_s
    assert response.status_code == 502, response.text
    assert response.json()["error"] == {
        "code": "generation_failed",
        "message": f"the model took longer than {limit_s:g} s",
    }
    assert reader.interrupted.is_set()
    assert services.assistant.gate.stats().running == 0


def fake_settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        models={"llm_backend": "fake", "embedder": "fake"},  # type: ignore[arg-type]
        knowledge={"store": "memory"},  # type: ignore[arg-type]
        # (off by default too) the scripted model gives its queued replies to the answers, not
        # to translations; tests/api/test_ask_translated.py turns them on
        retrieval={  # type: ignore[arg-type]
            "min_evidence": -1.0,
            "min_answer_support": 0.0,
            "translate_question": False,
        },
    )


def keys_settings(tmp_path: Path) -> Settings:
    """``fake_settings`` with API keys required (``auth.mode = keys``)."""
    base = fake_settings(tmp_path)
    return base.model_copy(update={"auth": base.auth.model_copy(update={"mode": "keys"})})


def agent_keys(settings: Settings, groups: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """An agent API key for each name, with its groups: name -> the key's secret."""
    store = KeyStore(settings.data_dir)
    return {name: store.create(name, "agent", g)[1] for name, g in groups.items()}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def sample_documents(
    docs: Mapping[str, tuple[str, str, str]] = DOCS,
) -> list[Document]:
    """``{source_id: (title, language, markdown)}`` as documents of the source ``sample``."""
    return [
        Document(
            source_id=sid,
            title=title,
            text=text,
            format="markdown",
            language=lang,
            content_hash=sha256_bytes(text.encode()),
            source="sample",
        )
        for sid, (title, lang, text) in docs.items()
    ]


def fake_services(tmp_path: Path, llm: FakeLLM, settings: Settings | None = None) -> Services:
    """The app's services wired with fakes, holding the two sample documents."""
    svc = build_services(settings or fake_settings(tmp_path), llm=llm)
    svc.knowledge.indexer.sync_documents("sample", sample_documents())
    return svc


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    svc = fake_services(tmp_path, FakeLLM())
    yield svc
    svc.close()


@pytest.fixture
def llm(services: Services) -> FakeLLM:
    assert isinstance(services.llm, FakeLLM)
    return services.llm


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=services)) as test_client:
        yield test_client
