"""Asking in the portal: streamed answers with sources first, abstention with a ticket draft,
feedback, follow-ups in one conversation and starting a new one (German and English)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import MODEL_ID, OpenPage, Portal, screenshot

pytestmark = pytest.mark.browser

VPN_Q = "Wie verbinde ich mich mit dem VPN?"
VPN_A = (
    "Starten Sie Cisco AnyConnect und verbinden Sie sich dann mit vpn.nordwind.de, "
    "als Benutzername dient Ihre E-Mail-Adresse."
)
DIEM_Q = "What is the per diem for a full day in Germany?"
DIEM_A = (
    "The per diem for a full day in Germany is 28 euros, paid with the next salary "
    "once you have submitted the claim."
)
HOLIDAY_Q = "Wie viele Urlaubstage habe ich?"
NOT_FOUND_DE = "Dazu habe ich in der Wissensbasis nichts gefunden."

# Records, for the newest answer, its text at every DOM change and its state when the first
# source card appeared (page.evaluate runs outside the page's CSP, like a debugger).
WATCH_JS = """() => {
  const seen = {atSources: null, texts: []};
  window.__seen = seen;
  const observer = new MutationObserver(() => {
    const answers = document.querySelectorAll('.answer');
    const answer = answers[answers.length - 1];
    if (!answer) return;
    const text = answer.querySelector('.answer-body').textContent;
    if (seen.atSources === null && answer.querySelector('.source-card')) {
      seen.atSources = {text, state: answer.dataset.state};
    }
    if (seen.texts[seen.texts.length - 1] !== text) seen.texts.push(text);
  });
  observer.observe(document.getElementById('conversation'),
    {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def ask(page: Page, question: str) -> Locator:
    """Type the question, press Enter; returns the new answer's article."""
    before = page.locator(".answer").count()
    page.locator("#question").fill(question)
    page.locator("#question").press("Enter")
    expect(page.locator(".answer")).to_have_count(before + 1)
    return page.locator(".answer").nth(before)


def wait_done(answer: Locator, state: str = "done") -> None:
    expect(answer).to_have_attribute("data-state", state)


def ask_watching(page: Page, question: str) -> tuple[Locator, dict[str, Any]]:
    page.evaluate(WATCH_JS)
    answer = ask(page, question)
    wait_done(answer)
    seen: dict[str, Any] = page.evaluate("window.__seen")
    return answer, seen


def assert_streamed(seen: dict[str, Any], reply: str) -> None:
    # the source cards were on screen before the first token
    assert seen["atSources"] == {"text": "", "state": "streaming"}
    partial = [text for text in seen["texts"] if text and text != reply]
    assert len(partial) >= 3, seen["texts"]
    assert all(reply.startswith(text) for text in partial), seen["texts"]
    assert seen["texts"][-1] == reply


def test_a_german_question_streams_with_source_cards_first(
    portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    opened = open_page(portal.url, locale="de-DE")
    page = opened.page
    intro = page.locator("#intro")
    expect(intro).to_be_visible()
    expect(intro).to_contain_text("Hier antwortet eine KI (ein Sprachmodell), kein Mensch.")
    expect(intro).to_contain_text("ausschließlich aus den internen Dokumenten des Unternehmens")
    screenshot(page, "desktop-1-intro-de")

    portal.llm.queue(VPN_A)
    answer, seen = ask_watching(page, VPN_Q)
    assert_streamed(seen, VPN_A)
    expect(answer.locator(".answer-body")).to_have_text(VPN_A)
    expect(answer.locator(".ai-badge")).to_have_text("KI-generiert")
    expect(answer.locator(".model-label")).to_have_text(f"Modell: {MODEL_ID}")
    expect(answer.locator(".answer-body")).to_have_attribute("aria-live", "polite")
    expect(answer.locator(".answer-body")).to_have_attribute("aria-busy", "false")
    expect(page.locator("#status")).to_have_text("Antwort fertig.")
    expect(intro).to_be_hidden()
    card = answer.locator(".source-card").first
    expect(card).to_have_attribute("data-source-id", "it/vpn.md")
    expect(card.locator(".source-title")).to_have_text("VPN")
    expect(card.locator(".source-heading")).to_have_text("VPN > Verbindung")
    expect(card.locator(".source-snippet")).to_contain_text("Starten Sie Cisco AnyConnect")
    screenshot(page, "desktop-2-answer-de")

    card.click()
    dialog = page.locator("#source-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#source-dialog-title")).to_have_text("VPN")
    expect(dialog.locator("#source-dialog-heading")).to_have_text("VPN > Verbindung")
    expect(dialog.locator("#source-dialog-id")).to_have_text("it/vpn.md")
    expect(dialog.locator("#source-dialog-snippet")).to_contain_text("vpn.nordwind.de")
    screenshot(page, "desktop-3-source-dialog-de")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(card).to_be_focused()
    opened.recorder.assert_clean()


def test_an_english_question_streams_with_source_cards_first(
    portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    opened = open_page(portal.url, locale="en-US")
    page = opened.page
    expect(page.locator("html")).to_have_attribute("lang", "en")
    intro = page.locator("#intro")
    expect(intro).to_contain_text("An AI (a language model) answers here, not a person.")
    expect(intro).to_contain_text("comes only from the company's internal documents")
    screenshot(page, "desktop-4-intro-en")

    portal.llm.queue(DIEM_A)
    answer, seen = ask_watching(page, DIEM_Q)
    assert_streamed(seen, DIEM_A)
    expect(answer.locator(".ai-badge")).to_have_text("AI-generated")
    expect(answer.locator(".model-label")).to_have_text(f"Model: {MODEL_ID}")
    expect(answer.locator(".sources-title")).to_have_text("Sources")
    expect(answer.locator(".source-card").first).to_have_attribute(
        "data-source-id", "finance/travel.md"
    )
    expect(answer.locator(".source-card .source-title").first).to_have_text("Travel expenses")
    screenshot(page, "desktop-5-answer-en")
    opened.recorder.assert_clean()


def test_abstention_offers_a_ticket_draft_that_is_not_sent(
    portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    opened = open_page(portal.url, locale="de-DE")
    page = opened.page
    portal.llm.queue("NOT_FOUND")
    answer = ask(page, HOLIDAY_Q)
    wait_done(answer, "abstained")
    expect(answer.locator(".answer-body")).to_have_text(NOT_FOUND_DE)
    expect(answer.locator(".source-card")).to_have_count(0)
    expect(answer.locator(".answer-actions")).to_be_hidden()
    offer = answer.locator(".ticket-offer")
    expect(offer).to_contain_text("Soll ich ein Ticket beim IT-Servicedesk für Sie vorbereiten?")
    expect(answer.locator(".model-label")).to_have_text(f"Modell: {MODEL_ID}")

    offer.get_by_role("button", name="Ticket vorbereiten").click()
    dialog = page.locator("#ticket-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#ticket-subject")).to_have_value(f"Anfrage: {HOLIDAY_Q}")
    expect(page.locator("#ticket-subject")).to_be_focused()
    description = page.locator("#ticket-description").input_value()
    assert description == (
        "Verlauf mit dem Self-Service-Assistenten:\n\n"
        f"Frage: {HOLIDAY_Q}\n"
        f"Antwort (KI-generiert, Modell {MODEL_ID}): {NOT_FOUND_DE}"
    )
    status = page.locator("#ticket-status")
    expect(status).to_contain_text("Ticket-Versand ist noch nicht eingerichtet.")
    expect(status).to_contain_text("Dieser Entwurf wurde nicht gesendet.")
    expect(page.locator("#ticket-send")).to_be_disabled()
    screenshot(page, "desktop-6-ticket-draft-de")

    page.locator("#ticket-description").press("End")
    page.keyboard.type("\nIch arbeite in Teilzeit.")
    page.locator("#ticket-form").evaluate("form => form.requestSubmit()")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Schließen").click()
    expect(dialog).to_be_hidden()
    # nothing was sent anywhere but the question itself
    posted = [(m, url) for m, url, _ in opened.recorder.requests if m != "GET"]
    assert posted == [("POST", f"{portal.url}/v1/chat")]
    opened.recorder.assert_clean()


def feedback_stats(portal: Portal) -> tuple[int, int]:
    stats = portal.services.conversations.stats(0.0, time.time() + 60)
    return stats.feedback_up, stats.feedback_down


def test_feedback_reaches_the_server_and_is_confirmed(
    portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    opened = open_page(portal.url, locale="de-DE")
    page = opened.page
    portal.llm.queue(VPN_A, "Im Homeoffice gilt dasselbe.")
    answer = ask(page, VPN_Q)
    wait_done(answer)
    answer_id = answer.get_attribute("data-answer-id")
    assert answer_id and len(answer_id) == 32

    up = answer.get_by_role("button", name="Hilfreich", exact=True)
    up.click()
    status = answer.locator(".feedback .inline-status")
    expect(status).to_have_text("Danke für Ihr Feedback!")
    expect(up).to_have_attribute("aria-pressed", "true")
    assert feedback_stats(portal) == (1, 0)

    comment = answer.locator(".comment-input")
    expect(comment).to_be_visible()
    comment.fill("Der Link zum Client fehlt.")
    with page.expect_response(lambda r: r.url.endswith("/v1/feedback")) as response_info:
        answer.get_by_role("button", name="Kommentar senden").click()
    response = response_info.value
    assert response.status == 201
    stored = response.json()
    assert (stored["answer_id"], stored["rating"], stored["comment"]) == (
        answer_id,
        "up",
        "Der Link zum Client fehlt.",
    )
    expect(status).to_have_text("Danke, Ihr Kommentar wurde gespeichert.")
    expect(comment).to_be_hidden()
    assert feedback_stats(portal) == (1, 0)  # the comment replaced the rating, same answer
    screenshot(page, "desktop-7-feedback-de")

    # "Das hat nicht geholfen" rates the answer down and opens the ticket draft
    second = ask(page, "Und im Homeoffice?")
    wait_done(second)
    second.get_by_role("button", name="Das hat nicht geholfen").click()
    expect(page.locator("#ticket-dialog")).to_be_visible()
    description = page.locator("#ticket-description").input_value()
    assert f"Frage: {VPN_Q}" in description
    assert "Frage: Und im Homeoffice?" in description
    assert "Im Homeoffice gilt dasselbe." in description
    assert "Genannte Quellen: VPN (it/vpn.md)" in description
    page.keyboard.press("Escape")
    expect(second.locator(".feedback .inline-status")).to_have_text("Danke für Ihr Feedback!")
    expect(second.get_by_role("button", name="Nicht hilfreich")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert feedback_stats(portal) == (1, 1)
    second_id = second.get_attribute("data-answer-id")
    assert opened.recorder.bodies("POST", "v1/feedback") == [
        {"answer_id": answer_id, "rating": "up"},
        {"answer_id": answer_id, "rating": "up", "comment": "Der Link zum Client fehlt."},
        {"answer_id": second_id, "rating": "down"},
    ]
    opened.recorder.assert_clean()


def test_follow_ups_keep_the_conversation_and_new_conversation_clears(
    portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    opened = open_page(portal.url, locale="de-DE")
    page = opened.page
    portal.llm.queue(VPN_A, "Auf dem Mac ebenfalls mit Cisco AnyConnect.", DIEM_A)
    wait_done(ask(page, VPN_Q))
    wait_done(ask(page, "und auf dem Mac?"))
    conversation_id = page.locator("body").get_attribute("data-conversation-id")
    assert conversation_id and len(conversation_id) == 32
    assert opened.recorder.bodies("POST", "v1/chat") == [
        {"message": VPN_Q, "stream": True},
        {"message": "und auf dem Mac?", "stream": True, "conversation_id": conversation_id},
    ]
    stored = httpx.get(f"{portal.url}/v1/conversations/{conversation_id}").json()
    assert [(t["role"], t["text"]) for t in stored["turns"]] == [
        ("user", VPN_Q),
        ("assistant", VPN_A),
        ("user", "und auf dem Mac?"),
        ("assistant", "Auf dem Mac ebenfalls mit Cisco AnyConnect."),
    ]

    # a reload shows the same conversation again (this tab's sessionStorage)
    page.reload()
    page.wait_for_selector("body[data-restored='true']")
    expect(page.locator(".answer[data-state='done']")).to_have_count(2)
    expect(page.locator(".answer .answer-body").nth(1)).to_have_text(
        "Auf dem Mac ebenfalls mit Cisco AnyConnect."
    )
    expect(page.locator(".answer .source-card").first).to_have_attribute(
        "data-source-id", "it/vpn.md"
    )
    assert page.locator("body").get_attribute("data-conversation-id") == conversation_id

    page.get_by_role("button", name="Neues Gespräch").click()
    expect(page.locator(".turn")).to_have_count(0)
    expect(page.locator("#intro")).to_be_visible()
    expect(page.locator("#question")).to_be_focused()
    expect(page.locator("#status")).to_have_text("Neues Gespräch begonnen.")
    assert page.locator("body").get_attribute("data-conversation-id") == ""

    wait_done(ask(page, DIEM_Q))
    assert opened.recorder.bodies("POST", "v1/chat")[-1] == {"message": DIEM_Q, "stream": True}
    new_id = page.locator("body").get_attribute("data-conversation-id")
    assert new_id and new_id != conversation_id
    expect(page.locator(".answer")).to_have_count(1)

    page.get_by_role("button", name="Gespräch löschen").click()
    expect(page.locator("#status")).to_have_text("Das Gespräch wurde gelöscht.")
    expect(page.locator(".turn")).to_have_count(0)
    assert httpx.get(f"{portal.url}/v1/conversations/{new_id}").status_code == 404
    assert httpx.get(f"{portal.url}/v1/conversations/{conversation_id}").status_code == 200
    assert [url for m, url, _ in opened.recorder.requests if m == "DELETE"] == [
        f"{portal.url}/v1/conversations/{new_id}"
    ]
    opened.recorder.assert_clean()
