"""Registering and removing sources in the admin console, in a real browser: a folder with a
German and an English document is registered, reindexed from the portal and found; its
registration is updated (the API's 200); the server's validation errors are shown next to the
form in German and English; removal goes through an inline confirm step, waits out a running
reindex (409) and deletes the documents from both indexes; hostile names and paths stay text."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from api import sources
from tests.browser.conftest import (
    PHONE,
    OpenPage,
    Portal,
    assert_no_script_errors,
    assert_translated,
    screenshot,
)
from tests.loaders import GateLoader

pytestmark = pytest.mark.browser

GERMAN_DOC = (
    "drucker-etage3.md",
    "# Drucker Etage 3\n\n## Toner\n\nDen Toner für den Kyocera-Drucker in Etage 3 holen Sie "
    "im Lager neben Raum 3.14 ab.\n",
)
ENGLISH_DOC = (
    "guest-wifi.md",
    "# Guest Wi-Fi\n\n## Vouchers\n\nVisitors get a voucher for the NW-Guest network at the "
    "reception desk in building B.\n",
)
GERMAN_QUERY = "Toner Kyocera Drucker Etage 3"
ENGLISH_QUERY = "guest wifi voucher reception building B"
MISSING = "/nonexistent/lotse/handbuch"
# "/" cannot be part of a file name, so these stay without a closing tag
HOSTILE_NAME = "<img src=x onerror=\"window.__pwned = 'name'\">"
HOSTILE_FOLDER = "<img src=x onerror=\"window.__pwned = 'path'\"> <b>wiki"
HOSTILE_MISSING = "/nonexistent/<img src=x onerror=\"window.__pwned = 'error'\">"
HOLD_S = 120.0


@pytest.fixture
def handbook(tmp_path: Path) -> Path:
    folder = tmp_path / "handbuch"
    folder.mkdir()
    for name, text in (GERMAN_DOC, ENGLISH_DOC):
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def gate(portal: Portal) -> Iterator[GateLoader]:
    """The indexer's loader, holding one file until the test releases it."""
    loader = GateLoader(hold_s=HOLD_S)
    portal.services.knowledge.indexer.loader = loader
    try:
        yield loader
    finally:
        loader.release.set()  # never leave a job hanging, even when the test failed


def sources_page(portal: Portal, open_page: Callable[..., OpenPage], locale: str) -> OpenPage:
    opened = open_page(f"{portal.url}/#admin/sources", locale=locale)
    expect(opened.page.locator("[data-section='sources']")).to_have_attribute("data-loaded", "true")
    return opened


def section(page: Page) -> Locator:
    return page.locator("[data-section='sources']")


def listed(portal: Portal) -> list[dict[str, Any]]:
    response = httpx.get(f"{portal.url}/v1/admin/sources", timeout=30)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["sources"]
    return result


def found(portal: Portal, query: str) -> list[str]:
    response = httpx.post(f"{portal.url}/v1/search", json={"query": query, "k": 20}, timeout=30)
    response.raise_for_status()
    return [hit["source_id"] for hit in response.json()["results"]]


def register_via_api(portal: Portal, name: str, folder: Path) -> None:
    response = httpx.post(
        f"{portal.url}/v1/admin/sources",
        json={"name": name, "kind": "folder", "location": str(folder)},
        timeout=30,
    )
    assert response.status_code == 201, response.text


