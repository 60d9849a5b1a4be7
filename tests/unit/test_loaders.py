"""Loaders: each test writes its own small file under ``tmp_path`` and checks exact output."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from knowledge.documents import Document
from knowledge.loaders import SUPPORTED_SUFFIXES, LoadLimits, SafeLoader, load_file
from knowledge.loaders.files import human_size
from models.errors import UnsupportedDocument

GERMAN_PARAGRAPH = "Öffnen Sie die Einstellungen und wählen Sie „Kennwort ändern“. Größe: 5 MB."


def load(path: Path, **kwargs: object) -> Document:
    return load_file(path, source_id=path.name, **kwargs)  # type: ignore[arg-type]


def reason_for(path: Path, **kwargs: object) -> str:
    with pytest.raises(UnsupportedDocument) as caught:
        load(path, **kwargs)
    assert caught.value.path == str(path)
    return caught.value.reason


# --- common Document fields ---------------------------------------------------------------


def test_document_fields(tmp_path: Path) -> None:
    path = tmp_path / "vpn.md"
    data = b"# VPN einrichten\n\nSo verbinden Sie sich mit dem Firmennetz.\n"
    path.write_bytes(data)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    doc = load_file(path, source_id="it/vpn.md", source="handbuch", acl=("it", "hr"))
    assert doc == Document(
        source_id="it/vpn.md",
        title="VPN einrichten",
        text="# VPN einrichten\n\nSo verbinden Sie sich mit dem Firmennetz.",
        format="markdown",
        language="de",
        modified=1_700_000_000.0,
        content_hash=hashlib.sha256(data).hexdigest(),
        acl=("it", "hr"),
        source="handbuch",
        metadata={"encoding": "utf-8"},
        warnings=(),
    )


def test_supported_suffixes() -> None:
    expected = {".md", ".markdown", ".txt", ".text", ".html", ".htm", ".pdf", ".docx", ".eml"}
    assert set(SUPPORTED_SUFFIXES) == expected | {".msg"}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("report.xlsx", "unsupported format .xlsx"),
        ("slides.pptx", "unsupported format .pptx"),
        ("old.doc", "unsupported format .doc"),
        ("data.json", "unsupported format .json"),
        ("book.epub", "unsupported format .epub"),
        ("photo.PNG", "unsupported format .png"),
        ("Makefile", "unsupported format (no file suffix)"),
    ],
)
def test_unsupported_formats(tmp_path: Path, name: str, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"whatever")
    assert reason_for(path) == reason


def test_missing_file(tmp_path: Path) -> None:
    assert reason_for(tmp_path / "gone.txt") == "cannot read the file (No such file or directory)"


def test_size_limit_is_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("x" * 1500)
    assert reason_for(path, limits=LoadLimits(max_bytes=1000)) == (
        "file is 1.5 kB, the limit is 1 kB"
    )


def test_human_size() -> None:
    assert human_size(812_300_000) == "812.3 MB"
    assert human_size(LoadLimits().max_bytes) == "50 MB"
    assert human_size(999) == "999 bytes"


def test_long_text_is_truncated_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_text("\n".join(f"Zeile {n} mit Text" for n in range(1000)), encoding="utf-8")
    doc = load(path, limits=LoadLimits(max_chars=500))
    assert len(doc.text) <= 500
    assert doc.text.endswith("mit Text")
    assert doc.warnings == ("text truncated to 500 of 18,889 characters",)


# --- plain text --------------------------------------------------------------------------

TEXT = "Größe ändern\n\nDer Drucker im Büro druckt nicht. Lösung: Treiber neu installieren."


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [
        ("utf-8", b""),
        ("utf-8-sig", b""),
        ("utf-16", b""),  # with BOM
        ("utf-16-le", b""),  # BOM-less, found by the NUL pattern
        ("utf-16-be", b""),
        ("utf-32", b""),
        ("utf-32-le", b""),
        ("cp1252", b""),
        ("latin-1", b""),
    ],
)
def test_text_encodings(tmp_path: Path, encoding: str, prefix: bytes) -> None:
    path = tmp_path / "drucker.txt"
    path.write_bytes(prefix + TEXT.replace("\n", "\r\n").encode(encoding))
    doc = load(path)
    assert doc.text == TEXT
    assert doc.title == "drucker"
    assert doc.format == "text"
    assert doc.language == "de"


def test_text_whitespace_is_normalised(tmp_path: Path) -> None:
    path = tmp_path / "notes.text"
    path.write_text("  first   line \t here \n\n\n\n second\u00a0line\u200b  \n", encoding="utf-8")
    assert load(path).text == "first line here\n\nsecond line"


@pytest.mark.parametrize("content", [b"", b"   \n\t\n  ", "\ufeff  \n".encode()])
def test_empty_text_is_unsupported(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    assert reason_for(path) == "no text"


def test_binary_garbage_in_txt(tmp_path: Path) -> None:
    path = tmp_path / "garbage.txt"
    path.write_bytes(bytes(range(256)) * 40)
    assert reason_for(path) == "binary content"


def test_renamed_png_in_txt(tmp_path: Path) -> None:
    path = tmp_path / "picture.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    assert reason_for(path) == "binary content (looks like a PNG image)"


# --- Markdown ----------------------------------------------------------------------------


def test_markdown(tmp_path: Path) -> None:
    path = tmp_path / "passwort.md"
    path.write_text(
        "---\ntitle: Passwort zurücksetzen\ntags: [it]\n---\n"
        "# Kennwort\n\nSo   setzen Sie Ihr Passwort zurück.\n\n"
        "#### Tiefer Abschnitt ####\n\n#\n\n"
        "Unterabschnitt\n--------------\n\n"
        "* Schritt eins\n\n```bash\n  passwd   --expire\n```\n",
        encoding="utf-8",
    )
    doc = load(path)
    assert doc.title == "Passwort zurücksetzen"
    assert doc.text == (
        "# Kennwort\n\nSo setzen Sie Ihr Passwort zurück.\n\n### Tiefer Abschnitt\n\n"
        "## Unterabschnitt\n\n* Schritt eins\n\n```bash\n  passwd   --expire\n```"
    )
    assert doc.language == "de"
    assert "tags:" not in doc.text


def test_markdown_title_is_first_h1_else_first_heading(tmp_path: Path) -> None:
    first = tmp_path / "a.markdown"
    first.write_text("Intro text\n\n## Setup\n\n# Printer guide\n", encoding="utf-8")
    second = tmp_path / "b.md"
    second.write_text("## Only a section\n\ntext\n", encoding="utf-8")
    third = tmp_path / "c.md"
    third.write_text("just text, no heading\n", encoding="utf-8")
    assert [load(p).title for p in (first, second, third)] == [
        "Printer guide",
        "Only a section",
        "c",
    ]


def test_markdown_in_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "umlaute.md"
    path.write_bytes("## können\n\näöüß €".encode("cp1252"))
    doc = load(path)
    assert doc.text == "## können\n\näöüß €"
    assert doc.title == "können"


# --- HTML --------------------------------------------------------------------------------

HTML_PAGE = """<!DOCTYPE html>
<html><head><meta charset="windows-1252"><title>Drucker einrichten</title>
<style>body { color: red }</style><script>var tracking = "secret";</script></head>
<body>
<header><nav><a href="/">Start</a> | <a href="/hilfe">Hilfe</a></nav></header>
<main>
<h1>Drucker im Büro</h1>
<p>So   richten Sie den <b>Drucker</b> ein.<br>Zweite Zeile.</p>
<h2>Schritte</h2>
<ul><li>Treiber <a href="x">herunterladen</a></li><li><p>Gerät wählen</p></li></ul>
<h4>Details</h4>
<table><tr><th>Modell</th><th>Raum</th></tr><tr><td>HP 4000</td><td>Größe 2</td></tr></table>
<p hidden>versteckt</p><div style="display: none">auch versteckt</div>
<noscript>Bitte JavaScript aktivieren</noscript>
<form><label>Suche</label><input value="x"></form>
<pre>code   line 1
  line 2</pre>
