"""Every file of the shared messy-docs corpus through ``SafeLoader``: text or a reason, in time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge.documents import Document
from knowledge.loaders import SafeLoader
from models.errors import UnsupportedDocument

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

MOJIBAKE = ("Ã¤", "Ã¶", "Ã¼", "ÃŸ", "Ã„", "Ã–", "Ãœ", "Ã©", "Ã¨", "â€™", "â€œ", "â‚¬")
MAX_REPLACEMENT_SHARE = 0.001
CORPUS_BUDGET_S = 300.0

Outcome = Document | UnsupportedDocument


@pytest.fixture(scope="module")
def messy_docs() -> Path:
    folder = Path(__file__).resolve().parents[3] / "shared" / "data" / "messy-docs"
    if not folder.is_dir():
        pytest.fail(
            f"the messy-docs corpus is missing at {folder}; check out the shared data next to "
            "the repository (../shared/data/messy-docs) before running the e2e tests"
        )
    return folder


@pytest.fixture(scope="module")
def outcomes(messy_docs: Path) -> Iterator[dict[str, Outcome]]:
    files = sorted(path for path in messy_docs.rglob("*") if path.is_file())
    assert len(files) > 100, f"expected the full corpus, found {len(files)} files"
    results: dict[str, Outcome] = {}
    started = time.monotonic()
    with SafeLoader() as loader:
        for path in files:
            name = path.relative_to(messy_docs).as_posix()
            try:
                results[name] = loader.load(path, source_id=name, source="messy-docs")
            except UnsupportedDocument as exc:
                results[name] = exc
    elapsed = time.monotonic() - started
    assert elapsed < CORPUS_BUDGET_S, f"corpus took {elapsed:.0f} s"
    yield results


def document(outcomes: dict[str, Outcome], name: str) -> Document:
    outcome = outcomes[name]
    assert isinstance(outcome, Document), f"{name}: {outcome}"
    return outcome


def reason(outcomes: dict[str, Outcome], name: str) -> str:
    outcome = outcomes[name]
    assert isinstance(outcome, UnsupportedDocument), f"{name} loaded, expected a refusal"
    return outcome.reason


def test_every_file_is_readable_text_or_a_reason(outcomes: dict[str, Outcome]) -> None:
    problems: list[str] = []
    for name, outcome in outcomes.items():
        if isinstance(outcome, UnsupportedDocument):
            if not outcome.reason.strip():
                problems.append(f"{name}: empty reason")
            continue
        text = outcome.text
        if not text.strip():
            problems.append(f"{name}: empty text")
        if "\x00" in text:
            problems.append(f"{name}: NUL characters")
        if text.count("\ufffd") > MAX_REPLACEMENT_SHARE * len(text):
            problems.append(f"{name}: {text.count(chr(0xFFFD))} replacement characters")
        found = [marker for marker in MOJIBAKE if marker in text or marker in outcome.title]
        if found:
            problems.append(f"{name}: mojibake {found}")
        if not outcome.title.strip():
            problems.append(f"{name}: empty title")
        if len(outcome.content_hash) != 64 or outcome.source_id != name:
            problems.append(f"{name}: bad identity fields")
    assert problems == []


def test_supported_formats_mostly_load(outcomes: dict[str, Outcome]) -> None:
    loaded = {name for name, outcome in outcomes.items() if isinstance(outcome, Document)}
    assert len(loaded) >= 60
    formats = {outcome.format for outcome in outcomes.values() if isinstance(outcome, Document)}
    assert formats == {"markdown", "text", "html", "pdf", "docx", "eml", "msg"}


def test_umlauts_in_a_non_utf8_markdown_file(outcomes: dict[str, Outcome]) -> None:
    doc = document(outcomes, "umlauts-non-utf8.md")
    assert doc.text == "## können\n\nkönnen\n\näöüß"
    assert doc.title == "können"
    assert doc.language == "de"


@pytest.mark.parametrize("name", ["fake-text-utf-16-le.txt", "fake-text-utf-32.txt"])
def test_utf16_and_utf32_text(outcomes: dict[str, Outcome], name: str) -> None:
    doc = document(outcomes, name)
    assert doc.text.startswith("This is a test document to use for unit tests.\n\n")
    assert "- Hamburgers are delicious\n- Dogs are the best\n- I love fuzzy blankets" in doc.text
    assert doc.language == "en"


def test_html_scripts_are_dropped(outcomes: dict[str, Outcome]) -> None:
    doc = document(outcomes, "example-with-scripts.html")
    assert doc.title == (
        "Russian Offensive Campaign Assessment, December 13 | Institute for the Study of War"
    )
    assert "# Russian Offensive Campaign Assessment, December 13" in doc.text
    for script_text in ("switchTo5x", "GoogleAnalyticsObject", "jQuery", "function ("):
        assert script_text not in doc.text


def test_html_in_cp1252_and_utf16(outcomes: dict[str, Outcome]) -> None:
    cp1252 = document(outcomes, "fake-html-cp1252.html")
    assert "Die schöne Frau hat einen Kaffee mit Kuchen gegessen." in cp1252.text
    assert "Der Preis betrug 15,50 €." in cp1252.text
    utf16 = document(outcomes, "example-steelJIS-datasheet-utf-16.html")
    assert "## SNB22-3 Chemical composition, standards and properties" in utf16.text
    assert "| C | Si | Mn | P | S | Cr | Mo |" in utf16.text


def test_large_html(outcomes: dict[str, Outcome]) -> None:
    doc = document(outcomes, "example-10k.html")
    assert "Galaxy Gaming, Inc." in doc.text
    assert len(doc.text) > 100_000


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2023-half-year-analyses-by-segment.xlsx", "unsupported format .xlsx"),
        ("empty.xlsx", "unsupported format .xlsx"),
        ("password_protected.xlsx", "unsupported format .xlsx"),
        ("fake-power-point-many-pages.pptx", "unsupported format .pptx"),
        ("sample-presentation.pptx", "unsupported format .pptx"),
        ("fake-power-point.ppt", "unsupported format .ppt"),
        ("fake.doc", "unsupported format .doc"),
        ("simple.odt", "unsupported format .odt"),
        ("winter-sports.epub", "unsupported format .epub"),
        ("img/DA-1p.png", "unsupported format .png"),
        ("factbook.xml", "unsupported format .xml"),
        ("simple.json", "unsupported format .json"),
        ("fake-text-all-whitespace.txt", "no text"),
        ("pdf/single_table.pdf", "no text layer (scanned PDF?)"),
        ("eml/fake-encrypted.eml", "encrypted e-mail (S/MIME or PGP), no readable text"),
    ],
)
def test_expected_refusals(outcomes: dict[str, Outcome], name: str, expected: str) -> None:
    assert reason(outcomes, name) == expected


def test_emails(outcomes: dict[str, Outcome]) -> None:
    eml = document(outcomes, "eml/fake-email.eml")
    assert eml.title == "Test Email"
    assert eml.text == (
        "From: Matthew Robinson <mrobinson@unstructured.io>\n"
        "To: NotMatthew <NotMatthew@notunstructured.com>\n"
        "Date: Fri, 16 Dec 2022 17:04:16 -0500\n"
        "Subject: Test Email\n\n"
        "This is a test email to use for unit tests.\n\n"
        "Important points:\n\n"
        "- Roses are red\n- Violets are blue"
    )
    assert document(outcomes, "eml/fake-email-utf-16-le.eml").title == "Test Email"
    assert document(outcomes, "eml/fake-email-malformed-encoding.eml").title == "Test Email"
    assert document(outcomes, "eml/mime-no-subject.eml").title == "mime-no-subject"
    attachment = document(outcomes, "eml/fake-email-attachment.eml")
    assert attachment.text.endswith("Attachments: fake-attachment.txt")
    html_only = document(outcomes, "eml/mime-html-only.eml")
    assert "This is a text/html part." in html_only.text


def test_outlook_msg(outcomes: dict[str, Outcome]) -> None:
    msg = document(outcomes, "fake-email-attachment.msg")
    assert msg.format == "msg"
    assert msg.title == "Fake email with attachment"
    assert "- Lots of whitespace\n- Little to no content" in msg.text
    assert msg.text.endswith("Attachments: fake-attachment.txt")


def test_pdfs(outcomes: dict[str, Outcome]) -> None:
    empty_pages = document(outcomes, "pdf/layout-parser-paper-with-empty-pages.pdf")
    assert empty_pages.warnings == ("pages 2, 3 have no text layer (scanned?)",)
    assert empty_pages.title.startswith("LayoutParser")
    assert document(outcomes, "pdf/copy-protected.pdf").text.startswith("LayoutParser")
    french = document(outcomes, "language-docs/fr_olap.pdf")
    assert french.language == "fr"
    assert french.title == "Résumés et interrogations de logs de requêtes OLAP"


def test_docx_tables_in_body_order(outcomes: dict[str, Outcome]) -> None:
    doc = document(outcomes, "fake_table.docx")
    assert doc.text == (
        "| Header Col 1 | Header Col 2 |\n| Lorem ipsum | A Link example |\n\nDolor sit amet"
    )
    assert document(outcomes, "hlink-meta.docx").text.startswith(
        "One\n\nTwo with link to bookmark."
    )