def test_a_folder_is_registered_reindexed_updated_and_removed(
    portal: Portal, open_page: Callable[..., OpenPage], handbook: Path
) -> None:
    opened = sources_page(portal, open_page, "de-DE")
    page = opened.page
    box = section(page)
    expect(box.locator(".empty")).to_have_text(
        "Noch keine Quellen registriert. Registrieren Sie unten einen Ordner oder einen "
        "Ticket-Export."
    )
    expect(box.get_by_role("heading", name="Quelle registrieren")).to_be_visible()
    name = box.get_by_label("Name", exact=True)
    location = box.get_by_label("Pfad auf dem Server", exact=True)
    expect(name).to_have_accessible_description(
        "Buchstaben A–Z, Ziffern, „.“, „_“ und „-“; am Anfang ein Buchstabe oder eine Ziffer; "
        "höchstens 64 Zeichen."
    )
    expect(location).to_have_accessible_description(
        "Absoluter Pfad eines Ordners, z. B. /srv/wissen/it; der Benutzer des Dienstes muss ihn "
        "lesen können."
    )
    expect(box.get_by_label("Exportformat", exact=True)).to_be_hidden()  # folders have none
    assert_translated(page)
    screenshot(page, "sources-1-empty-de")

    # keyboard only: type, tab on, Enter submits
    name.fill("handbuch")
    location.fill(str(handbook))
    location.press("Enter")
    saved = box.locator(".source-saved")
    expect(saved).to_have_attribute("data-created", "true")
    expect(saved).to_contain_text("Quelle registriert: handbuch")
    expect(saved).to_contain_text(
        "Die nächste Neuindexierung nimmt ihre Dokumente in die Wissensbasis auf."
    )
    expect(box.locator(".source-form-result")).to_have_attribute("role", "status")
    assert opened.recorder.bodies("POST", "v1/admin/sources") == [
        {"name": "handbuch", "kind": "folder", "location": str(handbook)}
    ]
    row = box.locator(".sources-table tr[data-source='handbuch']")
    expect(row.locator(".source-location")).to_have_text(str(handbook))
    expect(row.locator(".source-kind")).to_have_text("folder")
    expect(row.locator(".source-documents")).to_have_text("0")
    expect(row.locator(".source-last-indexed")).to_have_text("noch nie")
    expect(row.locator(".source-acl")).to_have_text("everyone")  # the default ACL
    expect(name).to_have_value("")  # the form is ready for the next one
    assert_translated(page)
    screenshot(page, "sources-2-registered-de")
    assert GERMAN_DOC[0] not in found(portal, GERMAN_QUERY)

    saved.get_by_role("button", name="Jetzt indexieren").click()
    panel = box.locator(".job-panel")
    expect(panel).to_have_attribute("data-state", "succeeded", timeout=30_000)
    assert opened.recorder.bodies("POST", "v1/admin/reindex") == [{"sources": ["handbuch"]}]
    expect(row.locator(".source-documents")).to_have_text("2")
    expect(row.locator(".source-chunks")).to_have_text("2")
    expect(row.locator(".source-last-indexed")).not_to_have_text("noch nie")
    cells = panel.locator(".summary-table tr[data-source='handbuch'] td").all_inner_texts()
    assert cells[:2] == ["2", "2"], cells  # seen, new
    assert GERMAN_DOC[0] in found(portal, GERMAN_QUERY)
    assert ENGLISH_DOC[0] in found(portal, ENGLISH_QUERY)
    screenshot(page, "sources-3-indexed-de")

    # an update: the row's "Bearbeiten" fills the form, saving replaces the registration (200)
    row.get_by_role("button", name="Bearbeiten handbuch").click()
    expect(name).to_have_value("handbuch")
    expect(location).to_have_value(str(handbook))
    expect(location).to_be_focused()
    expect(box.locator(".source-exists")).to_have_text(
        "Eine Quelle mit diesem Namen ist schon registriert: Speichern ersetzt ihre Registrierung."
    )
    groups = box.get_by_label("Gruppen (optional)", exact=True)
    expect(groups).to_have_value("everyone")
    groups.fill("everyone it-team")
    box.get_by_role("button", name="Registrierung aktualisieren").click()
    expect(saved).to_have_attribute("data-created", "false")
    expect(saved).to_contain_text("Registrierung aktualisiert: handbuch")
    expect(saved).to_contain_text("Die nächste Neuindexierung übernimmt die Änderung.")
    expect(row.locator(".source-acl")).to_have_text("everyone, it-team")
    expect(row.locator(".source-documents")).to_have_text("2")  # the documents stay
    assert opened.recorder.bodies("POST", "v1/admin/sources")[-1] == {
        "name": "handbuch",
        "kind": "folder",
        "location": str(handbook),
        "acl": ["everyone", "it-team"],
    }
    assert [(s["name"], s["acl"]) for s in listed(portal)] == [
        ("handbuch", ["everyone", "it-team"])
    ]
    expect(box.get_by_role("button", name="Registrieren", exact=True)).to_be_visible()
    assert_translated(page)

    # removal asks first, inline; "Nicht entfernen" keeps it and gives the focus back
    remove = row.get_by_role("button", name="Entfernen handbuch")
    remove.click()
    confirm = box.locator("tr[data-confirm-for='handbuch'] .source-confirm")
    expect(confirm).to_be_visible()
    expect(remove).to_have_attribute("aria-expanded", "true")
    expect(confirm.locator(".source-confirm-title")).to_be_focused()
    expect(confirm.locator(".source-confirm-title")).to_have_text("Quelle entfernen? handbuch")
    expect(confirm.locator(".source-confirm-counts")).to_have_text(
        "Im Index: Dokumente 2 · Abschnitte 2"
    )
    expect(box.get_by_role("group", name="Quelle entfernen? handbuch")).to_be_visible()
    assert_translated(page)
    screenshot(page, "sources-4-confirm-de")
    confirm.get_by_role("button", name="Nicht entfernen").click()
    expect(confirm).to_have_count(0)
    expect(remove).to_be_focused()
    expect(remove).to_have_attribute("aria-expanded", "false")
    assert opened.recorder.bodies("DELETE", "v1/admin/sources") == []
    page.keyboard.press("Enter")  # the focused "Entfernen" opens it again; Escape closes it
    expect(confirm).to_be_visible()
    page.keyboard.press("Escape")
    expect(confirm).to_have_count(0)
    expect(remove).to_be_focused()
    assert [s["name"] for s in listed(portal)] == ["handbuch"]

    remove.click()
    confirm.get_by_role("button", name="Endgültig entfernen").click()
    removed = box.locator(".source-notice .source-removed")
    expect(removed).to_contain_text("Quelle entfernt: handbuch")
    expect(removed.locator(".source-removed-counts")).to_have_text(
        "Aus beiden Indizes gelöscht: Dokumente 2 · Abschnitte 2"
    )
    expect(box.locator(".source-notice")).to_be_focused()
    expect(box.locator(".sources-table tr[data-source='handbuch']")).to_have_count(0)
    expect(box.locator(".empty")).to_be_visible()
    assert listed(portal) == []
    assert GERMAN_DOC[0] not in found(portal, GERMAN_QUERY)
    assert ENGLISH_DOC[0] not in found(portal, ENGLISH_QUERY)
    assert portal.services.knowledge.manifest.entries("handbuch") == []
    screenshot(page, "sources-5-removed-de")

    page.get_by_role("button", name="EN English", exact=True).click()
    expect(removed.locator(".source-removed-counts")).to_have_text(
        "Deleted from both indexes: Documents 2 · Chunks 2"
    )
    assert_translated(page)
    assert_no_script_errors(opened.recorder)


