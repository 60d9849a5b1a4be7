"""Real servers for tests: a Chroma server, a llama.cpp OpenAI-compatible server and Lotse itself
under uvicorn, each on a free port of 127.0.0.1.

Each helper is a context manager that starts the server, polls its readiness URL until it
answers (failing the test with the server's log when it exits or does not answer in time), yields
its base URL, and always stops it. Fixtures in the test folders wrap these.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0
SMALL_LLM_ALIAS = "qwen2.5-0.5b"
LLAMA_SERVER_N_CTX = 2048


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(log_path: Path, chars: int = 3000) -> str:
    try:
        return log_path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def _wait_ready(
    process: subprocess.Popen[bytes], ready_url: str, name: str, log_path: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    last_error = "no answer yet"
    while True:
        if process.poll() is not None:
            pytest.fail(
                f"{name} exited with code {process.returncode} before it was ready. "
                f"Log {log_path}:\n{_log_tail(log_path)}",
                pytrace=False,
            )
        try:
            response = httpx.get(ready_url, timeout=2)
            if response.status_code == 200:
                return
            last_error = f"HTTP {response.status_code}"
        except httpx.TransportError as exc:
            last_error = repr(exc)
        if time.monotonic() > deadline:
            pytest.fail(
                f"{name} did not answer {ready_url} within {timeout_s:g} s "
                f"(last: {last_error}). Log {log_path}:\n{_log_tail(log_path)}",
                pytrace=False,
            )
        time.sleep(0.25)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


@contextmanager
def _process(
    command: list[str],
    *,
    name: str,
    ready_url: str,
    log_path: Path,
    env: dict[str, str] | None = None,
    timeout_s: float = START_TIMEOUT_S,
) -> Iterator[None]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
    try:
        _wait_ready(process, ready_url, name, log_path, timeout_s)
        yield
    finally:
        _stop(process)


def chroma_cli() -> str:
    """The ``chroma`` command installed with the chromadb package (next to this Python)."""
    beside = Path(sys.executable).with_name("chroma")
    if beside.exists():
        return str(beside)
    found = shutil.which("chroma")
    if found is None:
        pytest.fail(
            "the `chroma` command is missing; it comes with the chromadb package "
            "(`pip install -e .` in the project's virtualenv)",
            pytrace=False,
        )
    return found


@contextmanager
def chroma_server(data_dir: Path, *, timeout_s: float = START_TIMEOUT_S) -> Iterator[str]:
    """``chroma run`` persisting into ``data_dir``; yields ``http://127.0.0.1:PORT``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [
        chroma_cli(),
        "run",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--path",
        str(data_dir / "chroma"),
    ]
    with _process(
        command,
        name="chroma run",
        ready_url=f"{url}/api/v2/heartbeat",
        log_path=data_dir / "chroma-server.log",
        env={"ANONYMIZED_TELEMETRY": "False"},
        timeout_s=timeout_s,
    ):
        yield url


@contextmanager
def llama_server(
    model_path: Path,
    log_dir: Path,
    *,
    alias: str = SMALL_LLM_ALIAS,
    n_ctx: int = LLAMA_SERVER_N_CTX,
    timeout_s: float = START_TIMEOUT_S,
) -> Iterator[str]:
    """``python -m llama_cpp.server`` serving ``model_path`` as ``alias``; yields the server root
    ``http://127.0.0.1:PORT`` (the OpenAI API is under ``/v1``)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path),
        "--model_alias",
        alias,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        "2",
    ]
    with _process(
        command,
        name="llama_cpp.server (needs the dev extra llama-cpp-python[server])",
        ready_url=f"{url}/v1/models",
        log_path=log_dir / "llama-server.log",
        timeout_s=timeout_s,
    ):
        yield url


@contextmanager
def lotse_server(app: FastAPI, *, timeout_s: float = 30.0) -> Iterator[str]:
    """Lotse's app under a real uvicorn server in a background thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not thread.is_alive():
                pytest.fail("the Lotse server stopped before it was ready", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"the Lotse server did not start within {timeout_s:g} s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT_S)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=STOP_TIMEOUT_S)
