"""Regenerate the binary sample documents (PDF, DOCX, EML) under ``docs/`` from ``sources/``.

Each source is a small Markdown file ``sources/<path>.<ext>.md`` with a front-matter block
(``key: value`` lines between ``---``). It becomes ``docs/<path>.<ext>``:

- ``*.pdf.md``  -> PDF via reportlab (real text layer, title/author/subject metadata,
  ``invariant=1`` so rebuilding yields identical bytes),
- ``*.docx.md`` -> DOCX via python-docx (Word styles "Heading 1/2/3", "List Bullet",
  "List Number", "Table Grid"; fixed core properties; zip entries with a fixed date),
- ``*.eml.md``  -> RFC 5322 e-mail via the stdlib ``email`` package (fixed Date, Message-ID and
  MIME boundaries; optional HTML alternative part and one attachment built from another source).

Supported Markdown: ``#``/``##``/``###`` headings, ``- `` bullets, ``1. `` numbered items,
``| a | b |`` tables (the ``|---|`` separator row is skipped) and paragraphs separated by blank
lines. Sources under ``sources/**/attachments/`` are only used as e-mail attachments.

Usage: ``python knowledge/sample/build.py`` (needs python-docx and reportlab).
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import sys
import zipfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
DOCS = HERE / "docs"
FIXED_ZIP_DATE = (2024, 1, 1, 0, 0, 0)


# --------------------------------------------------------------------------- parsing


@dataclass
class Block:
    kind: str  # "h1" "h2" "h3" "p" "ul" "ol" "table"
    text: str = ""
    items: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class Source:
    path: Path
    meta: dict[str, str]
    body: str

    @property
    def target(self) -> Path:
        rel = self.path.relative_to(SOURCES).with_suffix("")  # drop ".md"
        return DOCS / rel

    @property
    def when(self) -> dt.datetime:
        raw = self.meta.get("created", "2024-01-01T08:00:00")
        return dt.datetime.fromisoformat(raw)


def read_source(path: Path) -> Source:
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    meta: dict[str, str] = {}
    match = re.match(r"\A---\n(.*?)\n---\n", text, re.DOTALL)
    if match:
        for line in match.group(1).splitlines():
            if ":" in line:
                key, value = line.split(":", 1)
                meta[key.strip().lower()] = value.strip()
        text = text[match.end() :]
    return Source(path=path, meta=meta, body=text.strip("\n") + "\n")


_BULLET = re.compile(r"^[-*] (.*)$")
_NUMBER = re.compile(r"^\d+\. (.*)$")
_HEADING = re.compile(r"^(#{1,3}) (.*)$")


def parse_blocks(body: str) -> list[Block]:
    blocks: list[Block] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            blocks.append(Block("p", " ".join(s.strip() for s in para)))
            para.clear()

    for raw in body.splitlines():
        line = raw.rstrip()
        if not line.strip():
            flush()
            continue
        if m := _HEADING.match(line):
            flush()
            blocks.append(Block(f"h{len(m.group(1))}", m.group(2).strip()))
        elif m := _BULLET.match(line):
            flush()
            if not blocks or blocks[-1].kind != "ul":
                blocks.append(Block("ul"))
            blocks[-1].items.append(m.group(1).strip())
        elif m := _NUMBER.match(line):
            flush()
            if not blocks or blocks[-1].kind != "ol":
                blocks.append(Block("ol"))
            blocks[-1].items.append(m.group(1).strip())
        elif line.startswith("|"):
            flush()
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if all(re.fullmatch(r":?-{2,}:?", c) for c in cells):
                continue
            if not blocks or blocks[-1].kind != "table":
                blocks.append(Block("table"))
            blocks[-1].rows.append(cells)
        else:
            para.append(line)
    flush()
    return blocks


# --------------------------------------------------------------------------- PDF


def build_pdf_bytes(src: Source) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        ListFlowable,
        ListItem,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    styles = getSampleStyleSheet()
    body = ParagraphStyle(
        "NWBody", parent=styles["BodyText"], fontSize=10, leading=13.5, alignment=TA_LEFT
    )
    cell = ParagraphStyle("NWCell", parent=body, fontSize=9, leading=11.5)
    head_cell = ParagraphStyle("NWHeadCell", parent=cell, fontName="Helvetica-Bold")
    heading = {
        "h1": ParagraphStyle("NWH1", parent=styles["Heading1"], fontSize=17, spaceAfter=8),
        "h2": ParagraphStyle("NWH2", parent=styles["Heading2"], fontSize=13, spaceBefore=10),
        "h3": ParagraphStyle("NWH3", parent=styles["Heading3"], fontSize=11, spaceBefore=6),
    }
    esc = lambda s: html.escape(s, quote=False)  # noqa: E731

    story: list = []
    for block in parse_blocks(src.body):
        if block.kind in heading:
            story.append(Paragraph(esc(block.text), heading[block.kind]))
        elif block.kind == "p":
            story.append(Paragraph(esc(block.text), body))
        elif block.kind in ("ul", "ol"):
            items = [ListItem(Paragraph(esc(t), body), leftIndent=14) for t in block.items]
            kwargs = (
                {"bulletType": "1"}
                if block.kind == "ol"
                else {"bulletType": "bullet", "start": "•"}
            )
            story.append(ListFlowable(items, leftIndent=14, bulletFontSize=9, **kwargs))
            story.append(Spacer(1, 4))
        elif block.kind == "table":
            ncols = max(len(r) for r in block.rows)
            data = [
                [
                    Paragraph(esc(c), head_cell if i == 0 else cell)
                    for c in r + [""] * (ncols - len(r))
                ]
                for i, r in enumerate(block.rows)
            ]
            width = (A4[0] - 40 * mm) / ncols
            table = Table(data, colWidths=[width] * ncols, repeatRows=1)
            table.setStyle(
                TableStyle(
                    [
                        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dfe8f1")),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ]
                )
            )
            story.append(table)
            story.append(Spacer(1, 6))

    title = src.meta.get("title", src.target.stem)

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(20 * mm, 10 * mm, f"Nordwind Maschinenbau GmbH – {title}")
        canvas.drawRightString(A4[0] - 20 * mm, 10 * mm, f"{doc.page}")
        canvas.restoreState()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=title,
        author=src.meta.get("author", "Nordwind Maschinenbau GmbH"),
        subject=src.meta.get("subject", ""),
        creator="Nordwind sample knowledge base (build.py)",
        lang=src.meta.get("language", "de"),
        invariant=1,
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


# --------------------------------------------------------------------------- DOCX


def build_docx_bytes(src: Source) -> bytes:
    from docx import Document
    from docx.shared import Pt

    document = Document()
    document.styles["Normal"].font.name = "Calibri"
    document.styles["Normal"].font.size = Pt(11)
    for block in parse_blocks(src.body):
        if block.kind.startswith("h"):
            document.add_heading(block.text, level=int(block.kind[1]))
        elif block.kind == "p":
            document.add_paragraph(block.text)
        elif block.kind in ("ul", "ol"):
            style = "List Bullet" if block.kind == "ul" else "List Number"
            for item in block.items:
                document.add_paragraph(item, style=style)
        elif block.kind == "table":
            ncols = max(len(r) for r in block.rows)
            table = document.add_table(rows=len(block.rows), cols=ncols, style="Table Grid")
            for i, row in enumerate(block.rows):
                for j, value in enumerate(row + [""] * (ncols - len(row))):
                    cell = table.cell(i, j)
                    cell.text = value
                    if i == 0:
                        for run in cell.paragraphs[0].runs:
                            run.bold = True
            document.add_paragraph("")

    props = document.core_properties
    props.title = src.meta.get("title", "")
    props.author = src.meta.get("author", "Nordwind Maschinenbau GmbH")
    props.subject = src.meta.get("subject", "")
    props.language = src.meta.get("language", "de")
    props.last_modified_by = props.author
    props.comments = "Generated by knowledge/sample/build.py"
    props.keywords = "Nordwind; Intranet"
    props.revision = 1
    props.created = src.when
    props.modified = src.when
    props.last_printed = src.when

    buffer = io.BytesIO()
    document.save(buffer)
    return normalise_zip(buffer.getvalue())


def normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed entry timestamps so identical content gives identical bytes."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as zin,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout,
    ):
        for info in zin.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            zout.writestr(fixed, zin.read(info.filename))
    return out.getvalue()


# --------------------------------------------------------------------------- EML


def markdown_to_plain(body: str) -> str:
    lines: list[str] = []
    for line in body.splitlines():
        if m := _HEADING.match(line):
            text = m.group(2).strip()
            lines.append(text)
            lines.append(("=" if len(m.group(1)) == 1 else "-") * len(text))
        else:
            lines.append(line)
    return "\n".join(lines).strip() + "\n"


def markdown_to_html(body: str, title: str) -> str:
    def inline(text: str) -> str:
        escaped = html.escape(text, quote=False)
        return re.sub(r"(https://[\w./-]+[\w/])", r'<a href="\1">\1</a>', escaped)

    parts: list[str] = []
    for block in parse_blocks(body):
        if block.kind.startswith("h"):
            level = int(block.kind[1])
            parts.append(f"<h{level}>{inline(block.text)}</h{level}>")
        elif block.kind == "p":
            parts.append(f"<p>{inline(block.text)}</p>")
        elif block.kind in ("ul", "ol"):
            items = "".join(f"<li>{inline(t)}</li>" for t in block.items)
            parts.append(f"<{block.kind}>{items}</{block.kind}>")
        elif block.kind == "table":
            rows = "".join(
                "<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in block.rows
            )
            parts.append(f"<table>{rows}</table>")
    content = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:Segoe UI,Arial,sans-serif;font-size:11pt}</style></head>\n"
        f"<body>\n{content}\n"
        '<p style="color:#888;font-size:8pt">Nordwind Maschinenbau GmbH · Am Holzhafen 18 · 28217 Bremen</p>\n'
        "</body></html>\n"
    )


def build_eml_bytes(src: Source) -> bytes:
    meta = src.meta
    msg = EmailMessage(policy=default_policy)
    msg["From"] = meta["from"]
    msg["To"] = meta["to"]
    if meta.get("cc"):
        msg["Cc"] = meta["cc"]
    msg["Date"] = meta["date"]
    msg["Subject"] = meta["subject"]
    msg["Message-ID"] = meta["message_id"]
    msg["MIME-Version"] = "1.0"
    msg["Content-Language"] = meta.get("language", "de")
    msg["X-Mailer"] = "Microsoft Outlook 16.0"
    msg.set_content(markdown_to_plain(src.body), cte="quoted-printable")
    if meta.get("html", "no").lower() in ("yes", "true", "1"):
        msg.add_alternative(
            markdown_to_html(src.body, meta["subject"]), subtype="html", cte="quoted-printable"
        )
    if meta.get("attachment"):
        attachment = read_source(SOURCES / meta["attachment"])
        data = build_pdf_bytes(attachment)
        msg.add_attachment(
            data, maintype="application", subtype="pdf", filename=meta["attachment_name"]
        )
    stem = src.target.stem
    for index, part in enumerate(msg.walk()):
        if part.is_multipart():
            part.set_boundary(f"----=_NordwindPart_{index}_{stem}")
    return msg.as_bytes(policy=default_policy)


# --------------------------------------------------------------------------- main

BUILDERS = {".pdf": build_pdf_bytes, ".docx": build_docx_bytes, ".eml": build_eml_bytes}


def sources() -> list[Path]:
    return sorted(
        p for p in SOURCES.rglob("*.md") if "attachments" not in p.relative_to(SOURCES).parts
    )


def main() -> int:
    built = 0
    for path in sources():
        src = read_source(path)
        builder = BUILDERS.get(src.target.suffix)
        if builder is None:
            print(f"skip (unknown target type): {path}", file=sys.stderr)
            continue
        data = builder(src)
        src.target.parent.mkdir(parents=True, exist_ok=True)
        if not src.target.exists() or src.target.read_bytes() != data:
            src.target.write_bytes(data)
            status = "written"
        else:
            status = "unchanged"
        print(f"{status:9} {src.target.relative_to(HERE)} ({len(data)} bytes)")
        built += 1
    print(f"{built} documents built")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