LANGUAGES = {
    "de-DE": {
        "failed": "Die Anfrage ist fehlgeschlagen.",
        "register": "Registrieren",
        "name": "Name",
        "location": "Pfad auf dem Server",
        "kind": "Art",
        "format": "Exportformat",
        "tickets": "Ticket-Export",
        "name_invalid": "Dieser Name ist nicht zulässig: nur Buchstaben A–Z (ohne Umlaute), "
        "Ziffern, „.“, „_“ und „-“, am Anfang ein Buchstabe oder eine Ziffer.",
        "location_missing": "Bitte den Pfad auf dem Server angeben.",
        "format_missing": "Bitte das Exportformat wählen.",
        "tickets_hint": "Absoluter Pfad der Exportdatei oder eines Ordners mit Exportdateien.",
        "switch": "EN English",
        "name_invalid_other": "This name is not allowed: only letters A–Z (no accents), digits, "
        "“.”, “_” and “-”, starting with a letter or digit.",
    },
    "en-US": {
        "failed": "The request failed.",
        "register": "Register",
        "name": "Name",
        "location": "Path on the server",
        "kind": "Kind",
        "format": "Export format",
        "tickets": "Ticket export",
        "name_invalid": "This name is not allowed: only letters A–Z (no accents), digits, "
        "“.”, “_” and “-”, starting with a letter or digit.",
        "location_missing": "Please enter the path on the server.",
        "format_missing": "Please choose the export format.",
        "tickets_hint": "Absolute path of the export file, or of a folder of export files.",
        "switch": "DE Deutsch",
        "name_invalid_other": "Dieser Name ist nicht zulässig: nur Buchstaben A–Z (ohne "
        "Umlaute), Ziffern, „.“, „_“ und „-“, am Anfang ein Buchstabe oder eine Ziffer.",
    },
}


