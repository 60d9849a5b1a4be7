"""Servers the contract suites also run against (scale-out: same protocols over the network).

Both are started once per session on a free port of 127.0.0.1 and always stopped; see
``tests/servers.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import LLAMA_SERVER_N_CTX, chroma_server, llama_server


@pytest.fixture(scope="session")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``chroma run`` server persisting under a session temp directory."""
    with chroma_server(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


@pytest.fixture(scope="session")
def llama_server_url(
    small_llm_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``python -m llama_cpp.server`` on the small model (``--n_ctx 2048``)."""
    with llama_server(
        small_llm_path, tmp_path_factory.mktemp("llama-server"), n_ctx=LLAMA_SERVER_N_CTX
    ) as url:
        yield url
