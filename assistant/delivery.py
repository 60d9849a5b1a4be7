"""Delivering escalations to the company's ticket system, with retries and a visible status.

A ``DeliveryTarget`` turns one ``Escalation`` into a ticket somewhere on the company network
and returns the reference the target gave it (a ticket number, a message id), or raises
``DeliveryFailed``, saying whether trying again can help (``permanent``):

- ``WebhookTarget``: POST of the escalation as JSON to any URL; optionally signed with
  HMAC-SHA256 (``X-Lotse-Signature: sha256=<hex>`` over ``"<X-Lotse-Timestamp>.<body>"``).
- ``ZammadTarget``: Zammad's ticket-create API (``POST {base}/api/v1/tickets`` with an access
  token); the reference is the ticket ``number``.
- ``ZnunyTarget``: a Znuny (OTRS) GenericInterface REST web service's ``TicketCreate``
  (``POST {base}/Webservice/{name}/Ticket``); the reference is the ``TicketNumber``. Znuny
  reports errors as ``{"Error": {...}}`` with HTTP 200: those are failures too.
- ``SmtpTarget``: an e-mail to the service desk's mailbox through the company's SMTP host
  (STARTTLS optional); the reference is the ``Message-ID``.

HTTP errors 408, 429 and 5xx, timeouts and refused connections are transient; any other
4xx, a redirect or an answer without a ticket reference is permanent (configuration to fix).
Error messages name the target, the HTTP status or the target's error code, never the
ticket's text: they are shown to the employee and stored.

``Deliverer`` runs the deliveries in one background thread: each escalation is claimed
(``pending`` -> ``delivering``), attempted, and then ``delivered``, ``failed`` (permanent, or
the last of ``max_attempts``), or ``pending`` again until its next attempt after an
exponential backoff. ``close`` lets the running attempt finish and stops; what is still
pending is resumed by ``resume`` at the next start. Nothing here logs a subject or a
description (personal data).
"""

from __future__ import annotations

import heapq
import hmac
import json
import logging
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol

import httpx

from assistant.escalation import Escalation, EscalationStore
from models.errors import Conflict, LotseError, NotFound

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
USER_AGENT = "Lotse-Escalation/1"


class DeliveryFailed(LotseError):
    """A delivery did not create a ticket. ``permanent``: retrying cannot help (fix the
    settings); otherwise the next attempt may succeed. The message holds no ticket text."""

    def __init__(self, message: str, *, permanent: bool, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.permanent = permanent


@dataclass(frozen=True)
class Delivered:
    external_ref: str | None  # the ticket number (or message id) the target returned


class DeliveryTarget(Protocol):
    """Creates one ticket per call; raises ``DeliveryFailed`` (and nothing else on purpose).
    Must be callable from the deliverer's thread; ``close`` frees connections."""

    name: str

    def deliver(self, escalation: Escalation) -> Delivered: ...

    def close(self) -> None: ...


# -- priorities and customers -------------------------------------------------------------------
# neutral priorities (as triage and the settings name them) -> each system's default names
ZAMMAD_PRIORITIES: Mapping[str, str] = {
    "low": "1 low",
    "normal": "2 normal",
    "high": "3 high",
    "urgent": "3 high",
}
ZNUNY_PRIORITIES: Mapping[str, str] = {
    "very low": "1 very low",
    "low": "2 low",
    "normal": "3 normal",
    "high": "4 high",
    "urgent": "5 very high",
    "very high": "5 very high",
}


def mapped_priority(priority: str, names: Mapping[str, str]) -> str:
    """The target's name of a neutral priority; anything else is passed on as it is."""
    return names.get(priority.strip().casefold(), priority)


@dataclass(frozen=True)
class CustomerRule:
    """Who the ticket is for: a fixed login/e-mail, else the employee's user id (with
    ``domain`` appended when it is not an e-mail address already)."""

    fixed: str | None = None
    domain: str | None = None

    def customer(self, escalation: Escalation) -> str:
        if self.fixed:
            return self.fixed
        user = escalation.user_id
        if self.domain and "@" not in user:
            return f"{user}@{self.domain.lstrip('@')}"
        return user


# -- HTTP ---------------------------------------------------------------------------------------
_STATUS_HINTS = {
    401: "check the target's credentials (token, user, password)",
    403: "the target's account may not create tickets here; check its permissions",
    404: "check the target's URL",
    422: "the target refused the ticket's fields: check queue/group, priority and customer",
}


def _http_client(timeout_s: float, transport: httpx.BaseTransport | None) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        transport=transport,
        headers={"User-Agent": USER_AGENT},
        trust_env=False,  # the company network, never a proxy from the environment
    )


