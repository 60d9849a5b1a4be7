"""Scale-out is a settings change: ``build_services`` pointed at a real Chroma server
(``LOTSE_KNOWLEDGE__CHROMA_URL``) and a real OpenAI-compatible llama.cpp server
(``LOTSE_MODELS__LLM_BACKEND=openai``, ``LOTSE_MODELS__OPENAI_BASE_URL``) ingests and answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.settings import Settings
from api.wiring import build_services
from assistant.identity import Caller
from knowledge.chroma import ChromaVectorStore
from models.openai_compat import OpenAICompatibleLLM
from tests.servers import LLAMA_SERVER_N_CTX, SMALL_LLM_ALIAS, chroma_server, llama_server

pytestmark = pytest.mark.e2e

DOCS = {  # the same tiny corpus as tests/e2e/test_openai_client.py
    "it/vpn.md": "# VPN\n\n## Verbindung von zu Hause\n\nDie Serveradresse des VPN lautet "
    "vpn.nordwind.de. Starten Sie Cisco AnyConnect, geben Sie vpn.nordwind.de ein und melden Sie "
    "sich mit Ihrem Windows-Passwort an.\n",
    "hr/vacation.md": "# Vacation\n\n## Vacation days\n\nEvery employee gets 30 vacation days "
    "per year. Request them in the HR portal at least two weeks ahead.\n",
    "facility/parking.md": "# Parken\n\n## Parkplätze\n\nMitarbeiter parken auf dem Hof hinter "
    "Halle 3. Gäste melden sich am Empfang.\n",
}


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chroma_server(tmp_path_factory.mktemp("scale-out-chroma")) as url:
        yield url


@pytest.fixture(scope="module")
def llama_url(small_llm_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with llama_server(small_llm_path, tmp_path_factory.mktemp("scale-out-llama")) as url:
        yield url


def test_build_services_uses_both_servers_end_to_end(
    tmp_path: Path, chroma_url: str, llama_url: str
) -> None:
    docs = tmp_path / "docs"
    for name, text in DOCS.items():
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(text, encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path / "data",
        models={
            "llm_backend": "openai",
            "openai_base_url": f"{llama_url}/v1",
            "openai_model": SMALL_LLM_ALIAS,
            "n_ctx": LLAMA_SERVER_N_CTX,
            "max_tokens": 48,
            "temperature": 0.0,
        },
        knowledge={"chroma_url": chroma_url},
    )

    services = build_services(settings)
    try:
        assert isinstance(services.llm, OpenAICompatibleLLM)
        assert services.llm.base_url == llama_url
        assert isinstance(services.knowledge.vectors, ChromaVectorStore)
        summary = services.knowledge.indexer.ingest(docs, source="docs")
        assert summary.new == 3, summary.as_dict()
        written = services.knowledge.vectors.count()
        assert written >= 3

        answer = services.assistant.ask("Welche Serveradresse hat das VPN?", Caller(user_id="e2e"))
    finally:
        services.close()
        if isinstance(services.llm, OpenAICompatibleLLM):
            services.llm.close()  # Services.close leaves the LLM to its owner

    assert answer.abstained is False, (answer.reason, answer.answer)
    assert answer.model == SMALL_LLM_ALIAS
    assert answer.language == "de"
    assert answer.sources[0].source_id == "it/vpn.md"
    assert "vpn.nordwind.de" in answer.answer
    assert 0 < answer.timings.completion_tokens <= 48
    # The chunks live in the server, not under the data directory.
    assert not (settings.data_dir / "chroma").exists()
    other_client = ChromaVectorStore.http(chroma_url)
    try:
        assert other_client.count() == written
    finally:
        other_client.close()