@pytest.mark.parametrize("locale", list(LANGUAGES))
def test_the_servers_errors_are_shown_next_to_the_form(
    portal: Portal, open_page: Callable[..., OpenPage], tmp_path: Path, locale: str
) -> None:
    text = LANGUAGES[locale]
    export = tmp_path / "export.json"
    export.write_text('{"tickets": []}', encoding="utf-8")
    opened = sources_page(portal, open_page, locale)
    page = opened.page
    box = section(page)
    name = box.get_by_label(text["name"], exact=True)
    location = box.get_by_label(text["location"], exact=True)
    register = box.get_by_role("button", name=text["register"], exact=True)
    form_problem = box.locator(".source-form-problem [role='alert']")

    # the name is checked as the server checks it, before anything is sent
    name.fill("../etc")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(box.locator("#source-name-error")).to_have_text(text["name_invalid"])
    register.click()
    expect(name).to_be_focused()
    expect(box.locator("#source-location-error")).to_have_text(text["location_missing"])
    assert opened.recorder.bodies("POST", "v1/admin/sources") == []
    assert_translated(page)
    screenshot(page, f"sources-6-bad-name-{locale}")

    # what only the server knows comes back as its message, next to the form
    name.fill("handbuch")
    expect(name).not_to_have_attribute("aria-invalid", "true")
    location.fill(MISSING)
    register.click()
    expect(form_problem).to_contain_text(text["failed"])
    expect(form_problem.locator(".error-detail")).to_have_text(
        f"the folder {MISSING} does not exist on the server; check the path and that the "
        "service's user can read it"
    )
    expect(location).to_have_attribute("aria-invalid", "true")
    expect(location).to_be_focused()
    assert opened.recorder.bodies("POST", "v1/admin/sources") == [
        {"name": "handbuch", "kind": "folder", "location": MISSING}
    ]
    location.fill("relative/handbuch")
    register.click()
    expect(form_problem.locator(".error-detail")).to_have_text(
        "location must be an absolute path on the server, not 'relative/handbuch'"
    )
    screenshot(page, f"sources-7-server-error-{locale}")

    # a ticket export: its format is asked for, and a name the server refuses for it
    box.get_by_label(text["kind"], exact=True).select_option("tickets")
    format_ = box.get_by_label(text["format"], exact=True)
    expect(format_).to_be_visible()
    expect(location).to_have_accessible_description(text["tickets_hint"])
    name.fill("helpdesk-full")
    location.fill(str(export))
    register.click()
    expect(box.locator("#source-format-error")).to_have_text(text["format_missing"])
    expect(format_).to_be_focused()
    assert len(opened.recorder.bodies("POST", "v1/admin/sources")) == 2
    format_.select_option("zammad")
    expect(box.locator("#source-format-error")).to_be_hidden()
    register.click()
    expect(form_problem.locator(".error-detail")).to_have_text(
        "a ticket source's name may not end with '-full': its agents' records go to NAME-full"
    )
    expect(name).to_have_attribute("aria-invalid", "true")
    assert opened.recorder.bodies("POST", "v1/admin/sources")[-1] == {
        "name": "helpdesk-full",
        "kind": "tickets",
        "location": str(export),
        "format": "zammad",
    }
    assert listed(portal) == []

    # the form's own messages follow the language switch
    name.fill("../etc")
    page.get_by_role("button", name=text["switch"], exact=True).click()
    expect(box.locator("#source-name-error")).to_have_text(text["name_invalid_other"])
    assert_translated(page)

    # and the corrected form registers the export
    name.fill("helpdesk")
    box.locator("form.source-form").evaluate("(form) => form.requestSubmit()")
    expect(box.locator(".source-saved")).to_have_attribute("data-created", "true")
    expect(form_problem).to_have_count(0)
    expect(box.locator(".sources-table tr[data-source='helpdesk'] .source-kind")).to_have_text(
        "tickets · zammad"
    )
    assert [(s["name"], s["kind"], s["format"]) for s in listed(portal)] == [
        ("helpdesk", "tickets", "zammad")
    ]
    assert_no_script_errors(opened.recorder, allowed_statuses=(422,))