def post_json(
    client: httpx.Client, name: str, url: str, body: bytes, headers: Mapping[str, str]
) -> httpx.Response:
    """POST ``body`` (JSON) and classify what can go wrong; returns a 2xx response."""
    try:
        response = client.post(
            url, content=body, headers={"Content-Type": "application/json", **headers}
        )
    except httpx.TimeoutException as exc:
        raise DeliveryFailed(
            f"{name}: no answer within {client.timeout.read or 0:g} s ({type(exc).__name__})",
            permanent=False,
        ) from exc
    except httpx.TransportError as exc:
        raise DeliveryFailed(
            f"{name}: cannot reach the target ({type(exc).__name__})",
            permanent=False,
            hint="check the URL and that the target is running",
        ) from exc
    status = response.status_code
    if 200 <= status < 300:
        return response
    transient = status in (408, 429) or status >= 500
    kind = "redirected" if 300 <= status < 400 else "refused the ticket"
    raise DeliveryFailed(
        f"{name}: the target {kind} (HTTP {status})",
        permanent=not transient,
        hint=None if transient else _STATUS_HINTS.get(status, "configure the final URL"),
    )


def response_json(name: str, response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise DeliveryFailed(
            f"{name}: the target's answer is not JSON (HTTP {response.status_code})",
            permanent=True,
            hint="check that the URL is the ticket API, not a web page",
        ) from exc
    if not isinstance(data, dict):
        raise DeliveryFailed(f"{name}: the target's answer is not a JSON object", permanent=True)
    return data


def _ref(value: object) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text[:200] or None


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds")


def webhook_payload(escalation: Escalation) -> dict[str, object]:
    e = escalation
    return {
        "event": "lotse.escalation",
        "escalation_id": e.escalation_id,
        "conversation_id": e.conversation_id,
        "user_id": e.user_id,
        "subject": e.subject,
        "description": e.description,
        "queue": e.queue,
        "priority": e.priority,
        "language": e.language,
        "reason": e.reason,
        "created": _iso(e.created),
        "ai_generated_content": True,  # the description quotes AI answers (marked as such)
    }


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, "<timestamp>.<body>")."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, "sha256")
    return "sha256=" + mac.hexdigest()


