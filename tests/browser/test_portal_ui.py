"""The portal's language follows the browser and switches; it works with the keyboard alone and
on a 390-pixel phone screen."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import MODEL_ID, PHONE, OpenPage, Portal, screenshot
from tests.browser.test_portal_chat import DIEM_A, DIEM_Q, VPN_A, VPN_Q, ask, wait_done

pytestmark = pytest.mark.browser

FOCUSED_JS = """() => {
  const a = document.activeElement;
  if (!a || a === document.body) return 'body';
  if (a.dataset.sourceId) return 'source:' + a.dataset.sourceId;
  return a.id || a.getAttribute('aria-label') || a.textContent.trim();
}"""


def focused(page: Page) -> str:
    result: str = page.evaluate(FOCUSED_JS)
    return result


def outline(page: Page) -> tuple[str, str]:
    style: list[str] = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth]; }"
    )
    return style[0], style[1]


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px screen"


def test_language_follows_the_browser_and_switches(
    portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    opened = open_page(portal.url, locale="de-DE")
    page = opened.page
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("#new-conversation")).to_have_text("Neues Gespräch")
    expect(page.locator(".lang-button[data-lang='de']")).to_have_attribute("aria-pressed", "true")
    portal.llm.queue(VPN_A)
    answer = ask(page, VPN_Q)
    wait_done(answer)
    expect(answer.locator(".ai-badge")).to_have_text("KI-generiert")

    page.get_by_role("button", name="EN English", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".lang-button[data-lang='en']")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".lang-button[data-lang='de']")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#new-conversation")).to_have_text("New conversation")
    expect(page.locator("#question")).to_have_attribute("placeholder", "Ask your question …")
    expect(page.locator("#ai-notice")).to_have_text(
        "Answers are AI-generated and may contain mistakes."
    )
    # answers already on screen are relabelled too; their text stays as written
    expect(answer.locator(".ai-badge")).to_have_text("AI-generated")
    expect(answer.locator(".model-label")).to_have_text(f"Model: {MODEL_ID}")
    expect(answer.locator(".sources-title")).to_have_text("Sources")
    expect(answer.get_by_role("button", name="This didn't help")).to_be_visible()
    expect(answer.locator(".answer-body")).to_have_text(VPN_A)
    assert page.title() == "Lotse – IT service desk assistant"
    screenshot(page, "desktop-9-switched-to-en")

    # the choice is remembered over a reload, and the conversation comes back in English
    page.reload()
    page.wait_for_selector("body[data-restored='true']")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".answer .ai-badge")).to_have_text("AI-generated")
    page.get_by_role("button", name="DE Deutsch", exact=True).click()
    expect(page.locator("#new-conversation")).to_have_text("Neues Gespräch")
    opened.recorder.assert_clean()

    for locale, lang, title in [
        ("fr-FR", "en", "How can I help?"),
        ("de-AT", "de", "Wie kann ich helfen?"),
        ("en-GB", "en", "How can I help?"),
    ]:
        other = open_page(portal.url, locale=locale)
        expect(other.page.locator("html")).to_have_attribute("lang", lang)
        expect(other.page.locator("#intro-title")).to_have_text(title)


def test_keyboard_only_use(portal: Portal, open_page: Callable[..., OpenPage]) -> None:
    opened = open_page(portal.url, locale="de-DE")
    page = opened.page
    keyboard = page.keyboard

    keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    box = page.locator(".skip-link").bounding_box()
    assert box is not None and box["y"] >= 0  # visible while focused
    keyboard.press("Enter")
    expect(page.locator("#question")).to_be_focused()
    assert outline(page) == ("solid", "3px")

    # Shift+Enter is a new line, Enter sends
    keyboard.type("Wie verbinde ich mich")
    keyboard.press("Shift+Enter")
    keyboard.type("mit dem VPN?")
    expect(page.locator("#question")).to_have_value("Wie verbinde ich mich\nmit dem VPN?")
    assert opened.recorder.bodies("POST", "v1/chat") == []
    portal.llm.queue(VPN_A)
    keyboard.press("Enter")
    answer = page.locator(".answer").first
    wait_done(answer)
    assert opened.recorder.bodies("POST", "v1/chat") == [
        {"message": "Wie verbinde ich mich\nmit dem VPN?", "stream": True}
    ]
    expect(page.locator("#question")).to_be_focused()
    expect(page.locator("#question")).to_have_value("")

    # the tab order follows the page: header, sources, answer actions, question, send
    keyboard.press("Tab")
    assert focused(page) == "send"
    keyboard.press("Shift+Tab")
    assert focused(page) == "question"
    backwards = []
    for _ in range(14):
        keyboard.press("Shift+Tab")
        backwards.append(focused(page))
    assert backwards[::-1] == [
        "Zur Frage springen",
        "Chat",
        "Agenten",
        "Administration",
        "new-conversation",
        "delete-conversation",
        "DE Deutsch",
        "EN English",
        "source:it/vpn.md",
        "source:finance/travel.md",
        "Antwort kopieren",
        "Hilfreich",
        "Nicht hilfreich",
        "Das hat nicht geholfen",
    ]

    # open a source with Enter, close it with Escape: focus returns to the card
    while focused(page) != "source:it/vpn.md":
        keyboard.press("Tab")
    assert outline(page) == ("solid", "3px")
    keyboard.press("Enter")
    expect(page.locator("#source-dialog")).to_be_visible()
    assert page.evaluate(
        "document.getElementById('source-dialog').contains(document.activeElement)"
    )
    keyboard.press("Escape")
    expect(page.locator("#source-dialog")).to_be_hidden()
    # focus comes back to the card, and stays there when the queued close event runs
    expect(answer.locator('[data-source-id="it/vpn.md"]')).to_be_focused()

    # rate with Space, then add a comment with Tab, typing and Enter
    for expected in ["source:finance/travel.md", "Antwort kopieren", "Hilfreich"]:
        keyboard.press("Tab")
        assert focused(page) == expected
    keyboard.press("Space")
    expect(answer.get_by_role("button", name="Hilfreich", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(answer.locator(".feedback .inline-status")).to_have_text("Danke für Ihr Feedback!")
    for expected in ["Nicht hilfreich", "Das hat nicht geholfen"]:
        keyboard.press("Tab")
        assert focused(page) == expected
    keyboard.press("Tab")
    expect(answer.locator(".comment-input")).to_be_focused()
    keyboard.type("Gut erklärt.")
    keyboard.press("Tab")
    assert focused(page) == "Kommentar senden"
    keyboard.press("Enter")
    expect(answer.locator(".feedback .inline-status")).to_have_text(
        "Danke, Ihr Kommentar wurde gespeichert."
    )

    # Escape stops an answer that is being written
    portal.llm.queue(" ".join(["Wort"] * 200))
    page.locator("#question").focus()
    keyboard.type("Noch eine Frage?")
    keyboard.press("Enter")
    second = page.locator(".answer").nth(1)
    expect(second).to_have_attribute("data-state", "streaming")
    expect(second.locator(".answer-body")).to_contain_text("Wort")
    keyboard.press("Escape")
    expect(second).to_have_attribute("data-state", "stopped")
    expect(second.locator(".answer-progress")).to_have_text("Abgebrochen.")
    expect(page.locator("#send")).to_be_enabled()
    opened.recorder.assert_clean()


def test_phone_layout_answer_and_ticket_draft_in_english(
    portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    opened = open_page(portal.url, locale="en-US", viewport=PHONE)
    page = opened.page
    expect(page.locator("#intro")).to_contain_text("An AI (a language model) answers here")
    no_horizontal_scroll(page)
    screenshot(page, "phone-1-intro-en")

    portal.llm.queue(DIEM_A, "NOT_FOUND")
    answer = ask(page, DIEM_Q)
    wait_done(answer)
    expect(answer.locator(".ai-badge")).to_have_text("AI-generated")
    no_horizontal_scroll(page)
    screenshot(page, "phone-2-answer-en")

    vacation = "How many vacation days do I have?"
    abstained = ask(page, vacation)
    wait_done(abstained, "abstained")
    expect(abstained.locator(".answer-body")).to_have_text(
        "I could not find this in the knowledge base."
    )
    offer = abstained.locator(".ticket-offer")
    expect(offer).to_contain_text("Shall I prepare a ticket for the service desk?")
    no_horizontal_scroll(page)
    screenshot(page, "phone-3-abstained-en")

    offer.get_by_role("button", name="Prepare a ticket").click()
    dialog = page.locator("#ticket-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#ticket-subject")).to_have_value(f"Request: {vacation}")
    description = page.locator("#ticket-description").input_value()
    assert description == (
        "Conversation with the self-service assistant:\n\n"
        f"Question: {DIEM_Q}\n"
        f"Answer (AI-generated, Model {MODEL_ID}): {DIEM_A}\n"
        "Cited sources: Travel expenses (finance/travel.md); VPN (it/vpn.md)\n\n"
        f"Question: {vacation}\n"
        f"Answer (AI-generated, Model {MODEL_ID}): I could not find this in the knowledge base."
    )
    expect(page.locator("#ticket-status")).to_contain_text("Ticket sending is not configured yet.")
    expect(page.locator("#ticket-send")).to_be_disabled()
    box = dialog.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    screenshot(page, "phone-4-ticket-draft-en")
    opened.recorder.assert_clean()
