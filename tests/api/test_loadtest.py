"""``api.loadtest`` against a live uvicorn with fake services: short, bounded runs."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.loadtest import OUTCOMES, LoadConfig, main, read_rss_kb, require_loopback
from api.settings import Settings
from api.wiring import Services
from models.errors import InvalidInput
from models.llm import ChatMessage, FakeLLM, GenerationParams, StreamChunk
from tests.api.conftest import fake_services, fake_settings
from tests.servers import lotse_server

GROUNDED_REPLY = "Starten Sie Cisco AnyConnect und verbinden Sie sich mit vpn.nordwind.de."


@pytest.fixture
def server(services: Services, llm: FakeLLM) -> Iterator[str]:
    llm.default_reply = GROUNDED_REPLY
    with lotse_server(create_app(services=services)) as url:
        yield url


def run(argv: Sequence[str], out: Path) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--out", str(out)])
    return code, json.loads(out.read_text(encoding="utf-8"))


def check_sane(report: dict[str, Any]) -> None:
    """Counts add up and every distribution is ordered."""
    outcomes = report["outcomes"]
    assert set(outcomes) == {*OUTCOMES, "cancelled"}
    assert sum(outcomes.values()) == report["sent"]
    assert report["finished"] == report["sent"] - outcomes["cancelled"]
    assert sum(int(n) for n in report["status_codes"].values()) == report["finished"]
    assert report["rejected_503"] == report["rejected_http_503"] + report["rejected_in_stream"]
    assert report["rejected_503"] == outcomes["overloaded"]
    assert report["other_5xx"] == 0
    assert outcomes["server_error"] == outcomes["transport_error"] == 0
    for name in ("sources", "first_token", "queue_wait", "total"):
        d = report["latency_ms"][name]
        assert d["count"] <= report["finished"]
        if d["count"]:
            assert 0 <= d["p50"] <= d["p95"] <= d["max"], (name, d)


def test_bounded_run_reports_latencies_outcomes_and_memory(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--url", server, "--users", "4", "--seconds", "3", "--requests", "30"]
    argv += ["--pid", str(os.getpid()), "--sample-interval", "0.02"]
    code, report = run(argv, tmp_path / "docs" / "loadtest.json")

    assert code == 0
    check_sane(report)
    # 30 requests of 4 users against fakes finish well within 3 s: the request bound stops it
    assert report["sent"] == report["finished"] == 30
    assert report["outcomes"]["answered"] + report["outcomes"]["abstained"] == 30
    assert report["outcomes"]["answered"] >= 1
    assert report["status_codes"] == {"200": 30}
    assert report["rejected_503"] == 0
    latency = report["latency_ms"]
    assert latency["sources"]["count"] == latency["first_token"]["count"] == 30
    assert latency["sources"]["p50"] <= latency["first_token"]["p50"]
    assert latency["queue_wait"]["count"] == 30
    rows = report["requests"]
    assert len(rows) == 30 and {r["status"] for r in rows} == {200}
    assert all(0 <= r["started_s"] <= 3 and r["sources_ms"] <= r["total_ms"] for r in rows)
    assert latency["queue_wait"]["source"] in ("done.timings.queue_ms", "sources_to_first_token")
    memory = report["memory"]
    assert memory["pid"] == os.getpid()
    assert memory["before_kb"] > 0 and memory["after_kb"] > 0
    assert memory["samples"] >= 3  # before, at least one during, after
    assert memory["peak_kb"] >= max(memory["before_kb"], memory["after_kb"])
    assert memory["growth_kb"] == memory["after_kb"] - memory["before_kb"]
    printed = capsys.readouterr().out
    assert "time to first token" in printed and "rejected (deliberate overload): 0" in printed


def test_the_time_bound_stops_a_run_with_a_large_request_budget(
    server: str, tmp_path: Path
) -> None:
    argv = ["--url", server, "--users", "3", "--seconds", "1.5", "--requests", "100000"]
    started = time.monotonic()
    code, report = run(argv, tmp_path / "report.json")

    assert code == 0
    check_sane(report)
    assert 10 <= report["sent"] < 100000
    assert report["outcomes"]["cancelled"] == 0
    assert 1.5 <= report["elapsed_s"] < 6
    assert time.monotonic() - started < 10
    assert report["memory"] is None  # no --pid


@dataclass
class SlowFakeLLM(FakeLLM):
    """The replaying fake, slowed down per token so that generations overlap."""

    token_delay_s: float = 0.03

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Iterator[StreamChunk]:
        for chunk in super().stream(messages, params):
            time.sleep(self.token_delay_s)
            yield chunk


@pytest.fixture
def overloaded_server(tmp_path: Path) -> Iterator[str]:
    base = fake_settings(tmp_path)
    settings = Settings(**{**base.model_dump(), "api": {**base.api.model_dump(), "max_queue": 1}})
    services = fake_services(tmp_path, SlowFakeLLM(default_reply=GROUNDED_REPLY), settings)
    try:
        with lotse_server(create_app(services=services)) as url:
            yield url
    finally:
        services.close()


def test_deliberate_overload_is_counted_apart_from_server_errors(
    overloaded_server: str, tmp_path: Path
) -> None:
    argv = ["--url", overloaded_server, "--users", "5", "--seconds", "2", "--requests", "30"]
    code, report = run(argv, tmp_path / "report.json")

    assert code == 0  # overload is not a server failure
    check_sane(report)
    # one generation runs, one waits (max_queue 1): of 5 simultaneous users some are refused
    assert report["rejected_503"] >= 1
    assert report["outcomes"]["answered"] + report["outcomes"]["abstained"] >= 2
    if report["rejected_in_stream"]:
        assert report["stream_errors"]["overloaded"] == report["rejected_in_stream"]


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3:8000",
        "http://192.168.0.7:8000",
        "http://example.com:8000",
        "http://localhost.example.com:8000",
        "http://[2001:db8::1]:8000",
        "ftp://127.0.0.1:8000",
    ],
)
def test_a_non_loopback_url_is_refused_before_any_request(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InvalidInput, match=r"loopback|http"):
        require_loopback(url)
    with pytest.raises(InvalidInput):
        LoadConfig(url=url)
    out = tmp_path / "report.json"
    assert main(["--url", url, "--requests", "1", "--out", str(out)]) == 2
    assert "error:" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000", "http://127.0.0.2:9", "http://localhost:8000", "http://[::1]:1"],
)
def test_loopback_urls_are_accepted(url: str) -> None:
    require_loopback(url)  # does not raise


def test_spawn_starts_lotse_serve_measures_it_and_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {
        "LOTSE_DATA_DIR": str(tmp_path / "data"),
        "LOTSE_MODELS__LLM_BACKEND": "fake",
        "LOTSE_MODELS__EMBEDDER": "fake",
        "LOTSE_KNOWLEDGE__STORE": "memory",
    }.items():
        monkeypatch.setenv(key, value)
    log = tmp_path / "serve.log"
    argv = ["--spawn", "--users", "2", "--seconds", "2", "--requests", "6"]
    argv += ["--server-log", str(log), "--start-timeout", "60", "--sample-interval", "0.05"]
    code, report = run(argv, tmp_path / "report.json")

    assert code == 0
    check_sane(report)
    assert report["url"].startswith("http://127.0.0.1:")
    assert report["sent"] == report["finished"] == 6
    assert report["status_codes"] == {"200": 6}
    assert report["outcomes"]["abstained"] == 6  # the spawned server's index is empty
    memory = report["memory"]
    assert memory["pid"] != os.getpid() and memory["before_kb"] > 0
    assert read_rss_kb(memory["pid"]) is None  # the server was stopped