class WebhookTarget:
    """POST the escalation as JSON; the reference is ``ticket_number``, ``number`` or ``id``
    of a JSON answer, if any."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        timeout_s: float = 10.0,
        clock: Clock = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self._secret = secret
        self._clock = clock
        self._client = _http_client(timeout_s, transport)

    def deliver(self, escalation: Escalation) -> Delivered:
        body = json.dumps(webhook_payload(escalation), ensure_ascii=False).encode("utf-8")
        headers = {"Idempotency-Key": escalation.escalation_id}
        if self._secret:
            timestamp = str(int(self._clock()))
            headers["X-Lotse-Timestamp"] = timestamp
            headers["X-Lotse-Signature"] = signature(self._secret, timestamp, body)
        response = post_json(self._client, self.name, self.url, body, headers)
        ref: str | None = None
        if response.content:
            try:
                data = response.json()
            except ValueError:
                data = None
            if isinstance(data, dict):
                ref = next(
                    (
                        r
                        for r in (_ref(data.get(k)) for k in ("ticket_number", "number", "id"))
                        if r
                    ),
                    None,
                )
        return Delivered(ref)

    def close(self) -> None:
        self._client.close()


class ZammadTarget:
    """Zammad's REST API: ``POST {base}/api/v1/tickets`` with ``Authorization: Token
    token=...``; the queue is the Zammad group, the first article is the description."""

    name = "zammad"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        customer: CustomerRule | None = None,
        priorities: Mapping[str, str] = ZAMMAD_PRIORITIES,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/api/v1/tickets"
        self._token = token
        self._customer = customer or CustomerRule()
        self._priorities = priorities
        self._client = _http_client(timeout_s, transport)

    def payload(self, escalation: Escalation) -> dict[str, object]:
        e = escalation
        return {
            "title": e.subject,
            "group": e.queue,
            "customer": self._customer.customer(e),
            "priority": mapped_priority(e.priority, self._priorities),
            "article": {
                "subject": e.subject,
                "body": e.description,
                "content_type": "text/plain",
                "type": "web",
                "internal": False,
            },
        }

    def deliver(self, escalation: Escalation) -> Delivered:
        body = json.dumps(self.payload(escalation), ensure_ascii=False).encode("utf-8")
        headers = {
            "Authorization": f"Token token={self._token}",
            "Idempotency-Key": escalation.escalation_id,
        }
        data = response_json(self.name, post_json(self._client, self.name, self.url, body, headers))
        ref = _ref(data.get("number")) or _ref(data.get("id"))
        if ref is None:
            raise DeliveryFailed(
                "zammad: the answer has no ticket number", permanent=True, hint=_URL_HINT
            )
        return Delivered(ref)

    def close(self) -> None:
        self._client.close()


_URL_HINT = "check that the URL is the ticket system's API"
# Znuny error codes that no retry can fix (the rest may be a passing database problem)
_ZNUNY_PERMANENT = ("AuthFail", "MissingParameter", "InvalidParameter", "AccessDenied")


class ZnunyTarget:
    """A Znuny/OTRS GenericInterface REST web service with the ``TicketCreate`` operation
    routed at ``/Ticket`` (POST), e.g. ``GenericTicketConnectorREST``."""

    name = "znuny"

    def __init__(
        self,
        base_url: str,
        *,
        webservice: str = "GenericTicketConnectorREST",
        user: str | None = None,
        password: str | None = None,
        session_id: str | None = None,
        state: str = "new",
        customer: CustomerRule | None = None,
        priorities: Mapping[str, str] = ZNUNY_PRIORITIES,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not session_id and not (user and password):
            raise DeliveryFailed("znuny: needs user and password, or a session id", permanent=True)
        self.url = f"{base_url.rstrip('/')}/Webservice/{webservice}/Ticket"
        self._auth = (
            {"SessionID": session_id}
            if session_id
            else {"UserLogin": user or "", "Password": password or ""}
        )
        self._state = state
        self._customer = customer or CustomerRule()
        self._priorities = priorities
        self._client = _http_client(timeout_s, transport)

    def payload(self, escalation: Escalation) -> dict[str, object]:
        e = escalation
        customer = self._customer.customer(e)
        return {
            **self._auth,
            "Ticket": {
                "Title": e.subject,
                "Queue": e.queue,
                "Priority": mapped_priority(e.priority, self._priorities),
                "State": self._state,
                "CustomerUser": customer,
            },
            "Article": {
                "CommunicationChannel": "Internal",
                "SenderType": "customer",
                "IsVisibleForCustomer": 1,
                "From": customer,
                "Subject": e.subject,
                "Body": e.description,
                "ContentType": "text/plain; charset=utf8",
                "MimeType": "text/plain",
                "Charset": "utf8",
            },
        }

    def deliver(self, escalation: Escalation) -> Delivered:
        body = json.dumps(self.payload(escalation), ensure_ascii=False).encode("utf-8")
        data = response_json(self.name, post_json(self._client, self.name, self.url, body, {}))
        error = data.get("Error")
        if error is not None:
            code = str(error.get("ErrorCode", "unknown")) if isinstance(error, dict) else "unknown"
            code = code[:100]
            raise DeliveryFailed(
                f"znuny: the web service answered with the error {code}",
                permanent=code.endswith(_ZNUNY_PERMANENT),
                hint="the Znuny web service debugger shows the details",
            )
        ref = _ref(data.get("TicketNumber")) or _ref(data.get("TicketID"))
        if ref is None:
            raise DeliveryFailed(
                "znuny: the answer has no TicketNumber", permanent=True, hint=_URL_HINT
            )
        return Delivered(ref)

    def close(self) -> None:
        self._client.close()


class SmtpTarget:
    """An e-mail to the service desk's mailbox through the company's SMTP host."""

    name = "smtp"

    def __init__(
        self,
        host: str,
        *,
        port: int = 25,
        sender: str,
        recipients: tuple[str, ...],
        starttls: bool = False,
        user: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = recipients
        self.starttls = starttls
        self._user = user
        self._password = password
        self._timeout_s = timeout_s
        self._tls = tls_context

    def message(self, escalation: Escalation) -> EmailMessage:
        e = escalation
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Subject"] = e.subject
        domain = self.sender.rpartition("@")[2] or "lotse.invalid"
        msg["Message-ID"] = make_msgid(idstring=e.escalation_id[:16], domain=domain)
        msg["X-Lotse-Escalation"] = e.escalation_id
        msg["X-Lotse-Queue"] = e.queue
        msg["X-Lotse-Priority"] = e.priority
        msg["Content-Language"] = e.language
        msg.set_content(e.description)
        return msg

    def deliver(self, escalation: Escalation) -> Delivered:
        msg = self.message(escalation)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self._timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls(context=self._tls or ssl.create_default_context())
                if self._user:
                    smtp.login(self._user, self._password or "")
                smtp.send_message(msg, from_addr=self.sender, to_addrs=list(self.recipients))
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryFailed(
                f"smtp: login refused ({exc.smtp_code})",
                permanent=True,
                hint="check the SMTP user and password",
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryFailed(
                "smtp: the server does not support this (STARTTLS or login)",
                permanent=True,
                hint="turn STARTTLS off or use the company's submission port",
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise DeliveryFailed(
                f"smtp: the recipients were refused ({', '.join(map(str, codes))})",
                permanent=all(c >= 500 for c in codes),
                hint="check the recipient address",
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(
                f"smtp: the server refused the message ({exc.smtp_code})",
                permanent=exc.smtp_code >= 500,
            ) from exc
        except ssl.SSLError as exc:
            raise DeliveryFailed(
                f"smtp: TLS failed ({type(exc).__name__})",
                permanent=True,
                hint="check the server's certificate",
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(
                f"smtp: cannot deliver to {self.host}:{self.port} ({type(exc).__name__})",
                permanent=False,
            ) from exc
        return Delivered(str(msg["Message-ID"]))

    def close(self) -> None:
        return None


# -- the deliverer ------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_s: float = 2.0
    backoff_max_s: float = 300.0

    def delay(self, attempt: int) -> float:
        """Seconds before the attempt after ``attempt`` (1-based): doubling, capped."""
        return float(min(self.backoff_max_s, self.backoff_s * 2 ** max(0, attempt - 1)))


@dataclass(frozen=True)
class AttemptResult:
    escalation: Escalation | None  # None: it was gone (erased) or claimed by someone else
    retry_in: float | None = None  # seconds until the next attempt; None: nothing to do


class Deliverer:
    """Runs deliveries to ``target`` in one background thread (started on first use).

    Without a target (``none``), ``submit`` leaves escalations ``pending`` and ``retry`` is a
    ``Conflict``. ``on_change`` is told about every final status (delivered or failed).
    """

    def __init__(
        self,
        store: EscalationStore,
        target: DeliveryTarget | None,
        policy: RetryPolicy | None = None,
        *,
        clock: Clock = time.monotonic,
        on_final: Callable[[Escalation], None] | None = None,
    ) -> None:
        self.store = store
        self.target = target
        self.policy = policy or RetryPolicy()
        self._clock = clock
        self._on_final = on_final
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, str]] = []
        self._seq = 0
        self._active = 0
        self._closed = False
        self._thread: threading.Thread | None = None

    @property
    def configured(self) -> bool:
        return self.target is not None

    @property
    def target_name(self) -> str:
        return self.target.name if self.target is not None else "none"

    # -- scheduling -----------------------------------------------------------------------------
    def submit(self, escalation_id: str, delay_s: float = 0.0) -> bool:
        """Queue one delivery attempt; False when there is no target or after ``close``."""
        if self.target is None:
            return False
        with self._cond:
            if self._closed:
                return False
            self._seq += 1
            heapq.heappush(self._queue, (self._clock() + delay_s, self._seq, escalation_id))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="lotse-escalation-deliverer", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()
        return True

    def resume(self) -> int:
        """Queue what a previous run left unfinished (an attempt cut off by a stop is
        ``delivering``: it goes back to ``pending`` and counts as made)."""
        if self.target is None:
            return 0
        queued = 0
        for e in self.store.unfinished():
            if e.target != self.target_name:
                continue  # stored for another target (or none): not ours to send
            if e.status == "delivering":
                try:
                    self.store.update(
                        e.escalation_id,
                        status="pending",
                        attempts=e.attempts,
                        last_error=e.last_error or "the delivery was interrupted by a restart",
                        external_ref=None,
                        expect=("delivering",),
                    )
                except (Conflict, NotFound):
                    continue
            if self.submit(e.escalation_id):
                queued += 1
        if queued:
            logger.info("escalations_resumed count=%d target=%s", queued, self.target_name)
        return queued

    def retry(self, escalation_id: str) -> Escalation:
        """A failed escalation gets a fresh round of attempts (admin action)."""
        if self.target is None:
            raise Conflict(
                "no delivery target is configured, so there is nothing to retry",
                hint="set LOTSE_ESCALATION__TARGET (webhook, zammad, znuny or smtp)",
            )
        current = self.store.get(escalation_id)
        if current.status != "failed":
            raise Conflict(
                f"the escalation {escalation_id} is {current.status}; only a failed one "
                "can be retried",
                hint="GET /v1/escalations/{id} shows its status",
            )
        reset = self.store.update(
            escalation_id,
            status="pending",
            attempts=0,
            last_error=current.last_error,
            external_ref=None,
            expect=("failed",),
        )
        self.submit(escalation_id)
        return reset

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Block until nothing is queued or running (tests); False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._queue or self._active:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop after the running attempt; pending ones stay ``pending`` for ``resume``."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=timeout_s)
            if thread.is_alive():
                logger.warning("escalation_deliverer_stop_timeout seconds=%g", timeout_s)
        if self.target is not None:
            self.target.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    now = self._clock()
                    if self._queue and self._queue[0][0] <= now:
                        break
                    wait = self._queue[0][0] - now if self._queue else None
                    self._cond.wait(wait if wait is None else max(wait, 0.001))
                if self._closed:
                    return
                _, _, escalation_id = heapq.heappop(self._queue)
                self._active += 1
            result = AttemptResult(None)
            try:
                result = self.attempt(escalation_id)
            except Exception:
                logger.exception("escalation_attempt_crashed id=%s", escalation_id)
            finally:
                with self._cond:
                    if result.retry_in is not None and not self._closed:
                        # queued before the attempt counts as done, so wait_idle sees it
                        self._seq += 1
                        due = self._clock() + result.retry_in
                        heapq.heappush(self._queue, (due, self._seq, escalation_id))
                    self._active -= 1
                    self._cond.notify_all()

    # -- one attempt ----------------------------------------------------------------------------
    def attempt(self, escalation_id: str) -> AttemptResult:
        """One delivery attempt, synchronously: claim, deliver, record the outcome."""
        if self.target is None:
            return AttemptResult(None)
        try:
            current = self.store.get(escalation_id)
            if current.status != "pending":
                return AttemptResult(current)
            n = current.attempts + 1
            claimed = self.store.update(
                escalation_id,
                status="delivering",
                attempts=n,
                last_error=current.last_error,
                external_ref=None,
                expect=("pending",),
            )
        except (NotFound, Conflict):
            return AttemptResult(None)  # erased, or an admin's retry claimed it first
        try:
            delivered = self.target.deliver(claimed)
        except DeliveryFailed as exc:
            return self._failed(claimed, exc)
        except Exception as exc:  # a defect in a target: recorded, retried, logged in full
            logger.exception(
                "escalation_target_crashed id=%s target=%s", escalation_id, self.target.name
            )
            return self._failed(
                claimed,
                DeliveryFailed(
                    f"{self.target.name}: unexpected error ({type(exc).__name__})",
                    permanent=False,
                ),
            )
        try:
            done = self.store.update(
                escalation_id,
                status="delivered",
                attempts=n,
                last_error=None,
                external_ref=delivered.external_ref,
            )
        except NotFound:
            return AttemptResult(None)
        logger.info(
            "escalation_delivered id=%s target=%s attempts=%d ref=%s",
            escalation_id,
            self.target.name,
            n,
            delivered.external_ref,
        )
        self._final(done)
        return AttemptResult(done)

    def _failed(self, claimed: Escalation, exc: DeliveryFailed) -> AttemptResult:
        n = claimed.attempts
        last = exc.permanent or n >= self.policy.max_attempts
        message = (f"{exc.message}; {exc.hint}" if exc.hint else exc.message)[:500]
        try:
            stored = self.store.update(
                claimed.escalation_id,
                status="failed" if last else "pending",
                attempts=n,
                last_error=message,
                external_ref=None,
            )
        except NotFound:
            return AttemptResult(None)
        retry_in = None if last else self.policy.delay(n)
        logger.warning(
            "escalation_attempt_failed id=%s target=%s attempt=%d/%d permanent=%s retry_in=%s "
            "error=%s",
            claimed.escalation_id,
            self.target_name,
            n,
            self.policy.max_attempts,
            exc.permanent,
            retry_in,
            message,
        )
        if last:
            self._final(stored)
        return AttemptResult(stored, retry_in)

    def _final(self, escalation: Escalation) -> None:
        if self._on_final is None:
            return
        try:
            self._on_final(escalation)
        except Exception:
            logger.exception("escalation_final_hook_failed id=%s", escalation.escalation_id)
