"""`make loadtest`: N concurrent chat users against a running Lotse, bounded in requests and time.

Each simulated user posts German and English questions to ``POST /v1/chat`` with
``stream: true`` one after the other, parses the Server-Sent Events and records the time to the
``sources`` event, the time to the first ``token`` event, the queue wait (``queue_ms`` of the
``done`` event's timings when the server reports it; otherwise the time from ``sources`` to the
first token, which also holds prompt processing) and how the request ended. Deliberate overload
(HTTP 503 or an in-stream ``error`` event with code ``overloaded``) is counted apart from every
other server error; a rejected user waits the server's ``Retry-After`` (capped) before asking
again, as a polite client does. With ``--pid`` the server's resident memory (``VmRSS``) is
sampled before, during and after the run.

Loopback only: any other address is refused, so this never loads someone else's server.
``--spawn`` starts ``lotse serve`` itself on a free port of 127.0.0.1 with the settings from the
environment (``LOTSE_*``), measures its memory and stops it afterwards. Prints a table, writes
JSON (``--out``) and exits 1 when there was any server error other than deliberate overload.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from models.errors import InvalidInput, LotseError

QUESTIONS = (
    "Wie verbinde ich mich von zu Hause mit dem VPN?",
    "How many vacation days do full-time employees get?",
    "Wie melde ich eine Phishing-Mail?",
    "How do I print on the FollowMe printers?",
    "Bis wann muss ich mich krankmelden?",
    "How do I reset my password?",
    "Wie hoch ist die Verpflegungspauschale auf Dienstreisen?",
    "Who do I contact when my laptop is stolen?",
)

OUTCOMES = (
    "answered",  # a done event with an answer
    "abstained",  # a done event with the abstention sentence
    "overloaded",  # deliberate overload: HTTP 503 or an in-stream error with code overloaded
    "server_error",  # any other 5xx, or any other in-stream error event
    "client_error",  # 4xx
    "incomplete",  # a 200 stream that ended without done or error
    "transport_error",  # connection failed, reset or timed out
)

START_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 20.0


def require_loopback(url: str) -> None:
    """Refuse any URL whose host is not a loopback address (no name is resolved)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https"):
        raise InvalidInput(f"the URL {url!r} is not http(s)", field="url")
    loopback = host == "localhost"
    if not loopback:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
    if not loopback:
        raise InvalidInput(
            f"refusing to load {host or url!r}: the load test runs against loopback only; "
            "use http://127.0.0.1:PORT (or --spawn)",
            field="url",
        )


@dataclass(frozen=True)
class LoadConfig:
    url: str
    users: int = 20
    seconds: float = 60.0
    requests: int = 500
    pid: int | None = None
    grace_s: float = 30.0  # in-flight requests may finish this long after ``seconds``
    request_timeout_s: float = 300.0
    max_backoff_s: float = 5.0
    sample_interval_s: float = 0.5
    warmup: int = 1  # answers asked one by one before the first memory sample, not counted

    def __post_init__(self) -> None:
        require_loopback(self.url)
        if self.users < 1 or self.requests < 1 or self.seconds <= 0:
            raise InvalidInput("users, requests and seconds must be positive")


@dataclass
class RequestResult:
    outcome: str
    status: int | None = None
    error_code: str | None = None
    sources_ms: float | None = None
    first_token_ms: float | None = None
    total_ms: float = 0.0
    queue_ms: float | None = None
    queue_from_server: bool = False
    retry_after_s: float | None = None
    started_s: float = 0.0  # when it was sent, seconds from the start of the load


def _error_code(body: bytes) -> str | None:
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


def _classify_error(status: int, code: str | None) -> str:
    if code == "overloaded" and status in (200, 503):
        return "overloaded"
    if status >= 500 or status == 200:  # an error event after 200 is the server's failure
        return "server_error"
    return "client_error"


