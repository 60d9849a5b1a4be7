"""The admin console's review of ticket knowledge candidates in a real browser: redacted texts
in German and English, approve (searchable at once) and reject with a reason, the status
filter, the language switch, and a hostile ticket subject shown as inert text."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from api.app import create_app
from api.settings import TicketSettings
from api.wiring import build_services
from assistant.ticket_review import publish_candidates
from assistant.ticket_store import candidate_documents
from tests.api.conftest import DOCS, fake_settings
from tests.browser.conftest import (
    MODEL_ID,
    OpenPage,
    Portal,
    SlowFakeLLM,
    assert_no_script_errors,
    assert_translated,
    documents,
    screenshot,
)
from tests.servers import lotse_server
from tests.tickets import resolved_ticket

pytestmark = pytest.mark.browser

HOSTILE = (
    "<img src=x onerror=\"window.__pwned = 'candidate'\"> Drucker "
    "<script>window.__pwned = 1</script>"
)


TICKETS = [
    resolved_ticket(
        "NW-101",
        "Plotter Zeichensaal meldet Fehler E-204",
        "Guten Morgen,\nder Plotter meldet E-204.\n\nViele Grüße\nErika Mustermann\n"
        "Tel. 0170 1234567",
        "Fehler E-204: Tintenkopf-Kalibrierung im Menü Wartung starten.",
        "de",
    ),
    resolved_ticket(
        "NW-102",
        "Badge reader at the loading dock blinks red",
        "Hi,\nthe badge reader blinks red.\n\nBest regards\nJohn Smith\njohn.smith@example.com",
        "Power-cycle the badge reader: switch fuse F7 off and on again.",
        "en",
    ),
    resolved_ticket("NW-103", HOSTILE, "Es geht nicht.", "Neu gestartet, seitdem geht es.", "de"),
]


@contextmanager
def review_portal(tmp_path: Path) -> Iterator[Portal]:
    llm = SlowFakeLLM(model_id=MODEL_ID)
    settings = fake_settings(tmp_path).model_copy(
        update={"tickets": TicketSettings(knowledge_review="review")}
    )
    services = build_services(settings, llm=llm)
    try:
        services.knowledge.indexer.sync_documents("sample", documents(DOCS))
        _, candidates = candidate_documents(TICKETS, source="tickets", acl=("everyone",))
        publish_candidates(
            services.tickets,
            services.knowledge.indexer,
            services.knowledge.manifest,
            "tickets",
            candidates,
            mode="review",
        )
        with lotse_server(create_app(services=services)) as url:
            yield Portal(url=url, services=services, llm=llm)
    finally:
        services.close()


@pytest.fixture
def candidates_portal(tmp_path: Path) -> Iterator[Portal]:
    with review_portal(tmp_path) as running:
        yield running


def searched(portal: Portal, query: str) -> list[str]:
    response = httpx.post(f"{portal.url}/v1/search", json={"query": query, "k": 20}, timeout=30)
    response.raise_for_status()
    return [hit["source_id"] for hit in response.json()["results"]]


def test_candidates_are_reviewed_in_the_admin_console(
    candidates_portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    portal = candidates_portal
    opened = open_page(f"{portal.url}/#admin/candidates", locale="de-DE")
    page = opened.page
    section = page.locator("[data-section='candidates']")
    expect(section).to_have_attribute("data-loaded", "true")
    expect(page.locator(".subnav-link[aria-current='page']")).to_have_text("Wissenskandidaten")
    expect(section.locator(".candidate-mode")).to_have_text(
        "Modus „Prüfung“: Nur freigegebene Tickets stehen in der Wissensbasis."
    )
    expect(section.locator(".candidate-counts")).to_have_text(
        "wartet auf Prüfung 3 · freigegeben 0 · abgelehnt 0"
    )
    cards = section.locator("article.candidate")
    expect(cards).to_have_count(3)
    german = section.locator("article.candidate[data-ticket-id='NW-101']")
    english = section.locator("article.candidate[data-ticket-id='NW-102']")
    hostile = section.locator("article.candidate[data-ticket-id='NW-103']")
    expect(german.locator(".candidate-title")).to_have_text(
        "Plotter Zeichensaal meldet Fehler E-204"
    )
    expect(german.locator(".candidate-status")).to_have_text("wartet auf Prüfung")
    expect(german.locator(".candidate-language")).to_have_text("DE")
    expect(german.locator(".candidate-text")).to_contain_text("Tintenkopf-Kalibrierung")
    expect(german.locator(".candidate-text")).to_contain_text("[NAME]")
    expect(german.locator(".candidate-text")).not_to_contain_text("Erika")
    expect(german.locator(".candidate-redactions")).to_have_text(
        "Geschwärzt: Namen 1 · Telefonnummern 1"
    )
    expect(english.locator(".candidate-text")).not_to_contain_text("john.smith")
    expect(english.locator(".candidate-redactions")).to_have_text(
        "Geschwärzt: Namen 1 · E-Mail-Adressen 1"
    )
    # a ticket's text is data: shown as text, never as markup
    expect(hostile.locator(".candidate-title")).to_have_text(HOSTILE)
    expect(section.locator("img")).to_have_count(0)
    expect(section.locator(".candidate script")).to_have_count(0)
    assert page.evaluate("window.__pwned") is None
    assert_translated(page)
    screenshot(page, "candidates-1-pending-de")
    assert "tickets/NW-101" not in searched(portal, "Plotter Fehler E-204 Tintenkopf")

    german.get_by_role("button", name="Freigeben").click()
    expect(german).to_have_attribute("data-status", "approved")
    expect(german.locator(".candidate-result")).to_have_text(
        "Freigegeben – steht jetzt in der Wissensbasis."
    )
    expect(german.locator(".candidate-status")).to_have_text("freigegeben")
    expect(german.locator(".candidate-live")).to_be_visible()
    expect(german.locator(".candidate-decided")).to_contain_text("Entschieden von")
    expect(german.get_by_role("button", name="Freigeben")).to_be_hidden()
    expect(section.locator(".candidate-counts")).to_have_text(
        "wartet auf Prüfung 2 · freigegeben 1 · abgelehnt 0"
    )
    assert "tickets/NW-101" in searched(portal, "Plotter Fehler E-204 Tintenkopf")
    shown = portal.services.tickets.candidate("tickets", "NW-101").content_hash
    assert opened.recorder.bodies("POST", "v1/admin/candidates/tickets/NW-101/approve") == [
        {"content_hash": shown}
    ]

    english.locator("input[name='reason']").fill("Interne Sicherungsnummer im Text")
    english.get_by_role("button", name="Ablehnen").click()
    expect(english).to_have_attribute("data-status", "rejected")
    expect(english.locator(".candidate-result")).to_have_text(
        "Abgelehnt – steht nicht in der Wissensbasis."
    )
    body = opened.recorder.bodies("POST", "v1/admin/candidates/tickets/NW-102/reject")[0]
    assert body["reason"] == "Interne Sicherungsnummer im Text"
    decisions = portal.services.audit.records(event="candidate_decision")
    assert [(r.details["ticket_id"], r.details["decision"]) for r in decisions] == [
        ("NW-101", "approved"),
        ("NW-102", "rejected"),
    ]
    assert "tickets/NW-102" not in searched(portal, "badge reader loading dock fuse F7")
    screenshot(page, "candidates-2-decided-de")

    page.get_by_role("button", name="EN English", exact=True).click()
    expect(german.locator(".candidate-status")).to_have_text("approved")
    expect(english.locator(".candidate-result")).to_have_text(
        "Rejected — not in the knowledge base."
    )
    expect(english.locator(".candidate-redactions")).to_have_text(
        "Redacted: names 1 · e-mail addresses 1"
    )
    expect(section.locator(".candidate-mode")).to_have_text(
        "Mode “review”: only approved tickets are in the knowledge base."
    )
    assert_translated(page)

    section.locator("select[name='status']").select_option("approved")
    expect(cards).to_have_count(1)
    expect(cards.first).to_have_attribute("data-ticket-id", "NW-101")
    section.locator("select[name='status']").select_option("pending")
    expect(cards).to_have_count(1)
    expect(cards.first).to_have_attribute("data-ticket-id", "NW-103")
    screenshot(page, "candidates-3-pending-en")
    assert page.evaluate("window.__pwned") is None
    assert_no_script_errors(opened.recorder)


def test_a_changed_candidate_is_refused_with_the_servers_message(
    candidates_portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    portal = candidates_portal
    opened = open_page(f"{portal.url}/#admin/candidates", locale="en-US")
    page = opened.page
    section = page.locator("[data-section='candidates']")
    card = section.locator("article.candidate[data-ticket-id='NW-102']")
    expect(card).to_be_visible()
    # the ticket changes behind the page's back (as a re-import would)
    edited = [replace(TICKETS[1], resolution="Replace fuse F7.")]
    _, changed = candidate_documents(edited, source="tickets", acl=("everyone",))
    portal.services.tickets.record_candidates(
        "tickets",
        [*candidate_documents(TICKETS[::2], source="tickets", acl=("everyone",))[1], *changed],
        mode="review",
    )
    card.get_by_role("button", name="Approve").click()
    expect(card.locator(".candidate-result")).to_contain_text("changed since it was shown")
    expect(card).to_have_attribute("data-status", "pending")
    assert portal.services.tickets.candidate("tickets", "NW-102").status == "pending"
    assert_no_script_errors(opened.recorder, allowed_statuses=(409,))
