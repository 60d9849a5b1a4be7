"""The whole app wired with fakes through settings alone (the 'mock mode')."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.wiring import Services, build_services
from knowledge.documents import Document, sha256_bytes
from models.llm import FakeLLM

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


def fake_settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        models={"llm_backend": "fake", "embedder": "fake"},  # type: ignore[arg-type]
        knowledge={"store": "memory"},  # type: ignore[arg-type]
        retrieval={"min_evidence": -1.0, "min_answer_support": 0.0},  # type: ignore[arg-type]
    )


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    llm = FakeLLM()
    svc = build_services(fake_settings(tmp_path), llm=llm)
    docs = [
        Document(
            source_id=sid,
            title=title,
            text=text,
            format="markdown",
            language=lang,
            content_hash=sha256_bytes(text.encode()),
            source="sample",
        )
        for sid, (title, lang, text) in DOCS.items()
    ]
    svc.knowledge.indexer.sync_documents("sample", docs)
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