def test_removal_waits_while_a_reindex_runs(
    portal: Portal, open_page: Callable[..., OpenPage], handbook: Path, gate: GateLoader
) -> None:
    register_via_api(portal, "handbuch", handbook)
    gate.block_on = ENGLISH_DOC[0]
    opened = sources_page(portal, open_page, "en-US")
    page = opened.page
    box = section(page)
    box.get_by_role("button", name="Reindex all sources").click()
    assert gate.entered.wait(30), "the reindex never reached the held file"
    panel = box.locator(".job-panel")
    expect(panel).to_have_attribute("data-state", "running")
    job_id = panel.get_attribute("data-job-id")

    row = box.locator(".sources-table tr[data-source='handbuch']")
    row.get_by_role("button", name="Remove handbuch").click()
    confirm = box.locator("tr[data-confirm-for='handbuch'] .source-confirm")
    expect(confirm.locator(".source-confirm-counts")).to_have_text(
        "In the index: Documents 0 · Chunks 0"
    )
    confirm.get_by_role("button", name="Remove for good").click()
    busy = confirm.locator(".source-busy")
    expect(busy).to_have_attribute("role", "alert")
    expect(busy).to_contain_text(
        "A source cannot be removed while a reindex runs. Wait for it to finish, or cancel it."
    )
    expect(busy.locator(".error-detail")).to_contain_text(f"reindex job {job_id} is running")
    expect(confirm.get_by_role("button", name="Remove for good")).to_be_enabled()
    assert [s["name"] for s in listed(portal)] == ["handbuch"]
    assert_translated(page)
    screenshot(page, "sources-8-remove-busy-en")

    # the job finishes, the list reloads with the counts, and the confirmation is still there
    gate.release.set()
    expect(panel).to_have_attribute("data-state", "succeeded", timeout=30_000)
    expect(row.locator(".source-documents")).to_have_text("2")
    expect(confirm.locator(".source-confirm-counts")).to_have_text(
        "In the index: Documents 2 · Chunks 2"
    )
    expect(confirm.locator(".source-busy")).to_have_count(0)
    confirm.get_by_role("button", name="Remove for good").click()
    expect(box.locator(".source-removed-counts")).to_have_text(
        "Deleted from both indexes: Documents 2 · Chunks 2"
    )
    assert listed(portal) == []
    assert GERMAN_DOC[0] not in found(portal, GERMAN_QUERY)
    assert ENGLISH_DOC[0] not in found(portal, ENGLISH_QUERY)
    assert_no_script_errors(opened.recorder, allowed_statuses=(409,))


