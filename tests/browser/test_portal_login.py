"""Login with an API key or an OIDC token, the views each role may open, and logout.

The portal runs in auth mode ``keys`` (or ``keys+oidc``) with keys made in the key store the
server uses; the credential lives in sessionStorage only, and an employee sees neither the
agent workspace nor the admin console (a 403 from the API is shown as a notice)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from api.keys import KeyStore
from api.settings import AuthSettings
from tests.api.conftest import DOCS
from tests.api.test_auth_api import AUDIENCE, ISSUER, Provider
from tests.browser.conftest import (
    OpenPage,
    Portal,
    assert_no_script_errors,
    assert_translated,
    login,
    running_portal,
    screenshot,
)

pytestmark = pytest.mark.browser

NAV = "#view-nav .view-link"


def make_key(portal: Portal, user: str, role: str, groups: tuple[str, ...] = ()) -> str:
    return KeyStore(portal.services.settings.data_dir).create(user, role, groups)[1]


def visible_nav(opened: OpenPage) -> list[str]:
    return [
        link.get_attribute("data-view-link") or ""
        for link in opened.page.locator(NAV).all()
        if link.is_visible()
    ]


def test_an_employee_logs_in_with_a_key_sees_only_the_chat_and_logs_out(
    keys_portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    employee = make_key(keys_portal, "emil", "employee")
    opened = open_page(keys_portal.url, locale="de-DE")
    page = opened.page
    expect(page.locator("#login-view")).to_be_visible()
    expect(page.locator("#login-title")).to_have_text("Anmelden")
    expect(page.locator("#main")).to_be_hidden()
    expect(page.locator("#question")).to_be_hidden()
    assert_translated(page)
    screenshot(page, "login-1-screen-de")

    # an unknown key is refused and nothing is kept
    page.locator("#login-secret").fill("lotse_" + "x" * 43)
    page.locator("#login-submit").click()
    expect(page.locator("#login-error")).to_have_text(
        "Dieser Schlüssel oder dieses Token wird nicht angenommen "
        "(unbekannt, widerrufen oder abgelaufen)."
    )
    assert page.evaluate("sessionStorage.getItem('lotse.credential')") is None
    screenshot(page, "login-2-rejected-de")

    login(page, employee)
    assert visible_nav(opened) == ["chat"]
    expect(page.locator("#session-user")).to_have_text("emil")
    expect(page.locator("#logout")).to_be_visible()
    expect(page.locator("#question")).to_be_visible()
    stored = page.evaluate("sessionStorage.getItem('lotse.credential')")
    assert stored is not None and employee in stored
    assert page.evaluate("JSON.stringify(Object.assign({}, localStorage))").find(employee) == -1
    # the chat works with the key: the question goes out with it, the answer comes back
    keys_portal.llm.queue("Starten Sie Cisco AnyConnect.")
    page.locator("#question").fill("Wie verbinde ich mich mit dem VPN?")
    page.locator("#question").press("Enter")
    expect(page.locator(".answer").first).to_have_attribute("data-state", "done")

    # typing the admin console's address gives a notice, and no admin call is made
    page.goto(f"{keys_portal.url}/#admin")
    page.wait_for_selector("body[data-restored='true']")
    expect(page.locator("#admin-view .forbidden")).to_contain_text(
        "Dafür fehlt Ihnen die Berechtigung."
    )
    expect(page.locator("#admin-view .forbidden code")).to_have_text("admin")
    assert not [u for m, u, _ in opened.recorder.requests if "/v1/admin/" in u]
    screenshot(page, "login-3-employee-forbidden-de")

    page.locator("#logout").click()
    expect(page.locator("#login-view")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('lotse.credential')") is None
    assert page.evaluate("sessionStorage.getItem('lotse.conversation')") is None
    assert_no_script_errors(opened.recorder, allowed_statuses=(401,))


def test_agent_and_admin_keys_open_their_views_in_english(
    keys_portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    agent = make_key(keys_portal, "alice", "agent")
    admin = make_key(keys_portal, "root", "admin")
    opened = open_page(keys_portal.url, locale="en-US")
    page = opened.page
    expect(page.locator("#login-title")).to_have_text("Log in")
    assert_translated(page)
    screenshot(page, "login-4-screen-en")
    login(page, agent)
    assert visible_nav(opened) == ["chat", "agent"]
    expect(page.locator(NAV + "[data-view-link='agent']")).to_have_text("Agent")
    page.goto(f"{keys_portal.url}/#admin/keys")
    page.wait_for_selector("body[data-restored='true']")
    expect(page.locator("#admin-view .forbidden")).to_contain_text(
        "You are not allowed to use this."
    )
    page.locator("#logout").click()
    login(page, admin)
    assert visible_nav(opened) == ["chat", "agent", "admin"]
    page.locator(NAV + "[data-view-link='admin']").click()
    expect(page.locator("#admin-view")).to_be_visible()
    expect(page.locator("#admin-title")).to_have_text("Administration")
    expect(page.locator("[data-section='sources'] .empty")).to_have_text(
        "No sources registered yet. Register a folder or a ticket export below."
    )
    screenshot(page, "login-5-admin-en")

    # the role is taken away while the page is open: the API's 403 becomes a notice
    employee = make_key(keys_portal, "emil", "employee")
    page.evaluate(
        "(key) => sessionStorage.setItem('lotse.credential',"
        " JSON.stringify({kind: 'key', secret: key}))",
        employee,
    )
    page.locator("[data-section='sources'] .section-head button").click()
    notice = page.locator("[data-section='sources'] .forbidden")
    expect(notice).to_contain_text("You are not allowed to use this.")
    expect(notice.locator("code")).to_have_text("admin")
    expect(page.locator("#login-view")).to_be_hidden()

    # a revoked key sends the page back to the login screen
    key_id = KeyStore(keys_portal.services.settings.data_dir).list_keys()[-1].key_id
    KeyStore(keys_portal.services.settings.data_dir).revoke(key_id)
    page.locator("[data-section='sources'] .section-head button").click()
    expect(page.locator("#login-view")).to_be_visible()
    expect(page.locator("#login-error")).to_have_text(
        "Your login is no longer valid. Please log in again."
    )
    assert page.evaluate("sessionStorage.getItem('lotse.credential')") is None
    assert_no_script_errors(opened.recorder, allowed_statuses=(401, 403))


@pytest.fixture
def oidc_portal(tmp_path: Path) -> Iterator[tuple[Portal, Provider]]:
    provider = Provider(tmp_path / "jwks.json")
    auth = AuthSettings(
        mode="keys+oidc",
        jwks_path=provider.jwks_path,
        issuer=ISSUER,
        audience=AUDIENCE,
        role_map={"it-admins": "admin"},
    )
    with running_portal(tmp_path, DOCS, auth=auth) as running:
        yield running, provider


def test_an_oidc_token_logs_in_as_a_bearer_token(
    oidc_portal: tuple[Portal, Provider], open_page: Callable[..., OpenPage]
) -> None:
    portal, provider = oidc_portal
    opened = open_page(portal.url, locale="de-DE")
    page = opened.page
    login(page, provider.token(sub="dora", groups=["it-admins"]))
    assert visible_nav(opened) == ["chat", "agent", "admin"]
    expect(page.locator("#session-user")).to_have_text("dora")
    me = [r for r in opened.recorder.requests if r[1].endswith("/v1/me")]
    assert len(me) == 2  # the first one (no credential) got the 401 that showed the login
    stored = page.evaluate("JSON.parse(sessionStorage.getItem('lotse.credential')).kind")
    assert stored == "token"
    assert_no_script_errors(opened.recorder, allowed_statuses=(401,))


def test_auth_mode_none_is_the_admin_with_every_view(
    portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    opened = open_page(portal.url, locale="en-US")
    page = opened.page
    expect(page.locator("#login-view")).to_be_hidden()
    assert visible_nav(opened) == ["chat", "agent", "admin"]
    expect(page.locator("#session-user")).to_have_text("anonymous")
    expect(page.locator("#logout")).to_be_hidden()  # nothing to log out of
    expect(page.locator(NAV + "[data-view-link='chat']")).to_have_attribute("aria-current", "page")
    opened.recorder.assert_clean()