async def chat_once(client: httpx.AsyncClient, base_url: str, question: str) -> RequestResult:
    """One streamed chat request; never raises for HTTP or transport failures."""
    started = time.perf_counter()

    def ms() -> float:
        return (time.perf_counter() - started) * 1000

    result = RequestResult(outcome="incomplete")
    body = {"message": question, "stream": True}
    try:
        async with client.stream("POST", f"{base_url}/v1/chat", json=body) as response:
            result.status = response.status_code
            if response.status_code != 200:
                result.error_code = _error_code(await response.aread())
                result.outcome = _classify_error(response.status_code, result.error_code)
                result.retry_after_s = _retry_after(response)
                return result
            event = ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line.removeprefix("event:").strip()
                elif line.startswith("data:"):
                    _on_event(result, event, line.removeprefix("data:").strip(), ms())
                    if result.outcome != "incomplete":
                        break
    except httpx.TransportError:
        result.outcome = "transport_error"
    finally:
        result.total_ms = ms()
    if result.queue_ms is None and None not in (result.sources_ms, result.first_token_ms):
        result.queue_ms = float(result.first_token_ms or 0) - float(result.sources_ms or 0)
    return result


def _on_event(result: RequestResult, event: str, data: str, now_ms: float) -> None:
    if event == "sources" and result.sources_ms is None:
        result.sources_ms = now_ms
    elif event == "token" and result.first_token_ms is None:
        result.first_token_ms = now_ms
    elif event == "done":
        try:
            answer = json.loads(data)
        except ValueError:
            result.outcome, result.error_code = "server_error", "malformed_done_event"
            return
        result.outcome = "abstained" if answer.get("abstained") else "answered"
        queue_ms = (answer.get("timings") or {}).get("queue_ms")
        if isinstance(queue_ms, int | float):
            result.queue_ms = float(queue_ms)
            result.queue_from_server = True
    elif event == "error":
        result.error_code = _error_code(data.encode())
        result.outcome = _classify_error(200, result.error_code)


