"""The admin console in a real browser: reindex with a live progress bar and its summary, the
dashboard charts from real statistics, the audit log with filters and the chain check (with a
hostile detail shown inert), erasure with a dry run and a confirm step, and API keys."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from api import sources
from api.auditing import record_admin
from api.keys import KeyStore
from assistant.identity import Caller
from tests.browser.conftest import (
    OpenPage,
    Portal,
    assert_no_script_errors,
    assert_translated,
    screenshot,
)

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=\"window.__pwned = 'audit'\"><script>window.__pwned = 1</script>"
FILES = 12

# the values the progress bar showed, in order (page.evaluate runs outside the page's CSP)
WATCH_PROGRESS_JS = """() => {
  window.__progress = [];
  const bar = document.querySelector('.job-progress');
  new MutationObserver(() => window.__progress.push(Number(bar.value)))
    .observe(bar, {attributes: true, attributeFilter: ['value']});
}"""


@dataclass
class SlowEmbedder:
    """The fake embedder, a little slower per batch, so a reindex can be watched."""

    inner: Any
    delay_s: float = 0.12

    def embed_passages(self, texts: Sequence[str]) -> Any:
        time.sleep(self.delay_s)
        return self.inner.embed_passages(texts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def admin_page(
    portal: Portal, open_page: Callable[..., OpenPage], section: str, locale: str
) -> OpenPage:
    opened = open_page(f"{portal.url}/#admin/{section}", locale=locale)
    expect(opened.page.locator("#admin-view")).to_be_visible()
    return opened


def test_reindex_shows_live_progress_and_the_summary(
    portal: Portal, open_page: Callable[..., OpenPage], tmp_path: Path
) -> None:
    folder = tmp_path / "wiki"
    folder.mkdir()
    for n in range(FILES):
        (folder / f"seite-{n:02d}.md").write_text(
            f"# Seite {n}\n\n## Inhalt\n\nDrucker Nummer {n} steht im Flur {n}.\n", "utf-8"
        )
    sources.register(
        portal.services.knowledge.manifest,
        name="it-wiki",
        kind="folder",
        location=str(folder),
        acl=("everyone",),
    )
    indexer = portal.services.knowledge.indexer
    indexer.embedder = SlowEmbedder(indexer.embedder)  # type: ignore[assignment]

    opened = admin_page(portal, open_page, "sources", "de-DE")
    page = opened.page
    row = page.locator("[data-section='sources'] tr[data-source='it-wiki']")
    expect(row.locator(".source-documents")).to_have_text("0")
    expect(row.locator(".source-last-indexed")).to_have_text("noch nie")
    expect(page.locator(".subnav-link[aria-current='page']")).to_have_text("Quellen")
    assert_translated(page)
    page.evaluate(WATCH_PROGRESS_JS)
    page.get_by_role("button", name="Alle Quellen neu indexieren").click()
    panel = page.locator(".job-panel")
    expect(panel).to_have_attribute("data-state", "running")
    expect(page.get_by_role("button", name="Abbrechen")).to_be_visible()
    screenshot(page, "admin-1-reindex-running-de")
    expect(panel).to_have_attribute("data-state", "succeeded", timeout=30_000)
    expect(panel.locator(".job-state")).to_have_text("Indexierung abgeschlossen.")
    expect(page.locator(".job-progress")).to_have_js_property("value", 100)
    expect(panel.locator(".job-percent")).to_have_text(f"100 % · {FILES} / {FILES} Dateien")
    cells = panel.locator(".summary-table tr[data-source='it-wiki'] td").all_inner_texts()
    # seen, new, changed, unchanged, deleted, skipped, chunks written (then seconds)
    assert cells[:7] == [str(FILES), str(FILES), "0", "0", "0", "0", str(FILES)], cells
    expect(row.locator(".source-documents")).to_have_text(str(FILES))
    expect(row.locator(".source-last-indexed")).not_to_have_text("noch nie")
    expect(page.get_by_role("button", name="Abbrechen")).to_be_hidden()
    shown: list[float] = page.evaluate("window.__progress")
    assert shown == sorted(shown), shown  # it only moves forward
    assert shown[-1] == 100
    assert any(0 < v < 100 for v in shown), shown  # and it moved while the job ran
    screenshot(page, "admin-2-reindex-done-de")
    assert_no_script_errors(opened.recorder)


def chat(portal: Portal, question: str) -> dict[str, Any]:
    response = httpx.post(
        f"{portal.url}/v1/chat", json={"message": question, "stream": False}, timeout=30
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def test_dashboard_draws_the_statistics_in_english_and_german(
    portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    portal.llm.token_delay_s = 0.0
    portal.llm.queue("Starten Sie Cisco AnyConnect.", "The per diem is 28 euros.", "NOT_FOUND")
    first = chat(portal, "Wie verbinde ich mich mit dem VPN?")
    second = chat(portal, "What is the per diem?")
    chat(portal, "What is for lunch today?")
    for answer_id, rating in ((first["answer_id"], "up"), (second["answer_id"], "down")):
        httpx.post(
            f"{portal.url}/v1/feedback", json={"answer_id": answer_id, "rating": rating}
        ).raise_for_status()

    opened = admin_page(portal, open_page, "dashboard", "en-US")
    page = opened.page
    section = page.locator("[data-section='dashboard']")
    expect(section).to_have_attribute("data-loaded", "true")
    expect(section.locator(".stat-questions dd")).to_have_text("3")
    expect(section.locator(".stat-answered dd")).to_have_text("2")
    expect(section.locator(".stat-abstained dd")).to_have_text("1")
    expect(section.locator(".stat-deflection dd")).to_have_text("33%")
    bars = section.locator("svg.chart-bars g.chart-bar")
    expect(bars).to_have_count(31)  # 30 days back to now: 31 calendar days
    expect(bars.last).to_have_attribute("data-total", "3")
    assert bars.last.locator("rect").count() == 2
    expect(section.locator(".chart-ring .ring-text").first).to_have_text("33%")
    legends = section.locator(".chart-legend").all_inner_texts()
    assert any("Helpful" in text and "Not helpful" in text for text in legends), legends
    expect(section.locator(".bar-row .bar-value").first).not_to_have_text("–")
    expect(section.locator(".chart-title").first).to_have_text(
        "Questions per day: answered and abstained"
    )
    gaps = section.locator(".gaps")
    assert httpx.get(f"{portal.url}/v1/admin/gaps").status_code == 200
    expect(gaps.locator(".not-available")).to_have_count(0)
    assert_translated(page)
    screenshot(page, "admin-3-dashboard-en")

    page.get_by_role("button", name="DE Deutsch", exact=True).click()
    expect(section.locator(".chart-title").first).to_have_text(
        "Fragen pro Tag: beantwortet und nicht gefunden"
    )
    expect(section.locator(".stat-deflection dd")).to_have_text("33 %")
    assert_translated(page)
    screenshot(page, "admin-4-dashboard-de")
    assert_no_script_errors(opened.recorder, allowed_statuses=(404,))


def test_audit_log_filters_and_verifies_and_shows_details_inert(
    portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    portal.llm.token_delay_s = 0.0
    portal.llm.queue("Starten Sie Cisco AnyConnect.")
    chat(portal, "Wie verbinde ich mich mit dem VPN?")
    record_admin(
        portal.services, Caller(user_id="root", role="admin"), "reindex", details={"note": HOSTILE}
    )
    opened = admin_page(portal, open_page, "audit", "de-DE")
    page = opened.page
    section = page.locator("[data-section='audit']")
    expect(section).to_have_attribute("data-loaded", "true")
    hostile = section.locator("tr", has_text="window.__pwned")
    expect(hostile.locator(".audit-details")).to_contain_text(HOSTILE.replace('"', '\\"'))
    expect(section.locator("img")).to_have_count(0)
    expect(section.locator("tbody script")).to_have_count(0)
    assert page.evaluate("window.__pwned") is None
    events = section.locator("tbody tr td:nth-child(3)").all_inner_texts()
    assert "answer" in events and "reindex" in events, events
    screenshot(page, "admin-5-audit-de")

    section.locator("select[name='event']").select_option("answer")
    section.get_by_role("button", name="Anzeigen").click()
    expect(section.locator("tbody tr")).to_have_count(1)
    expect(section.locator("tbody tr td:nth-child(3)")).to_have_text("answer")
    expect(section.locator("tbody tr td:nth-child(6)")).to_have_text("beantwortet")
    section.locator("select[name='decision']").select_option("abstained")
    section.get_by_role("button", name="Anzeigen").click()
    expect(section.locator(".empty")).to_have_text("Keine Einträge für diese Filter.")

    section.get_by_role("button", name="Kette prüfen").click()
    result = section.locator(".verify-result")
    expect(result).to_have_attribute("data-ok", "true")
    expect(result).to_contain_text("Die Kette ist intakt.")
    # the run is recorded after the chain it judged, with the count the page shows
    run = portal.services.audit.records(event="audit_verified")[-1]
    assert run.details["records"] == portal.services.audit.verify().records - 1
    expect(result).to_contain_text(f"Geprüfte Einträge: {run.details['records']}")
    assert_translated(page)
    screenshot(page, "admin-6-audit-verified-de")

    page.get_by_role("button", name="EN English", exact=True).click()
    expect(result).to_contain_text("The chain is intact.")
    screenshot(page, "admin-7-audit-verified-en")
    assert page.evaluate("window.__pwned") is None
    assert_no_script_errors(opened.recorder)


def test_erase_previews_then_erases_after_confirming(
    portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    opened = admin_page(portal, open_page, "erase", "en-US")
    page = opened.page
    section = page.locator("[data-section='erase']")
    section.locator("select[name='kind']").select_option("match")
    section.locator("input[name='match']").fill("AnyConnect")
    section.get_by_role("button", name="Preview (dry run)").click()
    result = section.locator(".erase-result .notice")
    expect(result).to_have_attribute("data-dry-run", "true")
    expect(result).to_contain_text("Dry run — this would be erased:")
    expect(result.locator(".erase-documents li")).to_have_text(["sample/it/vpn.md (1)"])
    confirm = section.get_by_role("button", name="Erase now")
    expect(confirm).to_be_disabled()
    assert_translated(page)
    screenshot(page, "admin-8-erase-preview-en")
    assert [b for b in opened.recorder.bodies("POST", "v1/admin/erase")] == [
        {"dry_run": True, "match": "AnyConnect"}
    ]
    section.locator("#erase-confirm-box").check()
    expect(confirm).to_be_enabled()
    confirm.click()
    expect(result).to_have_attribute("data-dry-run", "false")
    expect(result).to_contain_text("Erased:")
    expect(result).to_contain_text("Audit record of the erasure:")
    assert opened.recorder.bodies("POST", "v1/admin/erase")[-1] == {
        "dry_run": False,
        "match": "AnyConnect",
    }
    screenshot(page, "admin-9-erased-en")
    # a second preview finds nothing any more
    section.get_by_role("button", name="Preview (dry run)").click()
    expect(result).to_have_attribute("data-dry-run", "true")
    expect(result.locator(".erase-documents")).to_have_count(0)
    page.get_by_role("button", name="DE Deutsch", exact=True).click()
    expect(result).to_contain_text("Probelauf – gelöscht würden:")
    assert_translated(page)
    screenshot(page, "admin-10-erase-de")
    assert_no_script_errors(opened.recorder)


def test_keys_are_created_shown_once_and_revoked(
    portal: Portal, open_page: Callable[..., OpenPage]
) -> None:
    opened = admin_page(portal, open_page, "keys", "de-DE")
    page = opened.page
    section = page.locator("[data-section='keys']")
    expect(section).to_have_attribute("data-loaded", "true")
    section.locator("input[name='user']").fill("alice")
    section.locator("select[name='role']").select_option("agent")
    section.locator("input[name='groups']").fill("hr, it")
    section.get_by_role("button", name="Schlüssel erstellen").click()
    secret = section.locator(".secret-value")
    expect(secret).to_have_text(re.compile(r"^lotse_\S+$"))
    value = secret.inner_text()
    key_id = section.locator(".secret-key-id").inner_text()
    row = section.locator(f"tr[data-key-id='{key_id}']")
    expect(row).to_have_attribute("data-revoked", "false")
    expect(row.locator("td").nth(1)).to_have_text("alice")
    expect(row.locator("td").nth(3)).to_have_text("hr, it")
    assert value not in section.locator(".keys-table").inner_text()
    assert httpx.get(f"{portal.url}/v1/me", headers={"X-API-Key": value}).status_code == 200
    section.get_by_role("button", name="Kopieren").click()
    expect(section.locator(".key-secret .inline-status")).to_have_text("Schlüssel kopiert.")
    assert_translated(page)
    screenshot(page, "admin-11-key-created-de")

    revoke = row.get_by_role("button", name="Widerrufen")
    revoke.click()
    row.get_by_role("button", name="Wirklich widerrufen?").click()
    expect(row).to_have_attribute("data-revoked", "true")
    expect(row.locator(".key-status")).to_have_text("widerrufen")
    assert [k.revoked is not None for k in _keys(portal) if k.key_id == key_id] == [True]
    page.get_by_role("button", name="EN English", exact=True).click()
    expect(row.locator(".key-status")).to_have_text("revoked")
    screenshot(page, "admin-12-key-revoked-en")
    assert_no_script_errors(opened.recorder)


def _keys(portal: Portal) -> list[Any]:
    return KeyStore(portal.services.settings.data_dir).list_keys()