def test_hostile_names_and_paths_are_shown_as_text(
    portal: Portal, open_page: Callable[..., OpenPage], tmp_path: Path
) -> None:
    # the API refuses such a name; the manifest does not (an older or hand-made registration)
    plain = tmp_path / "plain"
    plain.mkdir()
    sources.register(
        portal.services.knowledge.manifest,
        name=HOSTILE_NAME,
        kind="folder",
        location=str(plain),
        acl=("everyone",),
    )
    hostile_folder = tmp_path / HOSTILE_FOLDER
    hostile_folder.mkdir()
    opened = sources_page(portal, open_page, "en-US")
    page = opened.page
    box = section(page)

    box.get_by_label("Name", exact=True).fill("hostile-path")
    box.get_by_label("Path on the server", exact=True).fill(HOSTILE_MISSING)
    box.get_by_role("button", name="Register", exact=True).click()
    expect(box.locator(".source-form-problem .error-detail")).to_contain_text(HOSTILE_MISSING)
    box.get_by_label("Path on the server", exact=True).fill(str(hostile_folder))
    box.get_by_role("button", name="Register", exact=True).click()
    expect(box.locator(".source-saved")).to_have_attribute("data-created", "true")

    by_path = box.locator(".sources-table tr[data-source='hostile-path']")
    expect(by_path.locator(".source-location")).to_have_text(str(hostile_folder))
    by_name = box.locator("tbody tr").filter(has=page.locator(".source-name", has_text="onerror"))
    expect(by_name.locator(".source-name")).to_have_text(HOSTILE_NAME)
    expect(by_name).to_have_attribute("data-source", HOSTILE_NAME)
    by_name.get_by_role("button", name="Edit").click()
    expect(box.get_by_label("Name", exact=True)).to_have_value(HOSTILE_NAME)
    expect(box.locator("#source-name-error")).to_be_visible()  # the API would refuse it
    by_name.get_by_role("button", name="Remove").click()
    confirm = box.locator(".source-confirm")
    expect(confirm.locator(".source-confirm-title code")).to_have_text(HOSTILE_NAME)
    screenshot(page, "sources-9-hostile-en")
    confirm.get_by_role("button", name="Remove for good").click()
    expect(box.locator(".source-removed code")).to_have_text(HOSTILE_NAME)
    assert [s["name"] for s in listed(portal)] == ["hostile-path"]

    expect(box.locator("img")).to_have_count(0)
    expect(box.locator("b")).to_have_count(0)
    assert page.evaluate("window.__pwned") is None
    assert_translated(page)
    assert_no_script_errors(opened.recorder, allowed_statuses=(422,))


def test_the_form_is_used_with_the_keyboard_alone_on_a_phone(
    portal: Portal, open_page: Callable[..., OpenPage], handbook: Path
) -> None:
    opened = open_page(f"{portal.url}/#admin/sources", locale="en-US", viewport=PHONE)
    page = opened.page
    box = section(page)
    expect(box).to_have_attribute("data-loaded", "true")
    box.get_by_label("Name", exact=True).focus()
    page.keyboard.type("handbook")
    page.keyboard.press("Tab")
    expect(box.get_by_label("Kind", exact=True)).to_be_focused()
    page.keyboard.press("Tab")  # the export format is skipped: it is hidden for a folder
    expect(box.get_by_label("Path on the server", exact=True)).to_be_focused()
    page.keyboard.type(str(handbook))
    page.keyboard.press("Tab")
    expect(box.get_by_label("Groups (optional)", exact=True)).to_be_focused()
    page.keyboard.type("everyone, it-team")
    page.keyboard.press("Tab")
    expect(box.get_by_role("button", name="Register", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(box.locator(".source-saved")).to_contain_text("Source registered: handbook")
    expect(box.locator(".sources-table tr[data-source='handbook'] .source-acl")).to_have_text(
        "everyone, it-team"
    )
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px screen"
    screenshot(page, "sources-10-phone-en")
    assert_no_script_errors(opened.recorder)
