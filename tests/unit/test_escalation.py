"""Escalations: drafts from conversations (German and English), the store contract (in memory
and SQLite), knowledge gaps, the delivery targets over a fake transport, and the deliverer's
retries with exponential backoff, permanent versus transient errors."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.conversations import Turn
from assistant.delivery import (
    CustomerRule,
    Delivered,
    Deliverer,
    DeliveryFailed,
    RetryPolicy,
    WebhookTarget,
    ZammadTarget,
    ZnunyTarget,
    mapped_priority,
    signature,
)
from assistant.escalation import (
    Draft,
    Escalation,
    EscalationStore,
    GapQuestion,
    InMemoryEscalationStore,
    SqliteEscalationStore,
    audit_event,
    build_draft,
    knowledge_gaps,
    new_escalation,
    triage,
)
from knowledge.lexical import Analyzer
from models.errors import Conflict, InvalidInput, NotFound

MODEL = "qwen2.5-1.5b"
NOT_FOUND_DE = "Dazu habe ich in der Wissensbasis nichts gefunden."
VPN_SOURCE = {"source_id": "it/vpn.md", "title": "VPN", "heading": "VPN > Mac", "snippet": "…"}


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def answer(text: str, answer_id: str, *, abstained: bool = False, sources: tuple = ()) -> Turn:
    return Turn(
        "assistant", text, answer_id=answer_id, abstained=abstained, sources=sources, model=MODEL
    )


# -- drafts ---------------------------------------------------------------------------------------
def test_a_german_abstention_becomes_a_german_draft() -> None:
    turns = [
        Turn("user", "Wie viele Urlaubstage habe ich?"),
        answer(NOT_FOUND_DE, "a1", abstained=True),
    ]
    draft = build_draft(turns)
    assert draft == Draft(
        subject="Anfrage: Wie viele Urlaubstage habe ich?",
        description=(
            "Verlauf mit dem Self-Service-Assistenten Lotse\n"
            "Grund: Lotse hat in der Wissensbasis keine Antwort gefunden.\n\n"
            "Frage: Wie viele Urlaubstage habe ich?\n"
            f"Antwort (KI-generiert, Modell {MODEL}): {NOT_FOUND_DE}"
        ),
        language="de",
        reason="abstained",
    )


def test_an_english_answer_that_did_not_help_lists_questions_answers_and_sources() -> None:
    turns = [
        Turn("user", "How do I connect to the VPN from home?"),
        answer(
            "Start Cisco AnyConnect and connect to vpn.nordwind.de.", "a1", sources=(VPN_SOURCE,)
        ),
        Turn("user", "And what if the connection keeps dropping?"),
        answer("Restart the client.", "a2", sources=(VPN_SOURCE, VPN_SOURCE)),
        Turn("user", "Something unrelated later"),
        answer("Later answer.", "a3"),
    ]
    draft = build_draft(turns, answer_id="a2", reason="not_helpful")
    assert draft.language == "en"
    assert draft.subject == "Request: And what if the connection keeps dropping?"
    assert draft.description == (
        "Conversation with the self-service assistant Lotse\n"
        "Reason: Lotse's answer did not help.\n\n"
        "Question 1: How do I connect to the VPN from home?\n"
        f"Answer (AI-generated, model {MODEL}) 1: "
        "Start Cisco AnyConnect and connect to vpn.nordwind.de.\n"
        "Cited sources: VPN (it/vpn.md)\n\n"
        "Question 2: And what if the connection keeps dropping?\n"
        f"Answer (AI-generated, model {MODEL}) 2: Restart the client.\n"
        "Cited sources: VPN (it/vpn.md)"
    )
    assert "Later answer" not in draft.description


def test_without_an_answer_id_the_subject_is_the_last_abstained_question() -> None:
    turns = [
        Turn("user", "Wie verbinde ich mich mit dem VPN?"),
        answer("Starten Sie Cisco AnyConnect.", "a1"),
        Turn("user", "Wie beantrage ich einen neuen Dienstwagen?"),
        answer(NOT_FOUND_DE, "a2", abstained=True),
    ]
    draft = build_draft(turns)
    assert draft.subject == "Anfrage: Wie beantrage ich einen neuen Dienstwagen?"
    assert "Frage 1: Wie verbinde ich mich mit dem VPN?" in draft.description
    assert "Frage 2: Wie beantrage ich einen neuen Dienstwagen?" in draft.description
    # nothing abstained: the first question is the subject
    assert build_draft(turns[:2]).subject == "Anfrage: Wie verbinde ich mich mit dem VPN?"
    assert build_draft(turns[:2]).reason is None


def test_long_questions_are_cut_and_bad_requests_are_refused() -> None:
    long = "Warum " + "sehr " * 60 + "lange Frage?"
    draft = build_draft([Turn("user", long), answer(NOT_FOUND_DE, "a1", abstained=True)])
    assert len(draft.subject) == len("Anfrage: ") + 120
    assert draft.subject.endswith("…")
    with pytest.raises(InvalidInput):
        build_draft([])
    with pytest.raises(NotFound):
        build_draft([Turn("user", "Frage?"), answer("x", "a1")], answer_id="other")


def test_triage_hint_or_defaults() -> None:
    assert triage(None, "s", "b", "Users", "normal") == ("Users", "normal")
    seen: list[tuple[str, str]] = []

    def hint(subject: str, body: str) -> tuple[str | None, str | None]:
        seen.append((subject, body))
        return "IT::VPN", None

    assert triage(hint, "VPN", "bricht ab", "Users", "normal") == ("IT::VPN", "normal")
    assert seen == [("VPN", "bricht ab")]


# -- the store contract ---------------------------------------------------------------------------
@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "sqlite"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock
) -> Iterator[EscalationStore]:
    s: EscalationStore = (
        InMemoryEscalationStore(clock)
        if request.param == "memory"
        else SqliteEscalationStore.in_data_dir(tmp_path, clock)
    )
    yield s
    s.close()


def escalation(
    user: str = "alice", subject: str = "Anfrage: VPN", target: str = "webhook"
) -> Escalation:
    return new_escalation(
        user_id=user,
        conversation_id="c1",
        draft=Draft(subject, "Frage: Wie verbinde ich mich mit dem VPN?", "de", "abstained"),
        queue="Users",
        priority="normal",
        reason=None,
        answer_id="a1",
        target=target,
    )


def test_store_adds_gets_and_updates_with_expected_status(
    store: EscalationStore, clock: Clock
) -> None:
    added = store.add(escalation())
    assert (added.status, added.attempts, added.created, added.reason) == (
        "pending",
        0,
        clock.now,
        "abstained",
    )
    assert store.get(added.escalation_id) == added
    clock.advance(5)
    claimed = store.update(
        added.escalation_id,
        status="delivering",
        attempts=1,
        last_error=None,
        external_ref=None,
        expect=("pending",),
    )
    assert (claimed.status, claimed.attempts, claimed.updated) == ("delivering", 1, clock.now)
    assert store.get(added.escalation_id) == claimed
    with pytest.raises(Conflict):
        store.update(
            added.escalation_id,
            status="delivering",
            attempts=2,
            last_error=None,
            external_ref=None,
            expect=("pending",),
        )
    done = store.update(
        added.escalation_id, status="delivered", attempts=1, last_error=None, external_ref="31001"
    )
    assert store.get(added.escalation_id).external_ref == "31001" == done.external_ref
    with pytest.raises(NotFound):
        store.get("missing")
    with pytest.raises(NotFound):
        store.update("missing", status="failed", attempts=1, last_error="x", external_ref=None)


def test_store_lists_newest_first_per_user_and_unfinished_oldest_first(
    store: EscalationStore, clock: Clock
) -> None:
    first = store.add(escalation("alice"))
    clock.advance(1)
    second = store.add(escalation("bob"))
    clock.advance(1)
    third = store.add(escalation("alice"))
    ids = [e.escalation_id for e in store.recent()]
    assert ids == [third.escalation_id, second.escalation_id, first.escalation_id]
    assert [e.escalation_id for e in store.recent(user_id="alice")] == [
        third.escalation_id,
        first.escalation_id,
    ]
    assert [e.escalation_id for e in store.recent(since=clock.now - 1)] == [
        third.escalation_id,
        second.escalation_id,
    ]
    assert len(store.recent(limit=1)) == 1
    store.update(
        second.escalation_id, status="failed", attempts=5, last_error="x", external_ref=None
    )
    assert [e.escalation_id for e in store.unfinished()] == [
        first.escalation_id,
        third.escalation_id,
    ]


def test_store_forgets_a_user_and_matching_texts(store: EscalationStore) -> None:
    store.add(escalation("alice"))
    store.add(escalation("alice", subject="Anfrage: Drucker von Erika Mustermann"))
    bob = store.add(escalation("bob", subject="Anfrage: erika mustermann hat kein VPN"))
    assert store.forget_matching("ERIKA Mustermann", dry_run=True) == 2
    assert len(store.recent()) == 3
    assert store.forget_matching("Erika Mustermann") == 2
    assert [e.user_id for e in store.recent()] == ["alice"]
    assert store.forget_user("alice") == 1
    assert store.recent() == []
    with pytest.raises(NotFound):
        store.get(bob.escalation_id)


def test_the_sqlite_store_keeps_escalations_across_reopen(tmp_path: Path) -> None:
    first = SqliteEscalationStore.in_data_dir(tmp_path)
    try:
        added = first.add(escalation())
    finally:
        first.close()
    assert (tmp_path / "escalations.sqlite3").is_file()
    again = SqliteEscalationStore.in_data_dir(tmp_path)
    try:
        assert again.get(added.escalation_id) == added
    finally:
        again.close()


def test_the_audit_event_holds_digests_and_no_texts() -> None:
    e = escalation()
    event = audit_event(e, action="created", user_id="alice", role="employee", edited=True)
    assert (event.event, event.request_id, event.question, event.answer) == (
        "escalation",
        e.escalation_id,
        None,
        None,
    )
    assert event.details["subject_sha256"] == hashlib.sha256(e.subject.encode()).hexdigest()
    assert event.details["edited"] is True
    assert "VPN" not in json.dumps(dict(event.details))


# -- knowledge gaps -------------------------------------------------------------------------------
def test_gaps_group_questions_by_their_key_terms_in_both_languages() -> None:
    questions = [
        GapQuestion("Wie viele Urlaubstage habe ich?", 10.0, "abstained"),
        GapQuestion("Wie viele Urlaubstage habe ich noch?", 30.0, "abstained"),
        GapQuestion("Urlaubstage 2026", 20.0, "escalated"),
        GapQuestion("Wie viele Tage Homeoffice darf ich machen?", 15.0, "abstained"),
        GapQuestion("How do I book a parking space?", 25.0, "abstained"),
        GapQuestion("Can I book parking spaces for visitors?", 5.0, "escalated"),
        GapQuestion("?!", 40.0, "abstained"),
    ]
    gaps = knowledge_gaps(questions, Analyzer())
    summary = [(g.topic, g.count, g.abstained, g.escalated, g.example, g.last_seen) for g in gaps]
    assert summary == [
        ("urlaubstage", 3, 2, 1, "Wie viele Urlaubstage habe ich noch?", 30.0),
        ("book parking space", 2, 1, 1, "How do I book a parking space?", 25.0),
        ("tage homeoffice", 1, 1, 0, "Wie viele Tage Homeoffice darf ich machen?", 15.0),
    ]
    assert knowledge_gaps(questions, Analyzer(), limit=1)[0].topic == "urlaubstage"


# -- targets over a fake transport ----------------------------------------------------------------
def delivered_escalation() -> Escalation:
    return Escalation(
        escalation_id="e" * 32,
        user_id="alice",
        conversation_id="c1",
        subject="Anfrage: VPN",
        description="Frage: VPN?",
        queue="IT",
        priority="high",
        language="de",
        reason="abstained",
        target="zammad",
        created=1_000_000.0,
    )


def test_the_webhook_signs_timestamp_and_body() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"ticket_number": "WH-7"})

    target = WebhookTarget(
        "http://hooks.local/lotse",
        secret="s3cret",
        clock=lambda: 1_700_000_000.5,
        transport=httpx.MockTransport(handler),
    )
    try:
        assert target.deliver(delivered_escalation()) == Delivered("WH-7")
    finally:
        target.close()
    request = seen[0]
    body = request.content
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert request.headers["X-Lotse-Timestamp"] == "1700000000"
    assert request.headers["X-Lotse-Signature"] == f"sha256={expected}"
    assert signature("s3cret", "1700000000", body) == f"sha256={expected}"
    payload = json.loads(body)
    assert (payload["subject"], payload["queue"], payload["user_id"]) == (
        "Anfrage: VPN",
        "IT",
        "alice",
    )


@pytest.mark.parametrize(
    "status,permanent",
    [
        (400, True),
        (401, True),
        (404, True),
        (422, True),
        (302, True),
        (408, False),
        (429, False),
        (500, False),
        (503, False),
    ],
)
def test_http_errors_are_permanent_or_transient(status: int, permanent: bool) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json={"error": "x"}))
    target = ZammadTarget("http://zammad.local", "tok", transport=transport)
    try:
        with pytest.raises(DeliveryFailed) as caught:
            target.deliver(delivered_escalation())
    finally:
        target.close()
    assert caught.value.permanent is permanent
    assert f"HTTP {status}" in caught.value.message
    assert "VPN" not in str(caught.value)  # no ticket text in errors


def test_a_refused_connection_is_transient() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    target = WebhookTarget("http://hooks.local/", transport=httpx.MockTransport(refuse))
    try:
        with pytest.raises(DeliveryFailed) as caught:
            target.deliver(delivered_escalation())
    finally:
        target.close()
    assert caught.value.permanent is False
    assert caught.value.message == "webhook: cannot reach the target (ConnectError)"


def test_zammad_and_znuny_payloads_map_priority_and_customer() -> None:
    rule = CustomerRule(domain="nordwind.example")
    zammad = ZammadTarget(
        "http://zammad.local/",
        "tok",
        customer=rule,
        transport=httpx.MockTransport(lambda r: httpx.Response(500)),
    )
    znuny = ZnunyTarget(
        "http://znuny.local/otrs/nph-genericinterface.pl",
        user="lotse",
        password="pw",
        customer=CustomerRule(fixed="servicedesk@nordwind.example"),
        transport=httpx.MockTransport(lambda r: httpx.Response(500)),
    )
    try:
        z = zammad.payload(delivered_escalation())
        assert zammad.url == "http://zammad.local/api/v1/tickets"
        assert (z["group"], z["customer"], z["priority"]) == (
            "IT",
            "alice@nordwind.example",
            "3 high",
        )
        assert z["article"] == {
            "subject": "Anfrage: VPN",
            "body": "Frage: VPN?",
            "content_type": "text/plain",
            "type": "web",
            "internal": False,
        }
        n = znuny.payload(delivered_escalation())
        assert znuny.url == (
            "http://znuny.local/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST/Ticket"
        )
        assert (n["UserLogin"], n["Password"]) == ("lotse", "pw")
        assert n["Ticket"] == {
            "Title": "Anfrage: VPN",
            "Queue": "IT",
            "Priority": "4 high",
            "State": "new",
            "CustomerUser": "servicedesk@nordwind.example",
        }
    finally:
        zammad.close()
        znuny.close()
    assert mapped_priority("Normal", {"normal": "2 normal"}) == "2 normal"
    assert mapped_priority("P1", {"normal": "2 normal"}) == "P1"


@pytest.mark.parametrize(
    "code,permanent",
    [
        ("TicketCreate.AuthFail", True),
        ("TicketCreate.InvalidParameter", True),
        ("TicketCreate.UnableToCreate", False),
    ],
)
def test_a_znuny_error_with_http_200_is_a_failure(code: str, permanent: bool) -> None:
    body = {"Error": {"ErrorCode": code, "ErrorMessage": "Ticket->CustomerUser alice invalid"}}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    target = ZnunyTarget("http://znuny.local", session_id="sess", transport=transport)
    try:
        with pytest.raises(DeliveryFailed) as caught:
            target.deliver(delivered_escalation())
    finally:
        target.close()
    assert caught.value.permanent is permanent
    assert caught.value.message == f"znuny: the web service answered with the error {code}"
    assert "alice" not in str(caught.value)


# -- the deliverer --------------------------------------------------------------------------------
class ScriptedTarget:
    """Replays outcomes: a ticket reference, or a ``DeliveryFailed`` to raise."""

    name = "webhook"

    def __init__(self, *outcomes: str | Exception) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[str, str, int]] = []
        self.closed = False
        self.lock = threading.Lock()

    def deliver(self, e: Escalation) -> Delivered:
        with self.lock:
            self.calls.append((e.escalation_id, e.status, e.attempts))
            outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return Delivered(outcome)

    def close(self) -> None:
        self.closed = True


def transient(n: int = 503) -> DeliveryFailed:
    return DeliveryFailed(f"webhook: the target refused the ticket (HTTP {n})", permanent=False)


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=8, backoff_s=2.0, backoff_max_s=20.0)
    assert [policy.delay(n) for n in range(1, 7)] == [2.0, 4.0, 8.0, 16.0, 20.0, 20.0]


def test_transient_errors_are_retried_with_backoff_until_delivered() -> None:
    store = InMemoryEscalationStore()
    target = ScriptedTarget(transient(503), transient(429), "T-1")
    deliverer = Deliverer(store, target, RetryPolicy(max_attempts=5, backoff_s=1.0))
    e = store.add(escalation())
    first = deliverer.attempt(e.escalation_id)
    assert first.escalation is not None and first.retry_in == 1.0
    assert (first.escalation.status, first.escalation.attempts) == ("pending", 1)
    assert first.escalation.last_error == "webhook: the target refused the ticket (HTTP 503)"
    second = deliverer.attempt(e.escalation_id)
    assert second.retry_in == 2.0
    third = deliverer.attempt(e.escalation_id)
    assert third.retry_in is None and third.escalation is not None
    done = store.get(e.escalation_id)
    assert (done.status, done.attempts, done.external_ref, done.last_error) == (
        "delivered",
        3,
        "T-1",
        None,
    )
    # the target saw the escalation claimed as delivering, one attempt more each time
    assert [(s, n) for _, s, n in target.calls] == [
        ("delivering", 1),
        ("delivering", 2),
        ("delivering", 3),
    ]
    assert deliverer.attempt(e.escalation_id).escalation == done  # final: nothing more happens
    assert len(target.calls) == 3
    deliverer.close()
    assert target.closed


def test_a_permanent_error_fails_at_once() -> None:
    store = InMemoryEscalationStore()
    finals: list[Escalation] = []
    error = DeliveryFailed("zammad: the target refused the ticket (HTTP 422)", permanent=True)
    deliverer = Deliverer(
        store, ScriptedTarget(error), RetryPolicy(max_attempts=5), on_final=finals.append
    )
    e = store.add(escalation())
    result = deliverer.attempt(e.escalation_id)
    assert result.retry_in is None
    failed = store.get(e.escalation_id)
    assert (failed.status, failed.attempts, failed.last_error) == (
        "failed",
        1,
        "zammad: the target refused the ticket (HTTP 422)",
    )
    assert finals == [failed]
    deliverer.close()


def test_the_background_thread_retries_until_max_attempts_then_fails() -> None:
    store = InMemoryEscalationStore()
    target = ScriptedTarget(*(transient(500 + i) for i in range(3)))
    deliverer = Deliverer(store, target, RetryPolicy(max_attempts=3, backoff_s=0.01))
    try:
        e = store.add(escalation())
        assert deliverer.submit(e.escalation_id)
        assert deliverer.wait_idle(10)
        failed = store.get(e.escalation_id)
        assert (failed.status, failed.attempts) == ("failed", 3)
        assert failed.last_error == "webhook: the target refused the ticket (HTTP 502)"
        assert len(target.calls) == 3
        # an admin's retry gives a fresh round
        target.outcomes.append("T-9")
        reset = deliverer.retry(e.escalation_id)
        assert (reset.status, reset.attempts) == ("pending", 0)
        assert deliverer.wait_idle(10)
        assert store.get(e.escalation_id).external_ref == "T-9"
        with pytest.raises(Conflict):
            deliverer.retry(e.escalation_id)  # delivered: nothing to retry
    finally:
        deliverer.close()


def test_close_leaves_a_waiting_retry_pending_and_resume_delivers_it() -> None:
    store = InMemoryEscalationStore()
    deliverer = Deliverer(store, ScriptedTarget(transient()), RetryPolicy(backoff_s=60))
    e = store.add(escalation())
    deliverer.submit(e.escalation_id)
    assert deliverer.wait_idle(0.2) is False  # the retry waits a minute
    deliverer.close(timeout_s=5)
    assert deliverer.submit(e.escalation_id) is False
    pending = store.get(e.escalation_id)
    assert (pending.status, pending.attempts) == ("pending", 1)
    # an attempt cut off by a crash stays "delivering": the next start resumes it too
    cut = store.add(escalation("bob"))
    store.update(
        cut.escalation_id, status="delivering", attempts=2, last_error=None, external_ref=None
    )
    other = store.add(escalation("carol", target="none"))
    again = Deliverer(store, ScriptedTarget("T-1", "T-2"), RetryPolicy(backoff_s=0.01))
    try:
        assert again.resume() == 2
        assert again.wait_idle(10)
        assert store.get(e.escalation_id).status == "delivered"
        resumed = store.get(cut.escalation_id)
        assert (resumed.status, resumed.attempts) == ("delivered", 3)
        assert store.get(other.escalation_id).status == "pending"  # not for this target
    finally:
        again.close()


def test_without_a_target_drafts_stay_pending() -> None:
    store = InMemoryEscalationStore()
    deliverer = Deliverer(store, None)
    e = store.add(escalation(target="none"))
    assert deliverer.configured is False and deliverer.target_name == "none"
    assert deliverer.submit(e.escalation_id) is False
    assert deliverer.resume() == 0
    with pytest.raises(Conflict):
        deliverer.retry(e.escalation_id)
    assert store.get(e.escalation_id).status == "pending"
    deliverer.close()


def test_an_erased_escalation_is_skipped() -> None:
    store = InMemoryEscalationStore()
    target = ScriptedTarget("T-1")
    deliverer = Deliverer(store, target)
    e = store.add(escalation())
    store.forget_user("alice")
    assert deliverer.attempt(e.escalation_id).escalation is None
    assert target.calls == []
    deliverer.close()


# -- settings -------------------------------------------------------------------------------------
def test_each_target_needs_its_settings_and_secrets_stay_hidden(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from pydantic import ValidationError

    from api.settings import EscalationSettings, Settings

    assert EscalationSettings().target == "none"
    with pytest.raises(ValidationError, match="'zammad' needs zammad_url, zammad_token"):
        EscalationSettings(target="zammad")
    with pytest.raises(ValidationError, match="'znuny' needs znuny_user and znuny_password"):
        EscalationSettings(target="znuny", znuny_url="http://znuny.local", znuny_user="lotse")
    with pytest.raises(ValidationError, match="'smtp' needs smtp_host, smtp_from, smtp_to"):
        EscalationSettings(target="smtp")
    monkeypatch.setenv("LOTSE_ESCALATION__TARGET", "webhook")
    monkeypatch.setenv("LOTSE_ESCALATION__WEBHOOK_URL", "https://hooks.nordwind.example/lotse")
    monkeypatch.setenv("LOTSE_ESCALATION__WEBHOOK_SECRET", "top-secret-value")
    monkeypatch.setenv("LOTSE_ESCALATION__SMTP_TO", '["a@nordwind.example"]')
    settings = Settings(data_dir=tmp_path)
    e = settings.escalation
    assert (e.target, e.webhook_url, e.smtp_to) == (
        "webhook",
        "https://hooks.nordwind.example/lotse",
        ("a@nordwind.example",),
    )
    assert e.webhook_secret is not None
    assert e.webhook_secret.get_secret_value() == "top-secret-value"
    assert "top-secret-value" not in repr(settings)
