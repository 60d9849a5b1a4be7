"""Untrusted text stays data in the portal, and every response carries the security headers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from api.security_headers import CONTENT_SECURITY_POLICY
from tests.api.conftest import DOCS
from tests.browser.conftest import OpenPage, Portal, running_portal, screenshot

pytestmark = pytest.mark.browser

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HOSTILE = (
    "<script>window.__pwned = 'script'</script> "
    "<img src=x onerror=\"window.__pwned = 'img'; alert(1)\"> "
    "[Klick](javascript:alert(document.domain)) "
    "![x](http://evil.example/x.png)"
)
HOSTILE_TITLE = "Drucker <script>alert('title')</script>"
HOSTILE_DOC = (
    "# Drucker\n\n## Treiber <img src=x onerror=alert(2)>\n\n"
    f"{HOSTILE} Den Druckertreiber installieren Sie über das Softwarecenter."
)
REPLY = (
    f"Siehe {HOSTILE} sowie [die Hilfe](/docs) und [extern](https://evil.example/phish), "
    "<b>fett</b> und **wirklich fett**."
)


@pytest.fixture
def hostile_portal(tmp_path: Path) -> Iterator[Portal]:
    docs = {**DOCS, "it/drucker.md": (HOSTILE_TITLE, "de", HOSTILE_DOC)}
    with running_portal(tmp_path, docs) as running:
        yield running


def test_hostile_answer_and_source_text_are_shown_inert(
    hostile_portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    opened = open_page(hostile_portal.url, locale="de-DE")
    page = opened.page
    hostile_portal.llm.queue(REPLY)
    page.locator("#question").fill("Wie installiere ich den Druckertreiber?")
    page.locator("#question").press("Enter")
    answer = page.locator(".answer").first
    expect(answer).to_have_attribute("data-state", "done")

    body = answer.locator(".answer-body")
    expect(body).to_have_text(
        "Siehe <script>window.__pwned = 'script'</script> "
        "<img src=x onerror=\"window.__pwned = 'img'; alert(1)\"> "
        "Klick (javascript:alert(document.domain)) "
        "![x](http://evil.example/x.png) sowie die Hilfe und "
        "extern (https://evil.example/phish), <b>fett</b> und wirklich fett."
    )
    # exactly one link: the same-origin one; the Markdown bold became <strong>, the <b> text
    links = body.locator("a")
    expect(links).to_have_count(1)
    expect(links).to_have_text("die Hilfe")
    expect(links).to_have_attribute("href", f"{hostile_portal.url}/docs")
    expect(links).to_have_attribute("rel", "noopener noreferrer")
    expect(body.locator("strong")).to_have_text("wirklich fett")
    expect(body.locator("b")).to_have_count(0)

    card = answer.locator(".source-card[data-source-id='it/drucker.md']")
    expect(card.locator(".source-title")).to_have_text(HOSTILE_TITLE)
    expect(card.locator(".source-snippet")).to_contain_text("<script>window.__pwned")
    card.click()
    dialog = page.locator("#source-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#source-dialog-title")).to_have_text(HOSTILE_TITLE)
    expect(dialog.locator("#source-dialog-heading")).to_contain_text(
        "Treiber <img src=x onerror=alert(2)>"
    )
    expect(dialog.locator("#source-dialog-snippet")).to_contain_text(
        "<img src=x onerror=\"window.__pwned = 'img'; alert(1)\">"
    )
    screenshot(page, "desktop-8-hostile-text-inert")

    # nothing became an element, nothing ran, nothing was fetched
    assert page.evaluate("document.querySelectorAll('img, iframe, object, embed').length") == 0
    assert page.evaluate("[...document.scripts].map(s => s.getAttribute('src'))") == ["web/app.js"]
    assert page.evaluate("document.querySelectorAll('[onerror], [onclick]').length") == 0
    assert page.evaluate("document.querySelectorAll('a[href^=\"javascript:\"]').length") == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert [url for _, url, _ in opened.recorder.requests if "evil.example" in url] == []
    hosts = {url.split("/")[2] for _, url, _ in opened.recorder.requests}
    assert hosts == {hostile_portal.url.split("/")[2]}
    opened.recorder.assert_clean()  # no alert()/confirm() dialog, no CSP violation


def test_security_headers_on_the_portal_and_the_api(
    portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    assert CONTENT_SECURITY_POLICY == CSP
    expected = {
        "content-security-policy": CSP,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
    }
    with httpx.Client(base_url=portal.url) as client:
        for path, media_type in [
            ("/", "text/html; charset=utf-8"),
            ("/web/app.js", "text/javascript; charset=utf-8"),
            ("/web/markdown.js", "text/javascript; charset=utf-8"),
            ("/web/app.css", "text/css; charset=utf-8"),
            ("/web/favicon.svg", "image/svg+xml"),
        ]:
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-type"] == media_type, path
            assert response.headers["cache-control"] == "no-cache", path
            assert {k: response.headers.get(k) for k in expected} == expected, path
        chat = client.post("/v1/chat", json={"message": "VPN?", "stream": False})
        assert chat.status_code == 200
        assert {k: chat.headers.get(k) for k in expected} == expected
        for path in ["/healthz", "/v1/conversations/nope", "/web/nope.js", "/web/app.py"]:
            response = client.get(path)
            assert {k: response.headers.get(k) for k in expected} == expected, path
        for path in ["/web/nope.js", "/web/app.py", "/web/%2e%2e%2fapp.py", "/web/.hidden.js"]:
            assert client.get(path).status_code in (404, 422), path
        # the interactive API docs load Swagger UI from a CDN: every header but the CSP
        docs = client.get("/docs")
        assert docs.status_code == 200
        assert "content-security-policy" not in docs.headers
        assert docs.headers["x-content-type-options"] == "nosniff"

    opened = open_page(portal.url, locale="de-DE")
    page_response = opened.page.reload()
    assert page_response is not None
    assert page_response.headers["content-security-policy"] == CSP
    # the page itself runs under the policy without a single violation
    opened.page.wait_for_selector("body[data-restored='true']")
    opened.recorder.assert_clean()