<!-- ein Kommentar -->
</main>
<aside>Werbung</aside>
<footer>Impressum</footer>
<script>document.write("mehr");</script>
</body></html>"""


def test_html(tmp_path: Path) -> None:
    path = tmp_path / "drucker.html"
    path.write_bytes(HTML_PAGE.encode("cp1252"))
    doc = load(path)
    assert doc.title == "Drucker einrichten"
    assert doc.format == "html"
    assert doc.language == "de"
    assert doc.metadata == {"encoding": "cp1252"}
    assert doc.text == (
        "# Drucker im Büro\n\n"
        "So richten Sie den Drucker ein.\nZweite Zeile.\n\n"
        "## Schritte\n\n"
        "- Treiber herunterladen\n\n- Gerät wählen\n\n"
        "### Details\n\n"
        "| Modell | Raum |\n| HP 4000 | Größe 2 |\n\n"
        "code line 1\nline 2"
    )


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-16-le"])
def test_html_unicode_encodings(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "page.htm"
    markup = "<html><body><h1>Übersicht</h1><p>Schließen Sie das Fenster.</p></body></html>"
    path.write_bytes(markup.encode(encoding))
    doc = load(path)
    assert doc.text == "# Übersicht\n\nSchließen Sie das Fenster."
    assert doc.title == "Übersicht"


def test_xhtml_with_xml_declaration(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
        "<body><p>Grüße</p></body></html>",
        encoding="utf-8",
    )
    assert load(path).text == "Grüße"


def test_article_header_is_kept_but_page_header_dropped(tmp_path: Path) -> None:
    path = tmp_path / "a.html"
    path.write_text(
        "<header>Site menu</header><article><header><h1>News</h1></header><p>Body</p>"
        "</article><footer>Copyright</footer>",
        encoding="utf-8",
    )
    assert load(path).text == "# News\n\nBody"


def test_deeply_nested_html(tmp_path: Path) -> None:
    path = tmp_path / "deep.html"
    path.write_text("<div>" * 5000 + "tief" + "</div>" * 5000, encoding="utf-8")
    assert load(path).text == "tief"


def test_nested_table_is_flattened_into_its_cell(tmp_path: Path) -> None:
    path = tmp_path / "t.html"
    path.write_text(
        "<table><tr><td>a</td><td><table><tr><td>x</td><td>y</td></tr></table></td></tr>"
        "<tr><td>b|c</td><td>d</td></tr></table>",
        encoding="utf-8",
    )
    assert load(path).text == "| a | x y |\n| b\\|c | d |"


def test_large_html_is_fast(tmp_path: Path) -> None:
    path = tmp_path / "big.html"
    row = "<tr><td>Ticket</td><td>Drucker druckt nicht</td><td>gelöst</td></tr>"
    path.write_text(
        "<html><body><h1>Export</h1><table>" + row * 20_000 + "</table></body></html>",
        encoding="utf-8",
    )
    assert path.stat().st_size > 1_000_000
    started = time.monotonic()
    doc = load(path)
    assert time.monotonic() - started < 15
    assert doc.text.count("| Ticket | Drucker druckt nicht | gelöst |") == 20_000


def test_html_without_text(tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    path.write_text("<html><script>alert(1)</script><img src='x.png'></html>", encoding="utf-8")
    assert reason_for(path) == "no text"


# --- PDF ---------------------------------------------------------------------------------


def write_pdf(
    path: Path, pages: list[list[str]], title: str | None = None, **kwargs: object
) -> None:
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), **kwargs)
    if title:
        pdf.setTitle(title)
    for lines in pages:
        y = 800
        for line in lines:
            pdf.drawString(72, y, line)
            y -= 20
        pdf.showPage()
    pdf.save()


def test_pdf(tmp_path: Path) -> None:
    path = tmp_path / "handbuch.pdf"
    write_pdf(
        path,
        [["Handbuch Drucker", "Der Drucker steht im Flur."], [], ["Seite drei: Toner wechseln."]],
        title="Druckerhandbuch",
    )
    doc = load(path)
    assert doc.title == "Druckerhandbuch"
    assert doc.format == "pdf"
    assert doc.text == (
        "Handbuch Drucker\nDer Drucker steht im Flur.\n\nSeite drei: Toner wechseln."
    )
    assert doc.warnings == ("page 2 has no text layer (scanned?)",)
    assert doc.metadata == {"pages": "3"}
    assert doc.language == "de"


def test_pdf_title_falls_back_to_first_line(tmp_path: Path) -> None:
    path = tmp_path / "memo.pdf"
    write_pdf(path, [["12", "Printer maintenance memo", "Replace the toner."]])
    assert load(path).title == "Printer maintenance memo"


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    write_pdf(path, [[], []])
    assert reason_for(path) == "no text layer (scanned PDF?)"


def test_encrypted_pdf(tmp_path: Path) -> None:
    from reportlab.lib.pdfencrypt import StandardEncryption

    locked = tmp_path / "locked.pdf"
    write_pdf(locked, [["Geheim"]], encrypt=StandardEncryption("benutzer", "besitzer"))
    assert reason_for(locked) == "encrypted PDF"

    owner_only = tmp_path / "owner-only.pdf"
    write_pdf(owner_only, [["Nur kopiergeschützt"]], encrypt=StandardEncryption("", "besitzer"))
    assert load(owner_only).text == "Nur kopiergeschützt"


def test_not_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "fake.pdf"
    path.write_text("Hello, I am not a PDF", encoding="utf-8")
    assert reason_for(path) == "not a PDF file (no %PDF header)"


def test_damaged_pdf(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 20)
    assert reason_for(path).startswith("damaged PDF (")  # the pypdf error class follows


# --- DOCX --------------------------------------------------------------------------------


def add_hyperlink(paragraph: object, text: str, url: str) -> None:
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    part = paragraph.part  # type: ignore[attr-defined]
    rel_id = part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rel_id)
    run = OxmlElement("w:r")
    text_element = OxmlElement("w:t")
    text_element.text = text
    run.append(text_element)
    link.append(run)
    paragraph._p.append(link)  # type: ignore[attr-defined]


def test_docx(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("Urlaubsantrag", style="Title")
    document.add_heading("Ablauf", level=1)
    document.add_paragraph("Stellen Sie den Antrag   rechtzeitig.")
    document.add_paragraph("Formular ausfüllen", style="List Bullet")
    document.add_paragraph("Vorgesetzte fragen", style="List Number")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Tage"
    table.cell(0, 1).text = "Frist"
    table.cell(1, 0).text = "1–3"
    table.cell(1, 1).text = "eine Woche"
    document.add_heading("Details", level=2)
    linked = document.add_paragraph("Siehe ")
    add_hyperlink(linked, "Intranet-Seite", "https://intranet.example/urlaub")
    document.add_heading("Ganz tief", level=5)
    document.add_paragraph("")
    path = tmp_path / "urlaub.docx"
    document.save(str(path))

    doc = load(path)
    assert doc.title == "Urlaubsantrag"
    assert doc.format == "docx"
    assert doc.language == "de"
    assert doc.text == (
        "# Urlaubsantrag\n\n# Ablauf\n\nStellen Sie den Antrag rechtzeitig.\n\n"
        "- Formular ausfüllen\n\n- Vorgesetzte fragen\n\n"
        "| Tage | Frist |\n| 1–3 | eine Woche |\n\n"
        "## Details\n\nSiehe Intranet-Seite\n\n### Ganz tief"
    )


def test_docx_title_from_core_properties_else_heading(tmp_path: Path) -> None:
    import docx

    with_meta = docx.Document()
    with_meta.core_properties.title = "Printer FAQ"
    with_meta.add_heading("Questions", level=1)
    with_meta.save(str(tmp_path / "meta.docx"))
    without = docx.Document()
    without.core_properties.title = ""
    without.add_paragraph("intro")
    without.add_heading("Network drives", level=2)
    without.save(str(tmp_path / "plain.docx"))
    assert load(tmp_path / "meta.docx").title == "Printer FAQ"
    assert load(tmp_path / "plain.docx").title == "Network drives"


def test_docx_that_is_not_a_zip(tmp_path: Path) -> None:
    text = tmp_path / "text.docx"
    text.write_text("plain text pretending", encoding="utf-8")
    ole = tmp_path / "old.docx"
    ole.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    broken_zip = tmp_path / "broken.docx"
    broken_zip.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    assert reason_for(text) == "not a .docx file (not a ZIP archive)"
    assert reason_for(ole) == "not a .docx file (an old Word .doc or a password-protected file)"
    assert reason_for(broken_zip).startswith("damaged .docx file (")


# --- E-mail ------------------------------------------------------------------------------


def test_eml_with_attachments(tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"] = "Jürgen Müller <juergen@example.com>"
    message["To"] = "servicedesk@example.com"
    message["Date"] = "Mon, 02 Jun 2025 09:30:00 +0200"
    message["Subject"] = "Drucker im 3. Stock druckt nicht – bitte prüfen"
    message.set_content("Hallo,\n\nder Drucker zeigt   Fehler 49.\n\nGrüße\nJürgen\n")
    message.add_alternative("<p>HTML-Version, <script>x()</script>nicht nehmen</p>", subtype="html")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="a.pdf")
    message.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="b.png")
    path = tmp_path / "ticket.eml"
    path.write_bytes(message.as_bytes())

    doc = load(path)
    assert doc.title == "Drucker im 3. Stock druckt nicht – bitte prüfen"
    assert doc.format == "eml"
    assert doc.language == "de"
    assert doc.text == (
        "From: Jürgen Müller <juergen@example.com>\n"
        "To: servicedesk@example.com\n"
        "Date: Mon, 02 Jun 2025 09:30:00 +0200\n"
        "Subject: Drucker im 3. Stock druckt nicht – bitte prüfen\n\n"
        "Hallo,\n\nder Drucker zeigt Fehler 49.\n\nGrüße\nJürgen\n\n"
        "Attachments: a.pdf, b.png"
    )
    assert doc.metadata["attachments"] == "a.pdf, b.png"


def test_eml_html_only_and_no_subject(tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"] = "it@example.com"
    message.set_content(
        "<html><head><style>p{}</style></head><body><h2>Wartung</h2>"
        "<p>Am Samstag ist das VPN nicht erreichbar.</p><script>track()</script></body></html>",
        subtype="html",
    )
    path = tmp_path / "wartung.eml"
    path.write_bytes(message.as_bytes())
    doc = load(path)
    assert doc.title == "wartung"
    assert doc.text == (
        "From: it@example.com\n\n## Wartung\n\nAm Samstag ist das VPN nicht erreichbar."
    )


def test_eml_with_wrong_declared_charset(tmp_path: Path) -> None:
    path = tmp_path / "latin.eml"
    path.write_bytes(
        b"From: a@example.com\r\nSubject: =?iso-8859-1?q?K=FChlschrank?=\r\n"
        b'Content-Type: text/plain; charset="utf-8"\r\n'
        b"Content-Transfer-Encoding: 8bit\r\n\r\n"
        + "Der Kühlschrank in der Küche ist kaputt.".encode("cp1252")
    )
    doc = load(path)
    assert doc.title == "Kühlschrank"
    assert doc.text.endswith("Der Kühlschrank in der Küche ist kaputt.")


def test_eml_with_unknown_charset_and_broken_headers(tmp_path: Path) -> None:
    path = tmp_path / "odd.eml"
    path.write_bytes(
        b"From: <<<broken@@\r\nTo: ,,,\r\nSubject: =?x-unknown?q?Hallo?=\r\n"
        b"Content-Type: text/plain; charset=x-does-not-exist\r\n\r\nText im K\xf6rper.\r\n"
    )
    doc = load(path)
    assert doc.text.endswith("Text im Körper.")


def test_encrypted_eml(tmp_path: Path) -> None:
    path = tmp_path / "secret.eml"
    path.write_bytes(
        b"From: a@example.com\r\nSubject: secret\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIACAQAxggE=\r\n"
    )
    assert reason_for(path) == "encrypted e-mail (S/MIME or PGP), no readable text"


def test_msg_that_is_not_ole(tmp_path: Path) -> None:
    path = tmp_path / "mail.msg"
    path.write_text("From: nobody", encoding="utf-8")
    assert reason_for(path) == "not an Outlook .msg file"


# --- SafeLoader --------------------------------------------------------------------------
# Loaders for the worker must be importable module-level functions (the worker is spawned).


def sleepy_loader(path: Path, **kwargs: object) -> Document:
    time.sleep(30)
    raise AssertionError("the SafeLoader should have killed this worker")


def crashing_loader(path: Path, **kwargs: object) -> Document:
    os.kill(os.getpid(), signal.SIGSEGV)
    raise AssertionError("unreachable")


def memory_hungry_loader(path: Path, **kwargs: object) -> Document:
    raise MemoryError


def picky_loader(path: Path, **kwargs: object) -> Document:
    if path.name.startswith("crash"):
        return crashing_loader(path)
    if path.name.startswith("slow"):
        return sleepy_loader(path)
    if path.name.startswith("oom"):
        return memory_hungry_loader(path)
    return load_file(path, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def note(tmp_path: Path) -> Path:
    path = tmp_path / "note.md"
    path.write_text("# Hinweis\n\nDas WLAN heißt Gast.", encoding="utf-8")
    return path


def test_safe_loader_loads_like_load_file(note: Path) -> None:
    with SafeLoader() as loader:
        via_worker = loader.load(note, source_id="n", acl=("it",), source="wiki")
    assert via_worker == load_file(note, source_id="n", acl=("it",), source="wiki")


def test_safe_loader_times_out_on_a_huge_html_file_and_recovers(tmp_path: Path, note: Path) -> None:
    huge = tmp_path / "huge.html"
    huge.write_text(
        "<html><body>" + "<div><p>Absatz mit <b>Text</b></p></div>" * 150_000 + "</body></html>",
        encoding="utf-8",
    )
    with SafeLoader() as loader:
        loader.load(note, source_id="warm-up")
        first_pid = loader.worker_pid
        with pytest.raises(UnsupportedDocument) as caught:
            loader.load(huge, source_id="huge", limits=LoadLimits(timeout_s=0.05))
        assert caught.value.reason == "timed out after 0.05 s"
        assert loader.restarts == 1
        assert loader.worker_pid != first_pid
        assert loader.load(note, source_id="after").title == "Hinweis"


def test_safe_loader_kills_a_hanging_loader(tmp_path: Path, note: Path) -> None:
    slow = tmp_path / "slow.md"
    slow.write_text("# x", encoding="utf-8")
    with SafeLoader(loader=picky_loader) as loader:
        started = time.monotonic()
        with pytest.raises(UnsupportedDocument) as caught:
            loader.load(slow, source_id="slow", limits=LoadLimits(timeout_s=0.5))
        assert time.monotonic() - started < 10
        assert caught.value.reason == "timed out after 0.5 s"
        assert loader.load(note, source_id="n").text == "# Hinweis\n\nDas WLAN heißt Gast."


def test_safe_loader_survives_a_crash(tmp_path: Path, note: Path) -> None:
    crash = tmp_path / "crash.md"
    crash.write_text("# x", encoding="utf-8")
    with SafeLoader(loader=picky_loader) as loader:
        with pytest.raises(UnsupportedDocument) as caught:
            loader.load(crash, source_id="crash")
        assert caught.value.reason == "the loader crashed (SIGSEGV)"
        assert loader.load(note, source_id="n").title == "Hinweis"


def test_safe_loader_restarts_after_memory_error(tmp_path: Path, note: Path) -> None:
    oom = tmp_path / "oom.md"
    oom.write_text("# x", encoding="utf-8")
    with SafeLoader(loader=picky_loader) as loader:
        with pytest.raises(UnsupportedDocument) as caught:
            loader.load(oom, source_id="oom")
        assert caught.value.reason == "ran out of memory while reading the file"
        assert loader.restarts == 1
        assert loader.load(note, source_id="n").title == "Hinweis"


def test_safe_loader_reports_unsupported_and_size_without_restarting(tmp_path: Path) -> None:
    sheet = tmp_path / "table.xlsx"
    sheet.write_bytes(b"PK\x03\x04")
    big = tmp_path / "big.txt"
    big.write_text("x" * 2_000, encoding="utf-8")
    with SafeLoader() as loader:
        with pytest.raises(UnsupportedDocument) as refused:
            loader.load(sheet, source_id="s")
        assert refused.value.reason == "unsupported format .xlsx"
        with pytest.raises(UnsupportedDocument) as caught:
            loader.load(big, source_id="b", limits=LoadLimits(max_bytes=1_000))
        assert caught.value.reason == "file is 2 kB, the limit is 1 kB"
        assert loader.restarts == 0


def test_safe_loader_rejects_fork() -> None:
    with pytest.raises(ValueError, match="start_method"):
        SafeLoader(start_method="fork")


def test_safe_loader_close_stops_the_worker(note: Path) -> None:
    loader = SafeLoader()
    loader.load(note, source_id="n")  # starts on demand
    pid = loader.worker_pid
    assert pid is not None
    loader.close()
    assert loader.worker_pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