def read_rss_kb(pid: int) -> int | None:
    """Resident memory of ``pid`` in kB (``VmRSS`` of /proc/PID/status), None when gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


@dataclass
class MemorySamples:
    pid: int
    before_kb: int | None = None
    after_kb: int | None = None
    during_kb: list[int] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        seen = [v for v in (self.before_kb, *self.during_kb, self.after_kb) if v is not None]
        growth = (
            None
            if self.before_kb is None or self.after_kb is None
            else self.after_kb - self.before_kb
        )
        return {
            "pid": self.pid,
            "before_kb": self.before_kb,
            "peak_kb": max(seen) if seen else None,
            "after_kb": self.after_kb,
            "growth_kb": growth,
            "samples": len(seen),
        }


async def _sample_memory(samples: MemorySamples, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        value = read_rss_kb(samples.pid)
        if value is not None:
            samples.during_kb.append(value)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _distribution(values: Sequence[float | None]) -> dict[str, Any]:
    present = [v for v in values if v is not None]
    if not present:
        return {"count": 0, "p50": None, "p95": None, "max": None}
    return {
        "count": len(present),
        "p50": round(percentile(present, 50), 1),
        "p95": round(percentile(present, 95), 1),
        "max": round(max(present), 1),
    }


async def run_load(config: LoadConfig) -> dict[str, Any]:
    """Run the load and return the report (see ``summarize``)."""
    require_loopback(config.url)
    base_url = config.url.rstrip("/")
    results: list[RequestResult] = []
    issued = 0
    started = time.monotonic()
    deadline = started + config.seconds
    samples = MemorySamples(config.pid) if config.pid is not None else None

    async def user(index: int, client: httpx.AsyncClient) -> None:
        nonlocal issued
        asked = 0
        while time.monotonic() < deadline and issued < config.requests:
            issued += 1
            question = QUESTIONS[(index + asked) % len(QUESTIONS)]
            asked += 1
            sent_at = time.monotonic() - started
            result = await chat_once(client, base_url, question)
            result.started_s = sent_at
            results.append(result)
            if result.outcome == "overloaded":
                wait = min(result.retry_after_s or 1.0, config.max_backoff_s)
                await asyncio.sleep(max(0.0, min(wait, deadline - time.monotonic())))

    limits = httpx.Limits(max_connections=config.users, max_keepalive_connections=config.users)
    timeout = httpx.Timeout(config.request_timeout_s, connect=10.0)
    sampler: asyncio.Task[None] | None = None
    async with httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False) as client:
        # the model's one-time buffers are allocated by the first answers: not growth
        for i in range(config.warmup):
            await chat_once(client, base_url, QUESTIONS[i % len(QUESTIONS)])
    started = time.monotonic()
    deadline = started + config.seconds
    if samples is not None:
        samples.before_kb = read_rss_kb(samples.pid)
        sampler = asyncio.create_task(_sample_memory(samples, config.sample_interval_s))
    async with httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False) as client:
        tasks = [asyncio.create_task(user(i, client)) for i in range(config.users)]
        _, pending = await asyncio.wait(tasks, timeout=config.seconds + config.grace_s)
        for task in pending:
            task.cancel()
        for task in pending:
            with suppress(asyncio.CancelledError):
                await task
    elapsed = time.monotonic() - started
    if sampler is not None and samples is not None:
        sampler.cancel()
        with suppress(asyncio.CancelledError):
            await sampler
        samples.after_kb = read_rss_kb(samples.pid)
    return summarize(config, results, issued, elapsed, samples)


def summarize(
    config: LoadConfig,
    results: Sequence[RequestResult],
    issued: int,
    elapsed_s: float,
    samples: MemorySamples | None,
) -> dict[str, Any]:
    """The report: counts by outcome (they add up to ``sent``), latency percentiles, memory."""
    outcomes = {name: 0 for name in OUTCOMES}
    outcomes.update(Counter(r.outcome for r in results))
    outcomes["cancelled"] = issued - len(results)  # still running at the hard deadline
    statuses = Counter(str(r.status) for r in results if r.status is not None)
    stream_errors = Counter(
        r.error_code or "unknown" for r in results if r.status == 200 and r.error_code
    )
    http_503 = sum(1 for r in results if r.status == 503 and r.outcome == "overloaded")
    other_5xx = sum(1 for r in results if r.status is not None and r.status >= 500) - http_503
    from_server = [r for r in results if r.queue_ms is not None and r.queue_from_server]
    by_sources = [r for r in results if r.queue_ms is not None and not r.queue_from_server]
    queue_source = (
        "none"
        if not from_server and not by_sources
        else "done.timings.queue_ms"
        if not by_sources
        else "sources_to_first_token"
        if not from_server
        else "mixed"
    )
    return {
        "url": config.url,
        "users": config.users,
        "seconds": config.seconds,
        "max_requests": config.requests,
        "elapsed_s": round(elapsed_s, 2),
        "sent": issued,
        "finished": len(results),
        "requests_per_s": round(len(results) / elapsed_s, 2) if elapsed_s > 0 else None,
        "outcomes": outcomes,
        "rejected_503": outcomes["overloaded"],
        "rejected_http_503": http_503,
        "rejected_in_stream": outcomes["overloaded"] - http_503,
        "other_5xx": outcomes["server_error"],
        "other_5xx_http": other_5xx,
        "status_codes": dict(sorted(statuses.items())),
        "stream_errors": dict(sorted(stream_errors.items())),
        "latency_ms": {
            "sources": _distribution([r.sources_ms for r in results]),
            "first_token": _distribution([r.first_token_ms for r in results]),
            "queue_wait": {
                **_distribution([r.queue_ms for r in results]),
                "source": queue_source,
            },
            "total": _distribution(
                [r.total_ms for r in results if r.outcome in ("answered", "abstained")]
            ),
        },
        "memory": samples.report() if samples is not None else None,
        # each finished request in the order it ended, seconds from the start of the load
        "requests": [
            {
                "started_s": round(r.started_s, 2),
                "outcome": r.outcome,
                "status": r.status,
                "sources_ms": _round(r.sources_ms),
                "first_token_ms": _round(r.first_token_ms),
                "total_ms": round(r.total_ms, 1),
            }
            for r in results
        ],
    }


def _round(ms: float | None) -> float | None:
    return None if ms is None else round(ms, 1)


def table(report: dict[str, Any]) -> str:
    """The report as a small plain-text table."""
    lines = [
        f"load test {report['url']}: {report['users']} users, {report['sent']} requests "
        f"in {report['elapsed_s']} s ({report['requests_per_s']} finished/s)",
        "",
        f"{'latency (ms)':<26}{'count':>7}{'p50':>10}{'p95':>10}{'max':>10}",
    ]
    names = {
        "sources": "time to sources",
        "first_token": "time to first token",
        "queue_wait": "queue wait",
        "total": "whole answer",
    }
    for key, label in names.items():
        d = report["latency_ms"][key]
        cells = ["-" if d[k] is None else f"{d[k]:.1f}" for k in ("p50", "p95", "max")]
        lines.append(f"{label:<26}{d['count']:>7}{cells[0]:>10}{cells[1]:>10}{cells[2]:>10}")
    lines.append(f"(queue wait from: {report['latency_ms']['queue_wait']['source']})")
    lines.append("")
    lines.append("outcomes: " + ", ".join(f"{k} {v}" for k, v in report["outcomes"].items()))
    lines.append(
        f"rejected (deliberate overload): {report['rejected_503']} "
        f"(HTTP 503 {report['rejected_http_503']}, in stream {report['rejected_in_stream']}); "
        f"other server errors: {report['other_5xx']}"
    )
    memory = report["memory"]
    if memory is not None:
        lines.append(
            f"server memory (pid {memory['pid']}): before {memory['before_kb']} kB, "
            f"peak {memory['peak_kb']} kB, after {memory['after_kb']} kB, "
            f"growth {memory['growth_kb']} kB"
        )
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def spawned_server(log_path: Path, start_timeout_s: float) -> Iterator[tuple[str, int]]:
    """``lotse serve`` on a free port of 127.0.0.1 (settings from ``LOTSE_*``); yields its URL
    and pid once ``/readyz`` answers 200, and always stops it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if process.poll() is not None:
                raise LotseError(
                    f"lotse serve exited with code {process.returncode} before it was ready",
                    hint=f"see its log {log_path}",
                )
            with suppress(httpx.TransportError):
                if httpx.get(f"{url}/readyz", timeout=2, trust_env=False).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise LotseError(
                    f"lotse serve did not get ready within {start_timeout_s:g} s",
                    hint=f"see its log {log_path}",
                )
            time.sleep(0.5)
        yield url, process.pid
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="a running Lotse on loopback, e.g. http://127.0.0.1:8000")
    target.add_argument(
        "--spawn", action="store_true", help="start `lotse serve` (settings from LOTSE_*)"
    )
    parser.add_argument("--users", type=int, default=20, help="concurrent chat users")
    parser.add_argument("--seconds", type=float, default=60.0, help="no new request after this")
    parser.add_argument("--requests", type=int, default=500, help="at most this many requests")
    parser.add_argument("--pid", type=int, help="server pid whose VmRSS is sampled")
    parser.add_argument(
        "--grace", type=float, default=30.0, help="seconds in-flight requests may still take"
    )
    parser.add_argument(
        "--sample-interval", type=float, default=0.5, help="seconds between VmRSS samples"
    )
    parser.add_argument(
        "--warmup", type=int, default=1, help="uncounted answers before the first memory sample"
    )
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    parser.add_argument(
        "--start-timeout", type=float, default=START_TIMEOUT_S, help="--spawn: seconds to ready"
    )
    parser.add_argument("--server-log", type=Path, help="--spawn: the server's log file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.spawn:
            log = args.server_log or Path(tempfile.mkdtemp(prefix="lotse-loadtest-")) / "serve.log"
            print(f"starting lotse serve (log {log}) ...", file=sys.stderr)
            with spawned_server(log, args.start_timeout) as (url, pid):
                report = asyncio.run(run_load(_config(args, url, pid)))
        else:
            report = asyncio.run(run_load(_config(args, args.url, args.pid)))
    except LotseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(table(report))
    if report["other_5xx"]:
        print(f"error: {report['other_5xx']} server errors besides overload", file=sys.stderr)
        return 1
    return 0


def _config(args: argparse.Namespace, url: str, pid: int | None) -> LoadConfig:
    return LoadConfig(
        url=url,
        users=args.users,
        seconds=args.seconds,
        requests=args.requests,
        pid=pid,
        grace_s=args.grace,
        sample_interval_s=args.sample_interval,
        warmup=args.warmup,
    )


if __name__ == "__main__":
    sys.exit(main())
