"""Escalations delivered to real servers on 127.0.0.1: stub HTTP servers that imitate a generic
webhook (checking the HMAC signature), Zammad's and Znuny's ticket-create APIs (including
Znuny's error-with-HTTP-200 and a 500 before success), and a small SMTP responder.

The whole path runs: a chat that abstains, ``POST /v1/escalations``, the deliverer's background
thread with retries, ``GET /v1/escalations/{id}``. Each ends ``delivered`` with the ticket
reference the stub returned, or ``failed`` with a clear error after the allowed attempts. No
model is needed (the fakes answer).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import EscalationSettings
from api.wiring import build_services
from models.llm import FakeLLM
from tests.api.conftest import fake_settings, sample_documents

pytestmark = pytest.mark.e2e

QUESTION = "Wie viele Urlaubstage habe ich?"
SECRET = "webhook-secret-42"
ZAMMAD_TOKEN = "zammad-token-7"
ZNUNY_PATH = "/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST/Ticket"


# -- a scripted HTTP server -----------------------------------------------------------------------
@dataclass
class Reply:
    status: int
    body: dict[str, Any] | None = None


@dataclass
class HttpStub:
    """Answers each POST with the next scripted reply (the last one repeats) and records it.
    ``check`` may turn a request into a 401 (the webhook's signature check)."""

    replies: list[Reply]
    check_signature: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        with self.lock:
            verified = None
            if self.check_signature:
                timestamp = headers.get("x-lotse-timestamp", "")
                expected = hmac.new(
                    SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256
                ).hexdigest()
                verified = hmac.compare_digest(
                    headers.get("x-lotse-signature", ""), f"sha256={expected}"
                )
            self.requests.append(
                {"path": path, "headers": headers, "json": json.loads(body), "verified": verified}
            )
            if verified is False:
                return Reply(401, {"error": "bad signature"})
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


@contextmanager
def http_stub(stub: HttpStub) -> Iterator[HttpStub]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = stub.answer(self.path, headers, body)
            payload = b"" if reply.body is None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return None  # quiet: the test asserts on the recorded requests

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="http-stub", daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# -- a tiny SMTP responder ------------------------------------------------------------------------
@dataclass
class SmtpStub:
    """Speaks just enough SMTP; ``data_replies`` and ``rcpt_reply`` script the answers."""

    data_replies: list[str] = field(default_factory=lambda: ["250 2.0.0 queued"])
    rcpt_reply: str = "250 2.1.5 ok"
    messages: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0


@contextmanager
def smtp_stub(stub: SmtpStub) -> Iterator[SmtpStub]:
    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")
            self.wfile.flush()

        def handle(self) -> None:
            self.reply("220 stub.nordwind.example ESMTP")
            sender, recipients = "", []
            while True:
                raw = self.rfile.readline()
                if not raw:
                    return
                line = raw.decode().rstrip("\r\n")
                verb = line[:4].upper()
                if verb in ("EHLO", "HELO"):
                    self.reply("250-stub.nordwind.example")
                    self.reply("250 8BITMIME")
                elif verb == "MAIL":
                    sender = line.partition(":")[2].strip()
                    self.reply("250 2.1.0 ok")
                elif verb == "RCPT":
                    recipients.append(line.partition(":")[2].strip())
                    self.reply(stub.rcpt_reply)
                elif verb == "DATA":
                    self.reply("354 end with <CRLF>.<CRLF>")
                    lines = []
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        lines.append(chunk)
                    answer = (
                        stub.data_replies.pop(0)
                        if len(stub.data_replies) > 1
                        else (stub.data_replies[0])
                    )
                    if answer.startswith("250"):
                        stub.messages.append(
                            {"from": sender, "to": recipients, "data": b"".join(lines)}
                        )
                    self.reply(answer)
                elif verb == "RSET" or verb == "NOOP":
                    self.reply("250 ok")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("502 5.5.2 not implemented")

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="smtp-stub", daemon=True)
    thread.start()
    stub.port = server.server_address[1]
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# -- the Lotse side -------------------------------------------------------------------------------
def escalate(tmp_path: Path, **escalation: Any) -> dict[str, Any]:
    """Abstain on a question, escalate it, wait for the deliveries; the final escalation."""
    settings = fake_settings(tmp_path).model_copy(
        update={
            "escalation": EscalationSettings(
                backoff_s=0.01, backoff_max_s=0.05, timeout_s=5, **escalation
            )
        }
    )
    llm = FakeLLM()
    services = build_services(settings, llm=llm)
    try:
        services.knowledge.indexer.sync_documents("sample", sample_documents())
        with TestClient(create_app(services=services)) as client:
            llm.queue("NOT_FOUND")
            done = client.post("/v1/chat", json={"message": QUESTION, "stream": False}).json()
            assert done["abstained"] is True
            created = client.post(
                "/v1/escalations", json={"conversation_id": done["conversation_id"]}
            )
            assert created.status_code == 201, created.text
            assert services.deliverer is not None and services.deliverer.wait_idle(30)
            final = client.get(f"/v1/escalations/{created.json()['escalation_id']}")
            assert final.status_code == 200
            result: dict[str, Any] = final.json()
            return result
    finally:
        services.close()


