"""`lotse serve`: one process owns the stores (`lotse ingest` is refused while it runs), and
idle connections stay open for ``LOTSE_API__KEEP_ALIVE_S``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lotse(*args: str) -> list[str]:
    return [sys.executable, "-m", "api.cli", *args]


def _healthz_on(conn: socket.socket) -> bytes:
    """One ``GET /healthz`` on an open connection; the whole response."""
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += conn.recv(4096)
    return data


def test_a_cli_write_is_refused_while_the_server_runs(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "vpn.md").write_text("# VPN\n\nStarten Sie Cisco AnyConnect.\n", encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "LOTSE_DATA_DIR": str(tmp_path / "data"),
        "LOTSE_MODELS__LLM_BACKEND": "fake",
        "LOTSE_MODELS__EMBEDDER": "fake",
        "LOTSE_MODELS__CACHE_DIR": str(tmp_path / "models"),
        "LOTSE_KNOWLEDGE__STORE": "memory",
        "LOTSE_LOG_LEVEL": "WARNING",
        "LOTSE_API__KEEP_ALIVE_S": "3",
    }
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        lotse("serve", "--host", "127.0.0.1", "--port", str(port)),
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "lotse serve did not answer /healthz in time"
            time.sleep(0.2)

        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            assert _healthz_on(conn).startswith(b"HTTP/1.1 200")
            time.sleep(1.5)  # idle, but within the keep-alive: the connection still answers
            assert _healthz_on(conn).startswith(b"HTTP/1.1 200")
            time.sleep(4.5)  # idle past LOTSE_API__KEEP_ALIVE_S=3: the server has closed it
            assert conn.recv(1) == b""

        refused = subprocess.run(
            lotse("ingest", str(docs)),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode == 1, refused.stdout + refused.stderr
        message = " ".join(refused.stderr.split())
        assert f"is in use by `lotse serve` (pid {server.pid})" in message
        assert str(tmp_path / "data") in message
        assert "POST" in message and "/v1/admin/reindex" in message
        assert refused.stdout == ""
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        log.close()
    assert server.returncode == 0, (tmp_path / "serve.log").read_text()

    allowed = subprocess.run(
        lotse("ingest", str(docs), "--json"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert allowed.returncode == 0, allowed.stderr
    assert '"new": 1' in allowed.stdout
