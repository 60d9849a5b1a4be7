"""The portal in headless Chromium (Debian's package, driven by Playwright for Python).

Each test gets the whole app wired with fakes (as in tests/api) under a real uvicorn server on
127.0.0.1, and a fresh browser context that records every request, dialog, console error and
page error. The model is a FakeLLM that waits a little before each token, so streaming can be
watched. Screenshots of each view go to ``test-artifacts/browser/`` (git-ignored).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    Request,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from api.app import create_app
from api.settings import AuthSettings
from api.wiring import Services, build_services
from knowledge.documents import Document
from models.llm import ChatMessage, FakeLLM, GenerationParams, StreamChunk
from tests.api.conftest import DOCS, fake_settings, sample_documents
from tests.servers import lotse_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
MODEL_ID = "fake-llm-slow"
TOKEN_DELAY_S = 0.06
EXPECT_TIMEOUT_MS = 15_000

Docs = dict[str, tuple[str, str, str]]


@dataclass
class SlowFakeLLM(FakeLLM):
    """The replaying fake, waiting ``token_delay_s`` before each token."""

    token_delay_s: float = TOKEN_DELAY_S

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Iterator[StreamChunk]:
        for chunk in super().stream(messages, params):
            time.sleep(self.token_delay_s)
            yield chunk


@dataclass
class Portal:
    """A running Lotse: its base URL, its services and the fake model behind it."""

    url: str
    services: Services
    llm: SlowFakeLLM


def documents(docs: Docs) -> list[Document]:
    return sample_documents(docs)


@contextmanager
def running_portal(
    tmp_path: Path, docs: Docs, *, auth: AuthSettings | None = None
) -> Iterator[Portal]:
    llm = SlowFakeLLM(model_id=MODEL_ID)
    settings = fake_settings(tmp_path)
    if auth is not None:
        settings = settings.model_copy(update={"auth": auth})
    services = build_services(settings, llm=llm)
    try:
        services.knowledge.indexer.sync_documents("sample", documents(docs))
        with lotse_server(create_app(services=services)) as url:
            yield Portal(url=url, services=services, llm=llm)
    finally:
        services.close()


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    with running_portal(tmp_path, DOCS) as running:
        yield running


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    """Debian's Chromium; a missing browser fails the suite with the fix, it never skips."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium (Playwright does "
            "not download a browser).\nFix: run `make browser-deps` (as root: "
            "`apt-get update && apt-get install -y --no-install-recommends chromium`).",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium_executable: Path) -> Iterator[Browser]:
    # module scope: the sync API marks its event loop as running while it is started, which
    # would break asyncio.run() in the test modules that follow
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)  # the machine may be busy with other work
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium_executable), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Recorder:
    """What a page did: requests (method, url, JSON body), dialogs, console and page errors."""

    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def on_request(self, request: Request) -> None:
        body: Any = None
        if request.post_data:
            try:
                body = request.post_data_json
            except (ValueError, PlaywrightError):
                body = request.post_data
        self.requests.append((request.method, request.url, body))

    def on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def bodies(self, method: str, path: str) -> list[Any]:
        """JSON bodies of the requests to ``path`` (path part of the URL) with ``method``."""
        return [
            body
            for m, url, body in self.requests
            if m == method and url.split("://", 1)[-1].partition("/")[2].startswith(path)
        ]

    def assert_clean(self) -> None:
        """No JavaScript error, no CSP violation, no browser dialog."""
        assert self.page_errors == []
        assert self.console_errors == []
        assert self.dialogs == []


@dataclass
class OpenPage:
    page: Page
    recorder: Recorder


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., OpenPage]]:
    """``open_page(url, locale="de-DE", viewport=DESKTOP)``: a fresh context on the portal."""
    contexts: list[BrowserContext] = []

    def factory(
        url: str, *, locale: str = "de-DE", viewport: dict[str, int] | None = None
    ) -> OpenPage:
        size = viewport or DESKTOP
        context = browser.new_context(
            locale=locale,
            viewport={"width": size["width"], "height": size["height"]},
            is_mobile=size["width"] < 600,
            has_touch=size["width"] < 600,
        )
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        recorder = Recorder()
        page.on("request", recorder.on_request)
        page.on("dialog", recorder.on_dialog)
        page.on("console", recorder.on_console)
        page.on("pageerror", lambda exc: recorder.page_errors.append(str(exc)))
        page.goto(url)
        page.wait_for_selector("body[data-restored='true']")
        return OpenPage(page, recorder)

    yield factory
    for context in contexts:
        context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save what the screen shows now as ``test-artifacts/browser/NAME.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    return path


# --- the views beyond the chat: login, roles, agent workspace, admin console ---

# Chromium reports every 4xx/5xx response as a console error; a page that handles a 401 or 403
# gracefully still logs these, and nothing else is allowed.
_FAILED_RESOURCE = "Failed to load resource: the server responded with a status of "


def assert_no_script_errors(recorder: Recorder, allowed_statuses: Sequence[int] = ()) -> None:
    """Like ``Recorder.assert_clean``, but HTTP errors with ``allowed_statuses`` may be logged."""
    assert recorder.page_errors == []
    assert recorder.dialogs == []
    allowed = tuple(f"{_FAILED_RESOURCE}{status}" for status in allowed_statuses)
    assert [m for m in recorder.console_errors if not (allowed and m.startswith(allowed))] == []


@pytest.fixture
def keys_portal(tmp_path: Path) -> Iterator[Portal]:
    """A portal in auth mode ``keys``: every call needs an API key of the key store."""
    with running_portal(tmp_path, DOCS, auth=AuthSettings(mode="keys")) as running:
        yield running


def login(page: Page, secret: str) -> None:
    """Log in on the login screen and wait until the views for the role are shown."""
    expect(page.locator("#login-view")).to_be_visible()
    page.locator("#login-secret").fill(secret)
    page.locator("#login-submit").click()
    expect(page.locator("#login-view")).to_be_hidden()
    expect(page.locator("#view-nav")).to_be_visible()


# every element labelled by an i18n key shows a translation, not the key itself
UNTRANSLATED_JS = """() => [...document.querySelectorAll('[data-i18n]')]
  .filter((n) => !n.closest('[hidden]') && n.textContent === n.dataset.i18n)
  .map((n) => n.dataset.i18n)"""


def assert_translated(page: Page) -> None:
    assert page.evaluate(UNTRANSLATED_JS) == []
