"""Sending a ticket from the portal: the draft dialog posts the edited draft to
``/v1/escalations`` and follows its status until the stub ticket system (a signed webhook on
127.0.0.1) has it: delivered with its ticket number, or failed with the reason (German and
English)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from api.app import create_app
from api.settings import EscalationSettings
from api.wiring import build_services
from tests.api.conftest import DOCS, fake_settings
from tests.browser.conftest import MODEL_ID, OpenPage, Portal, SlowFakeLLM, documents, screenshot
from tests.e2e.test_delivery_targets import SECRET, HttpStub, Reply, http_stub
from tests.servers import lotse_server

pytestmark = pytest.mark.browser

HOLIDAY_Q = "Wie viele Urlaubstage habe ich?"
NOT_FOUND_DE = "Dazu habe ich in der Wissensbasis nichts gefunden."
DIEM_Q = "What is the per diem for a full day in Germany?"
DIEM_A = "The per diem for a full day in Germany is 28 euros."


@contextmanager
def portal_with_webhook(tmp_path: Path, stub: HttpStub) -> Iterator[Portal]:
    llm = SlowFakeLLM(model_id=MODEL_ID, token_delay_s=0.01)
    settings = fake_settings(tmp_path).model_copy(
        update={
            "escalation": EscalationSettings(
                target="webhook",
                webhook_url=f"{stub.url}/lotse",
                webhook_secret=SECRET,
                max_attempts=3,
                backoff_s=0.2,
                timeout_s=5,
            )
        }
    )
    services = build_services(settings, llm=llm)
    try:
        services.knowledge.indexer.sync_documents("sample", documents(DOCS))
        with lotse_server(create_app(services=services)) as url:
            yield Portal(url=url, services=services, llm=llm)
    finally:
        services.close()


def ask(page: Page, question: str) -> Locator:
    before = page.locator(".answer").count()
    page.locator("#question").fill(question)
    page.locator("#question").press("Enter")
    expect(page.locator(".answer")).to_have_count(before + 1)
    return page.locator(".answer").nth(before)


def test_an_abstention_becomes_a_ticket_with_its_number(
    tmp_path: Path, open_page: Callable[..., OpenPage]
) -> None:
    # the ticket system is down once: the deliverer retries, the page shows the outcome
    script = [Reply(503, {"error": "maintenance"}), Reply(201, {"id": "WH-4711"})]
    with (
        http_stub(HttpStub(script, check_signature=True)) as stub,
        portal_with_webhook(tmp_path, stub) as portal,
    ):
        opened = open_page(portal.url, locale="de-DE")
        page = opened.page
        portal.llm.queue("NOT_FOUND")
        answer = ask(page, HOLIDAY_Q)
        expect(answer).to_have_attribute("data-state", "abstained")
        answer.locator(".ticket-offer").get_by_role("button", name="Ticket vorbereiten").click()
        dialog = page.locator("#ticket-dialog")
        expect(dialog).to_be_visible()
        status = page.locator("#ticket-status")
        expect(status).to_contain_text("Das Ticket geht an den IT-Servicedesk.")
        expect(status).to_have_attribute("data-configured", "true")
        send = page.locator("#ticket-send")
        expect(send).to_be_enabled()
        expect(page.locator("#ticket-delivery")).to_be_hidden()

        page.locator("#ticket-subject").fill("Urlaubsanspruch in Teilzeit")
        page.locator("#ticket-description").press("End")
        page.keyboard.type("\nIch arbeite in Teilzeit (80 %).")
        send.click()
        delivery = page.locator("#ticket-delivery")
        expect(delivery).to_have_attribute("data-state", "delivered")
        expect(delivery).to_contain_text("Ticket beim Servicedesk angelegt. Ticketnummer: WH-4711")
        expect(send).to_be_disabled()  # sent once; no duplicate tickets
        screenshot(page, "desktop-9-ticket-delivered-de")

        [escalation] = portal.services.escalations.recent()
        assert (escalation.status, escalation.attempts, escalation.external_ref) == (
            "delivered",
            2,
            "WH-4711",
        )
        assert escalation.subject == "Urlaubsanspruch in Teilzeit"
        assert escalation.reason == "abstained"
        assert [r["verified"] for r in stub.requests] == [True, True]
        payload = stub.requests[-1]["json"]
        assert payload["subject"] == "Urlaubsanspruch in Teilzeit"
        assert payload["description"] == (
            "Verlauf mit dem Self-Service-Assistenten:\n\n"
            f"Frage: {HOLIDAY_Q}\n"
            f"Antwort (KI-generiert, Modell {MODEL_ID}): {NOT_FOUND_DE}\n"
            "Ich arbeite in Teilzeit (80 %)."
        )
        posted = opened.recorder.bodies("POST", "v1/escalations")
        assert posted == [
            {
                "conversation_id": escalation.conversation_id,
                "answer_id": escalation.answer_id,
                "subject": "Urlaubsanspruch in Teilzeit",
                "description": payload["description"],
                "reason": "abstained",
            }
        ]

        # closed and opened again: the same ticket, its status, no second send
        dialog.get_by_role("button", name="Schließen").click()
        expect(dialog).to_be_hidden()
        answer.locator(".ticket-offer").get_by_role("button", name="Ticket vorbereiten").click()
        expect(page.locator("#ticket-subject")).to_have_value("Urlaubsanspruch in Teilzeit")
        expect(delivery).to_contain_text("WH-4711")
        expect(send).to_be_disabled()
        opened.recorder.assert_clean()


def test_this_did_not_help_and_a_refused_ticket_shows_why(
    tmp_path: Path, open_page: Callable[..., OpenPage]
) -> None:
    refused = Reply(422, {"error": "unknown queue"})
    with (
        http_stub(HttpStub([refused], check_signature=True)) as stub,
        portal_with_webhook(tmp_path, stub) as portal,
    ):
        opened = open_page(portal.url, locale="en-US")
        page = opened.page
        portal.llm.queue(DIEM_A)
        answer = ask(page, DIEM_Q)
        expect(answer).to_have_attribute("data-state", "done")
        answer.get_by_role("button", name="This didn't help").click()
        expect(page.locator("#ticket-dialog")).to_be_visible()
        expect(page.locator("#ticket-status")).to_contain_text(
            "The ticket goes to the IT service desk."
        )
        expect(page.locator("#ticket-subject")).to_have_value(f"Request: {DIEM_Q}")
        page.get_by_role("button", name="Send ticket").click()
        delivery = page.locator("#ticket-delivery")
        expect(delivery).to_have_attribute("data-state", "failed")
        expect(delivery).to_contain_text("The ticket could not be delivered.")
        expect(delivery).to_contain_text("webhook: the target refused the ticket (HTTP 422)")
        expect(delivery).to_contain_text("Copy the draft and contact the service desk")
        screenshot(page, "desktop-10-ticket-failed-en")

        # in German after a language switch: the notice is translated, the reason stays
        page.keyboard.press("Escape")
        expect(page.locator("#ticket-dialog")).to_be_hidden()
        page.locator(".lang-button[data-lang='de']").click()
        answer.get_by_role("button", name="Das hat nicht geholfen").click()
        expect(delivery).to_contain_text("Das Ticket konnte nicht zugestellt werden.")
        expect(delivery).to_contain_text("HTTP 422")
        expect(page.get_by_role("button", name="Ticket senden")).to_be_disabled()

        [escalation] = portal.services.escalations.recent()
        assert (escalation.status, escalation.attempts, escalation.reason) == (
            "failed",
            1,
            "not_helpful",
        )
        assert len(stub.requests) == 1  # 422 is permanent: no retry
        assert opened.recorder.bodies("POST", "v1/feedback")[0]["rating"] == "down"
        opened.recorder.assert_clean()
