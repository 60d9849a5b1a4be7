"""End-to-end fixtures: the bundled sample knowledge indexed with the real default embedder,
real Chroma and real SQLite FTS5, answered by the real small LLM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.settings import Settings
from api.wiring import Knowledge, build_assistant, open_knowledge
from assistant.answering import Assistant
from models.embedder import Embedder
from models.llm import LLM

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DOCS = REPO / "knowledge" / "sample" / "docs"
SAMPLE_EVAL = REPO / "knowledge" / "sample" / "eval"


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def e2e_settings(data_dir: Path, **models: object) -> Settings:
    return Settings(
        data_dir=data_dir,
        models={"llm": "qwen2.5-0.5b", "n_ctx": 4096, "temperature": 0.0, **models},  # type: ignore[arg-type]
        # a shared 2-core CI machine can be slow; a timeout here would judge the machine
        api={"generation_timeout_s": 900},  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def sample_knowledge(
    tmp_path_factory: pytest.TempPathFactory, e5_embedder: Embedder
) -> Iterator[Knowledge]:
    settings = e2e_settings(tmp_path_factory.mktemp("sample-data"))
    knowledge = open_knowledge(settings, purpose="e2e tests", embedder=e5_embedder)
    summary = knowledge.indexer.ingest(SAMPLE_DOCS, source="sample")
    assert summary.new >= 30, summary.as_dict()
    assert summary.skipped == [], summary.skipped
    yield knowledge
    knowledge.close()


@pytest.fixture(scope="session")
def sample_assistant(sample_knowledge: Knowledge, default_llm: LLM) -> Assistant:
    """The sample knowledge answered by Lotse's default model (1.5B) with the default
    abstention settings: this is the quality a user gets out of the box."""
    return build_assistant(sample_knowledge.settings, sample_knowledge, default_llm)