def test_the_webhook_receives_a_signed_escalation(tmp_path: Path) -> None:
    with http_stub(HttpStub([Reply(201, {"id": "WH-1"})], check_signature=True)) as stub:
        e = escalate(
            tmp_path, target="webhook", webhook_url=f"{stub.url}/hooks/lotse", webhook_secret=SECRET
        )
    assert (e["status"], e["attempts"], e["external_ref"], e["last_error"]) == (
        "delivered",
        1,
        "WH-1",
        None,
    )
    [request] = stub.requests
    assert request["path"] == "/hooks/lotse" and request["verified"] is True
    body = request["json"]
    assert (body["event"], body["subject"], body["escalation_id"]) == (
        "lotse.escalation",
        f"Anfrage: {QUESTION}",
        e["escalation_id"],
    )
    assert f"Frage: {QUESTION}" in body["description"]
    assert request["headers"]["idempotency-key"] == e["escalation_id"]


def test_a_wrong_webhook_secret_fails_at_once(tmp_path: Path) -> None:
    with http_stub(HttpStub([Reply(201, {"id": "WH-1"})], check_signature=True)) as stub:
        e = escalate(
            tmp_path, target="webhook", webhook_url=stub.url, webhook_secret="wrong", max_attempts=4
        )
    assert (e["status"], e["attempts"], e["external_ref"]) == ("failed", 1, None)
    assert e["last_error"] == (
        "webhook: the target refused the ticket (HTTP 401); "
        "check the target's credentials (token, user, password)"
    )
    assert len(stub.requests) == 1  # 401 is permanent: no retry


def test_zammad_creates_a_ticket_and_returns_its_number(tmp_path: Path) -> None:
    with http_stub(HttpStub([Reply(201, {"id": 7, "number": "31007", "title": "x"})])) as stub:
        e = escalate(
            tmp_path,
            target="zammad",
            zammad_url=stub.url,
            zammad_token=ZAMMAD_TOKEN,
            customer_domain="nordwind.example",
            default_queue="Service Desk",
        )
    assert (e["status"], e["attempts"], e["external_ref"]) == ("delivered", 1, "31007")
    [request] = stub.requests
    assert request["path"] == "/api/v1/tickets"
    assert request["headers"]["authorization"] == f"Token token={ZAMMAD_TOKEN}"
    body = request["json"]
    assert (body["title"], body["group"], body["customer"], body["priority"]) == (
        f"Anfrage: {QUESTION}",
        "Service Desk",
        "anonymous@nordwind.example",
        "2 normal",
    )
    article = body["article"]
    assert (article["type"], article["internal"], article["subject"]) == (
        "web",
        False,
        f"Anfrage: {QUESTION}",
    )
    assert article["body"] == e["description"]


def test_zammad_refusing_the_group_fails_permanently(tmp_path: Path) -> None:
    refused = Reply(422, {"error": "No such group 'Users'", "error_human": "No such group"})
    with http_stub(HttpStub([refused])) as stub:
        e = escalate(tmp_path, target="zammad", zammad_url=stub.url, zammad_token=ZAMMAD_TOKEN)
    assert (e["status"], e["attempts"]) == ("failed", 1)
    assert e["last_error"] == (
        "zammad: the target refused the ticket (HTTP 422); the target refused the ticket's "
        "fields: check queue/group, priority and customer"
    )
    assert len(stub.requests) == 1


