"""The agent workspace in a real browser against the real ticket API: the ticket list of an
import, a suggestion for an open ticket (the AI-labelled draft, similar solved tickets with their
similarity, the triage with its confidence) and the agent's decision as recorded by the server and
the audit log; a pasted ticket edited and sent; and a hostile ticket subject shown inert."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, expect

from assistant.audit import sha256_text
from assistant.ticket_store import StoredTicket
from knowledge.tickets import Message, Ticket, ticket_documents
from tests.browser.conftest import (
    MODEL_ID,
    OpenPage,
    Portal,
    assert_no_script_errors,
    assert_translated,
    screenshot,
)

pytestmark = pytest.mark.browser

SOURCE = "tickets"
HOSTILE = '<img src=x onerror="window.__pwned=1">'
SOLUTION = "Bitte das VPN Zertifikat im Firmenportal erneuern und AnyConnect neu starten."
PRINTER_SOLUTION = "Remove the paper tray, clear the jammed paper and reload the printer tray."


def _ticket(
    tid: str,
    subject: str,
    problem: str,
    resolution: str,
    *,
    queue: str,
    priority: str,
    language: str,
    day: int,
    status: str = "closed",
) -> Ticket:
    thread = [Message("Jens Meyer", problem)]
    if resolution:
        thread.append(Message("Servicedesk", resolution, "agent"))
    return Ticket(
        id=tid,
        subject=subject,
        thread=tuple(thread),
        resolution=resolution,
        status=status,
        queue=queue,
        priority=priority,
        type="incident",
        language=language,
        created=datetime(2024, 3, day, 9, 0),
        closed=datetime(2024, 3, day, 11, 0) if resolution else None,
    )


SOLVED = [
    _ticket(
        "T-100",
        "VPN Zertifikat ungültig",
        "AnyConnect meldet Zertifikat ungültig im Homeoffice.",
        SOLUTION,
        queue="IT-Netzwerk",
        priority="high",
        language="de",
        day=1,
    ),
    _ticket(
        "T-101",
        "VPN Zertifikat abgelaufen",
        "AnyConnect sagt Zertifikat abgelaufen, VPN geht nicht.",
        "Das VPN Zertifikat im Firmenportal erneuern, dann AnyConnect neu starten.",
        queue="IT-Netzwerk",
        priority="normal",
        language="de",
        day=2,
    ),
    _ticket(
        "T-102",
        "Printer jams on floor 2",
        "The printer on floor 2 jams with every print job.",
        PRINTER_SOLUTION,
        queue="IT-Arbeitsplatz",
        priority="low",
        language="en",
        day=3,
    ),
]
OPEN = _ticket(
    "T-200",
    "AnyConnect: VPN Zertifikat ungültig",
    "Seit heute meldet AnyConnect im Homeoffice: Zertifikat ungültig, kein VPN.",
    "",
    queue="",
    priority="",
    language="de",
    day=20,
    status="open",
)


def seed(portal: Portal, solved: list[Ticket], open_tickets: list[Ticket]) -> None:
    """As ``lotse tickets import`` does: both document kinds indexed, every ticket stored."""
    docs = ticket_documents(solved + open_tickets, source=SOURCE, acl=("everyone",))
    indexer = portal.services.knowledge.indexer
    indexer.sync_documents(SOURCE, docs.knowledge)
    indexer.sync_documents(SOURCE + "-full", docs.agents)
    portal.services.tickets.upsert(
        [StoredTicket.from_ticket(t, origin="import", source=SOURCE) for t in solved + open_tickets]
    )
    portal.llm.token_delay_s = 0.0


def agent_page(portal: Portal, open_page: Callable[..., OpenPage], locale: str) -> OpenPage:
    opened = open_page(f"{portal.url}/#agent", locale=locale)
    expect(opened.page.locator("#agent-view")).to_be_visible()
    expect(opened.page.locator("#agent-view")).to_have_attribute("data-list-loaded", "true")
    return opened


def share(value: float, locale: str) -> str:
    """What Intl.NumberFormat shows for a share (0..1) with no decimals."""
    percent = math.floor(value * 100 + 0.5)
    return f"{percent} %" if locale == "de" else f"{percent}%"


def api_ticket(portal: Portal, ticket_id: str) -> dict[str, Any]:
    response = httpx.get(f"{portal.url}/v1/tickets/{ticket_id}", timeout=10)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def decision_records(portal: Portal, suggestion_id: str) -> list[Any]:
    return [
        r
        for r in portal.services.audit.records()
        if r.event == "suggestion_decision" and r.request_id == suggestion_id
    ]


def assert_similar_and_triage(area: Locator, suggestion: dict[str, Any], locale: str) -> None:
    similar = suggestion["similar"]
    assert [s["ticket_id"] for s in similar][:2] in (["T-100", "T-101"], ["T-101", "T-100"])
    items = area.locator(".similar")
    expect(items).to_have_count(len(similar))
    for n, expected in enumerate(similar):
        item = items.nth(n)
        expect(item).to_have_attribute("data-ticket-id", expected["ticket_id"])
        expect(item.locator(".similar-subject")).to_have_text(expected["subject"])
        expect(item.locator(".confidence-text")).to_have_text(share(expected["similarity"], locale))
        expect(item.locator(".similar-resolution")).to_contain_text(expected["resolution_snippet"])
    assert similar[0]["similarity"] > 0, similar
    queue = suggestion["triage"]["queue"]
    assert queue["value"] == "IT-Netzwerk" and queue["confidence"] > 0.5, queue
    row = area.locator(".triage-row[data-field='queue']")
    expect(row.locator(".triage-value")).to_have_text("IT-Netzwerk")
    expect(row.locator(".confidence-text")).to_have_text(share(queue["confidence"], locale))


def test_german_agent_accepts_the_draft_for_an_open_ticket(
    portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    seed(portal, SOLVED, [OPEN])
    draft = f"Guten Tag, {SOLUTION}"
    portal.llm.queue(draft)

    opened = agent_page(portal, open_page, "de-DE")
    page = opened.page
    view = page.locator("#agent-view")
    expect(view.locator(".view-title")).to_have_text("Agenten-Arbeitsplatz")
    items = view.locator(".ticket-item")
    # newest first: the open ticket, then the solved ones
    expect(items).to_have_count(4)
    assert [items.nth(n).get_attribute("data-ticket-id") for n in range(4)] == [
        "T-200",
        "T-102",
        "T-101",
        "T-100",
    ]
    expect(items.first.locator(".ticket-item-subject")).to_have_text(OPEN.subject)
    expect(items.first.locator(".origin")).to_have_text("importiert")
    expect(items.first).not_to_contain_text("Vorschlag vorhanden")

    items.first.click()
    expect(items.first).to_have_attribute("aria-current", "true")
    detail = view.locator(".ticket-detail")
    expect(detail).to_have_attribute("data-ticket-id", "T-200")
    expect(detail.locator(".ticket-subject")).to_have_text(OPEN.subject)
    expect(detail.locator(".ticket-body")).to_have_text(OPEN.problem)
    expect(detail.locator(".suggestion-area .empty")).to_have_text(
        "Für dieses Ticket gibt es noch keinen Vorschlag."
    )
    detail.get_by_role("button", name="Vorschlag erstellen").click()

    panel = detail.locator(".suggestion")
    expect(panel.locator(".ai-badge")).to_have_text("KI-Entwurf")
    expect(panel.locator(".draft-notice")).to_contain_text("Von einer KI erstellt")
    expect(panel.locator(".model-id")).to_have_text(MODEL_ID)
    expect(panel.locator(".draft-text")).to_have_value(draft)
    expect(panel.locator(".draft-source").first).to_be_visible()
    stored = api_ticket(portal, "T-200")["suggestion"]
    assert stored is not None and stored["decision"] is None
    assert stored["draft"] == draft and stored["ai_generated"] is True
    expect(panel).to_have_attribute("data-suggestion-id", stored["suggestion_id"])
    assert_similar_and_triage(detail, stored, "de")
    expect(items.first).to_contain_text("Vorschlag vorhanden")  # the list was refreshed
    assert_translated(page)

    accept = panel.get_by_role("button", name="Übernehmen")
    expect(panel.get_by_role("button", name="Bearbeitet senden")).to_be_disabled()
    accept.click()
    status = panel.locator(".decision-status")
    expect(status).to_contain_text("Übernommen – gespeichert.")
    expect(status).to_contain_text("Die Entscheidung steht im Audit-Log.")
    expect(panel).to_have_attribute("data-decision", "accept")
    for name in ("Übernehmen", "Bearbeitet senden", "Ablehnen"):
        expect(panel.get_by_role("button", name=name)).to_be_disabled()
    screenshot(page, "agent-de")

    sid = stored["suggestion_id"]
    assert opened.recorder.bodies("POST", f"v1/tickets/T-200/suggestion/{sid}/decision") == [
        {"decision": "accept"}
    ]
    assert api_ticket(portal, "T-200")["suggestion"]["decision"] == "accept"
    records = decision_records(portal, sid)
    assert [(r.details["decision"], r.answer_sha256) for r in records] == [("accept", None)]
    assert portal.services.audit.verify().ok

    # opened again later, the suggestion shows as decided: it cannot be decided twice
    page.reload()
    page.wait_for_selector("body[data-restored='true']")
    expect(view).to_have_attribute("data-list-loaded", "true")
    view.locator(".ticket-item[data-ticket-id='T-200']").click()
    again = view.locator(".ticket-detail .suggestion")
    expect(again).to_have_attribute("data-decision", "accept")
    expect(again.locator(".decision-status")).to_contain_text("Übernommen – gespeichert.")
    expect(again.get_by_role("button", name="Übernehmen")).to_be_disabled()
    expect(again.get_by_role("button", name="Ablehnen")).to_be_disabled()
    assert len(decision_records(portal, sid)) == 1
    assert_no_script_errors(opened.recorder)


def test_english_agent_edits_and_sends_the_draft_for_a_pasted_ticket(
    portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    seed(portal, SOLVED, [])
    portal.llm.queue(f"Hello, {PRINTER_SOLUTION}")

    opened = agent_page(portal, open_page, "en-US")
    page = opened.page
    view = page.locator("#agent-view")
    expect(view.locator(".view-title")).to_have_text("Agent workspace")
    expect(view.locator(".ticket-item")).to_have_count(3)
    expect(view.locator(".ticket-detail .empty")).to_have_text(
        "Pick a ticket on the left or paste one."
    )
    form = view.locator(".paste-form")
    subject = form.locator("input[name='subject']")
    form.locator("textarea[name='body']").fill(
        "The printer on floor 2 jams with every print job, the paper is stuck in the tray."
    )
    # the API needs a subject: without one nothing is sent and the field asks for it
    form.get_by_role("button", name="Suggest a reply").click()
    expect(subject).to_be_focused()
    assert opened.recorder.bodies("POST", "v1/tickets/suggest") == []
    subject.fill("Printer on floor 2 jams")
    form.get_by_role("button", name="Suggest a reply").click()

    detail = view.locator(".ticket-detail")
    expect(detail).to_have_attribute("data-ticket-id", "-")
    expect(detail.locator(".dialog-kicker")).to_have_text("Pasted ticket")
    expect(detail.locator(".ticket-subject")).to_have_text("Printer on floor 2 jams")
    panel = detail.locator(".suggestion")
    expect(panel.locator(".ai-badge")).to_have_text("AI draft")
    text = panel.locator(".draft-text")
    expect(text).to_have_value(f"Hello, {PRINTER_SOLUTION}")
    expect(text).to_have_attribute("lang", "en")
    suggested = opened.recorder.bodies("POST", "v1/tickets/suggest")
    assert suggested == [
        {
            "subject": "Printer on floor 2 jams",
            "body": "The printer on floor 2 jams with every print job, the paper is stuck in "
            "the tray.",
        }
    ]
    similar = detail.locator(".similar")
    expect(similar.first).to_have_attribute("data-ticket-id", "T-102")
    expect(similar.first.locator(".confidence-text")).to_have_text(re.compile(r"^\d+%$"))
    queue = detail.locator(".triage-row[data-field='queue']")
    expect(queue.locator(".triage-value")).to_have_text("IT-Arbeitsplatz")
    expect(queue.locator(".confidence-text")).to_have_text(re.compile(r"^\d+%$"))

    edit = panel.get_by_role("button", name="Edit & send")
    accept = panel.get_by_role("button", name="Accept")
    expect(edit).to_be_disabled()
    sent = f"Hello Ms Weber, {PRINTER_SOLUTION} If it jams again, call us on extension 4711."
    text.fill(sent)
    expect(panel.locator(".field-hint")).to_have_text(
        "You changed the draft: “Edit & send” sends your version."
    )
    expect(accept).to_be_disabled()
    expect(edit).to_be_enabled()
    assert_translated(page)
    edit.click()
    status = panel.locator(".decision-status")
    expect(status).to_contain_text("Edited and sent — recorded.")
    expect(panel).to_have_attribute("data-decision", "edit")
    expect(text).to_have_js_property("readOnly", True)
    screenshot(page, "agent-en")

    sid = panel.get_attribute("data-suggestion-id")
    assert sid
    assert opened.recorder.bodies("POST", f"v1/tickets/-/suggestion/{sid}/decision") == [
        {"decision": "edit", "text": sent}
    ]
    stored = portal.services.tickets.suggestion(sid)
    assert (stored.ticket_id, stored.decision, stored.sent_text) == (None, "edit", sent)
    records = decision_records(portal, sid)
    assert [(r.details["decision"], r.answer_sha256) for r in records] == [
        ("edit", sha256_text(sent))
    ]
    assert_no_script_errors(opened.recorder)


def test_a_hostile_ticket_subject_is_shown_as_inert_text(
    portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    hostile = _ticket(
        "T-666",
        HOSTILE,
        f"VPN Zertifikat ungültig <script>window.__pwned=2</script> {HOSTILE}",
        "",
        queue="",
        priority="",
        language="de",
        day=21,
        status="open",
    )
    seed(portal, SOLVED, [hostile])
    portal.llm.queue(f"{SOLUTION} {HOSTILE}")

    opened = agent_page(portal, open_page, "de-DE")
    page = opened.page
    view = page.locator("#agent-view")
    item = view.locator(".ticket-item[data-ticket-id='T-666']")
    expect(item.locator(".ticket-item-subject")).to_have_text(HOSTILE)
    item.click()
    detail = view.locator(".ticket-detail")
    expect(detail.locator(".ticket-subject")).to_have_text(HOSTILE)
    expect(detail.locator(".ticket-body")).to_contain_text("<script>window.__pwned=2</script>")
    detail.get_by_role("button", name="Vorschlag erstellen").click()
    expect(detail.locator(".draft-text")).to_have_value(f"{SOLUTION} {HOSTILE}")
    expect(view.locator("img")).to_have_count(0)
    expect(view.locator("script")).to_have_count(0)
    assert page.evaluate("window.__pwned") is None
    assert_no_script_errors(opened.recorder)