def test_znuny_retries_after_a_500_and_returns_the_ticket_number(tmp_path: Path) -> None:
    created = Reply(200, {"TicketID": "12", "TicketNumber": "2026120110000012", "ArticleID": "3"})
    with http_stub(HttpStub([Reply(500, {"oops": True}), created])) as stub:
        e = escalate(
            tmp_path,
            target="znuny",
            znuny_url=f"{stub.url}/otrs/nph-genericinterface.pl",
            znuny_user="lotse",
            znuny_password="pw",
            default_queue="Raw",
            customer="servicedesk@nordwind.example",
        )
    assert (e["status"], e["attempts"], e["external_ref"]) == (
        "delivered",
        2,
        "2026120110000012",
    )
    assert [r["path"] for r in stub.requests] == [ZNUNY_PATH, ZNUNY_PATH]
    body = stub.requests[1]["json"]
    assert (body["UserLogin"], body["Password"]) == ("lotse", "pw")
    assert body["Ticket"] == {
        "Title": f"Anfrage: {QUESTION}",
        "Queue": "Raw",
        "Priority": "3 normal",
        "State": "new",
        "CustomerUser": "servicedesk@nordwind.example",
    }
    assert body["Article"]["Body"] == e["description"]


def test_a_znuny_error_with_http_200_is_a_failure(tmp_path: Path) -> None:
    error = Reply(
        200,
        {
            "Error": {
                "ErrorCode": "TicketCreate.AuthFail",
                "ErrorMessage": "User could not be authenticated",
            }
        },
    )
    with http_stub(HttpStub([error])) as stub:
        e = escalate(
            tmp_path, target="znuny", znuny_url=stub.url, znuny_user="lotse", znuny_password="wrong"
        )
    assert (e["status"], e["attempts"], e["external_ref"]) == ("failed", 1, None)
    assert e["last_error"] == (
        "znuny: the web service answered with the error TicketCreate.AuthFail; "
        "the Znuny web service debugger shows the details"
    )


def test_a_target_that_stays_down_fails_after_max_attempts(tmp_path: Path) -> None:
    with http_stub(HttpStub([Reply(503, {"error": "maintenance"})])) as stub:
        e = escalate(
            tmp_path, target="znuny", znuny_url=stub.url, znuny_session_id="sess", max_attempts=3
        )
    assert (e["status"], e["attempts"]) == ("failed", 3)
    assert e["last_error"] == "znuny: the target refused the ticket (HTTP 503)"
    assert len(stub.requests) == 3


def test_an_unreachable_target_fails_after_max_attempts(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens once it is closed
    e = escalate(
        tmp_path, target="webhook", webhook_url=f"http://127.0.0.1:{port}/", max_attempts=2
    )
    assert (e["status"], e["attempts"]) == ("failed", 2)
    assert e["last_error"] == (
        "webhook: cannot reach the target (ConnectError); "
        "check the URL and that the target is running"
    )


def test_smtp_mails_the_service_desk_after_a_temporary_refusal(tmp_path: Path) -> None:
    stub = SmtpStub(data_replies=["451 4.3.0 try again later", "250 2.0.0 queued as 1"])
    with smtp_stub(stub):
        e = escalate(
            tmp_path,
            target="smtp",
            smtp_host="127.0.0.1",
            smtp_port=stub.port,
            smtp_from="lotse@nordwind.example",
            smtp_to=("servicedesk@nordwind.example",),
        )
    assert (e["status"], e["attempts"]) == ("delivered", 2)
    assert e["external_ref"].startswith("<") and e["external_ref"].endswith("@nordwind.example>")
    [message] = stub.messages
    assert message["from"] == "<lotse@nordwind.example>"
    assert message["to"] == ["<servicedesk@nordwind.example>"]
    raw = message["data"].replace(b"\r\n", b"\n")
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["Subject"] == f"Anfrage: {QUESTION}"
    assert mail["Message-ID"].strip() == e["external_ref"]
    assert mail["X-Lotse-Escalation"] == e["escalation_id"]
    assert mail.get_content().rstrip("\n") == e["description"]


def test_smtp_refusing_the_recipient_fails_permanently(tmp_path: Path) -> None:
    stub = SmtpStub(rcpt_reply="550 5.1.1 no such mailbox")
    with smtp_stub(stub):
        e = escalate(
            tmp_path,
            target="smtp",
            smtp_host="127.0.0.1",
            smtp_port=stub.port,
            smtp_from="lotse@nordwind.example",
            smtp_to=("nobody@nordwind.example",),
            max_attempts=3,
        )
    assert (e["status"], e["attempts"]) == ("failed", 1)
    assert e["last_error"] == (
        "smtp: the recipients were refused (550); check the recipient address"
    )
    assert stub.messages == []
