"""Validate the sample knowledge base and its evaluation datasets.

Checks:
- documents: counts per format, word counts (300-1500), PDF text layer + title metadata,
  DOCX heading/list styles and tables, EML headers / HTML part / attachment, ACL sidecars;
- every JSONL line parses and has the expected fields, ids are unique;
- every source id in the datasets exists under ``docs/`` (planted injection docs must not);
- injection carriers: ``document`` (under ``planted/``) or ``ticket`` (``tickets/<id>``, a
  Subject/Description/Resolution text), ticket carriers in both languages;
- every answerable fact: at least one acceptable answer string occurs literally
  (case-insensitive, whitespace-normalised) in the extracted text of its source document;
- unanswerable questions have no answers/source; dataset sizes and language mix;
- the held-out set (``heldout.jsonl``) asks no question and no fact of ``answers.jsonl``;
- tickets.csv columns, size, language mix and share of answered tickets.

Usage: ``python knowledge/sample/check_datasets.py``; exit code 1 on any error.
"""

from __future__ import annotations

import csv
import email
import json
import re
import sys
from collections import Counter
from email import policy
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE / "docs"
EVAL = HERE / "eval"
FORMATS = {".md": 12, ".html": 6, ".pdf": 6, ".docx": 6, ".eml": 4}
KINDS = {
    "override",
    "prompt_leak",
    "link",
    "image",
    "language_switch",
    "insult",
    "hidden_zero_width",
    "hidden_html",
}
ACLS = {"hr/confidential": "hr", "it/admin": "it-admin"}
CARRIERS = {"document", "ticket"}
# the text of a ticket carrier, as ``lotse eval injection`` parses it (assistant/eval_injection.py)
TICKET_TEXT = re.compile(
    r"\A\s*(?:Subject|Betreff):[^\n]*\n(?:Description|Beschreibung):.*?\n\s*"
    r"(?:Resolution|Lösung):.*\Z",
    re.DOTALL,
)
DE_WORDS = {
    "der",
    "die",
    "und",
    "das",
    "nicht",
    "mit",
    "für",
    "ist",
    "sie",
    "ein",
    "eine",
    "auf",
    "wird",
    "oder",
}
EN_WORDS = {
    "the",
    "and",
    "to",
    "of",
    "is",
    "you",
    "for",
    "with",
    "your",
    "are",
    "be",
    "on",
    "in",
    "or",
}

errors: list[str] = []
notes: list[str] = []


def error(message: str) -> None:
    errors.append(message)


# ------------------------------------------------------------------ text extraction


def html_text(raw: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "nav", "header", "footer", "aside", "form", "head"]):
        tag.decompose()
    main = soup.find("main") or soup
    return main.get_text(" ")


def eml_text(path: Path) -> tuple[str, email.message.EmailMessage]:
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    parts = [str(msg["Subject"] or "")]
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        if part.get_content_type() == "text/plain":
            parts.append(part.get_content())
        elif part.get_content_type() == "text/html":
            parts.append(html_text(part.get_content()))
    return "\n".join(parts), msg


def extract(path: Path) -> str:
    suffix = path.suffix
    if suffix == ".md":
        text = path.read_text(encoding="utf-8")
        return re.sub(r"\*\*|`", "", text)
    if suffix == ".html":
        return html_text(path.read_text(encoding="utf-8"))
    if suffix == ".pdf":
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)
    if suffix == ".docx":
        from docx import Document

        document = Document(str(path))
        chunks = [p.text for p in document.paragraphs]
        for table in document.tables:
            for row in table.rows:
                chunks.append(" | ".join(cell.text for cell in row.cells))
        return "\n".join(chunks)
    if suffix == ".eml":
        return eml_text(path)[0]
    raise ValueError(f"unsupported format {path}")


def norm(text: str) -> str:
    text = text.replace("\u00a0", " ").replace("\u202f", " ")
    return re.sub(r"\s+", " ", text).strip().casefold()


def occurs(form: str, normalised_text: str) -> bool:
    """Literal, case-insensitive occurrence that does not start or end inside a word/number."""
    pattern = r"(?<![\w])" + re.escape(norm(form)) + r"(?![\w])"
    return re.search(pattern, normalised_text) is not None


def language_of(text: str) -> str:
    words = re.findall(r"[a-zäöüß]+", text.lower())
    de = sum(w in DE_WORDS for w in words)
    en = sum(w in EN_WORDS for w in words)
    return "de" if de >= en else "en"


# ------------------------------------------------------------------ documents


def check_documents() -> dict[str, dict]:
    info: dict[str, dict] = {}
    for path in sorted(DOCS.rglob("*")):
        if not path.is_file() or path.name == ".lotse-acl":
            continue
        rel = path.relative_to(DOCS).as_posix()
        if path.suffix not in FORMATS:
            error(f"unexpected file in docs/: {rel}")
            continue
        try:
            text = extract(path)
        except Exception as exc:
            error(f"{rel}: cannot extract text: {exc}")
            continue
        words = len(text.split())
        if not 300 <= words <= 1500:
            error(f"{rel}: {words} words (expected 300-1500)")
        info[rel] = {
            "text": text,
            "norm": norm(text),
            "format": path.suffix[1:],
            "words": words,
            "language": language_of(text),
        }
        if path.suffix == ".pdf":
            from pypdf import PdfReader

            reader = PdfReader(str(path))
            info[rel]["pages"] = len(reader.pages)
            if not (reader.metadata and reader.metadata.title):
                error(f"{rel}: PDF without title metadata")
        if path.suffix == ".docx":
            from docx import Document

            document = Document(str(path))
            styles = {p.style.name for p in document.paragraphs}
            if not {"Heading 1", "Heading 2"} <= styles:
                error(f"{rel}: DOCX lacks Heading 1/2 styles ({styles})")
            if "List Bullet" not in styles:
                error(f"{rel}: DOCX lacks bulleted list")
            info[rel]["tables"] = len(document.tables)
        if path.suffix == ".eml":
            _, msg = eml_text(path)
            for header in ("From", "To", "Date", "Subject"):
                if not msg[header]:
                    error(f"{rel}: missing header {header}")
            types = [p.get_content_type() for p in msg.walk()]
            info[rel]["html_part"] = "text/html" in types
            info[rel]["attachment"] = any(
                p.get_content_disposition() == "attachment" for p in msg.walk()
            )
    by_format = Counter(d["format"] for d in info.values())
    for suffix, minimum in FORMATS.items():
        if by_format[suffix[1:]] < minimum:
            error(f"only {by_format[suffix[1:]]} {suffix} documents (need {minimum})")
    if len(info) < 34:
        error(f"only {len(info)} documents (need 34)")
    if sum(1 for d in info.values() if d.get("tables")) < 2:
        error("fewer than two DOCX files with a table")
    if not any(d.get("pages", 0) > 1 for d in info.values()):
        error("no multi-page PDF")
    if not any(d.get("html_part") for d in info.values()):
        error("no multipart e-mail with an HTML part")
    if not any(d.get("attachment") for d in info.values()):
        error("no e-mail with an attachment")
    for folder, group in ACLS.items():
        acl = DOCS / folder / ".lotse-acl"
        if not acl.exists() or acl.read_text(encoding="utf-8").split() != [group]:
            error(f"{folder}/.lotse-acl missing or not '{group}'")
    return info


# ------------------------------------------------------------------ datasets


def read_jsonl(name: str, required: set[str]) -> list[dict]:
    rows: list[dict] = []
    path = EVAL / name
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            error(f"{name}:{number}: invalid JSON ({exc})")
            continue
        missing = required - row.keys()
        if missing:
            error(f"{name}:{number}: missing fields {sorted(missing)}")
        if row.get("language") not in ("de", "en"):
            error(f"{name}:{number}: language must be de or en")
        rows.append(row)
    ids = Counter(r.get("id") for r in rows)
    for dup, count in ids.items():
        if count > 1:
            error(f"{name}: duplicate id {dup}")
    return rows


def check_facts(name: str, rows: list[dict], docs: dict[str, dict]) -> None:
    for row in rows:
        rid = row.get("id")
        if row.get("answerable"):
            source = row.get("source")
            if source not in docs:
                error(f"{name} {rid}: source {source!r} not under docs/")
                continue
            forms = row.get("answers") or []
            if not forms:
                error(f"{name} {rid}: answerable without answers")
                continue
            found = [f for f in forms if occurs(f, docs[source]["norm"])]
            if not found:
                error(f"{name} {rid}: none of {forms} occurs in {source}")
            if any(len(f) > 60 for f in forms):
                error(f"{name} {rid}: answer forms must be short")
        else:
            if row.get("answers") or row.get("source") is not None:
                error(f"{name} {rid}: unanswerable row must have answers=[] and source=null")


def main() -> int:
    docs = check_documents()
    retrieval = read_jsonl("retrieval.jsonl", {"id", "question", "language", "relevant"})
    answers = read_jsonl(
        "answers.jsonl", {"id", "question", "language", "answerable", "answers", "source"}
    )
    e2e = read_jsonl("e2e.jsonl", {"id", "question", "language", "answerable", "answers", "source"})
    heldout = read_jsonl(
        "heldout.jsonl", {"id", "question", "language", "answerable", "answers", "source"}
    )
    injection = read_jsonl(
        "injection.jsonl", {"id", "kind", "language", "planted_doc", "question", "forbidden"}
    )

    cross = 0
    for row in retrieval:
        relevant = row.get("relevant") or []
        if not relevant:
            error(f"retrieval {row['id']}: empty relevant list")
        for source in relevant:
            if source not in docs:
                error(f"retrieval {row['id']}: relevant {source!r} not under docs/")
        if (
            relevant
            and relevant[0] in docs
            and all(docs[s]["language"] != row["language"] for s in relevant if s in docs)
        ):
            cross += 1
    if len(retrieval) < 120:
        error(f"retrieval.jsonl has {len(retrieval)} lines (need 120)")
    if cross < 20:
        error(f"only {cross} cross-language retrieval questions (need 20)")

    check_facts("answers", answers, docs)
    answerable = [a for a in answers if a.get("answerable")]
    unanswerable = [a for a in answers if not a.get("answerable")]
    if len(answers) < 130 or len(answerable) < 100 or len(unanswerable) < 30:
        error(
            f"answers.jsonl: {len(answers)} rows, {len(answerable)} answerable, {len(unanswerable)} unanswerable"
        )
    if {a["language"] for a in unanswerable} != {"de", "en"}:
        error("unanswerable questions must cover both languages")
    answer_cross = sum(
        1
        for a in answerable
        if a["source"] in docs and docs[a["source"]]["language"] != a["language"]
    )

    # the held-out set checks thresholds chosen on answers.jsonl: it must ask other facts
    check_facts("heldout", heldout, docs)
    dev_facts = {(a["source"], f.casefold()) for a in answerable for f in a["answers"]}
    dev_questions = {a["question"].casefold() for a in answers}
    for row in heldout:
        if row["question"].casefold() in dev_questions:
            error(f"heldout {row['id']}: the question is in answers.jsonl")
        if any((row["source"], f.casefold()) in dev_facts for f in row["answers"]):
            error(f"heldout {row['id']}: answers.jsonl already asks this fact")
    held_answerable = Counter(r["language"] for r in heldout if r["answerable"])
    held_unanswerable = Counter(r["language"] for r in heldout if not r["answerable"])
    if (
        min(held_answerable["de"], held_answerable["en"]) < 15
        or min(held_unanswerable["de"], held_unanswerable["en"]) < 8
    ):
        error(f"heldout.jsonl: answerable {held_answerable}, unanswerable {held_unanswerable}")

    check_facts("e2e", e2e, docs)
    e2e_lang = Counter(r["language"] for r in e2e if r.get("answerable"))
    if e2e_lang != Counter({"de": 7, "en": 7}) or sum(not r.get("answerable") for r in e2e) != 6:
        error(f"e2e.jsonl must have 7+7 answerable and 6 unanswerable (got {e2e_lang})")
    restricted = [r["id"] for r in e2e if (r.get("source") or "").startswith(tuple(ACLS))]
    if restricted:
        error(f"e2e uses restricted documents: {restricted}")

    kinds = Counter(r.get("kind") for r in injection)
    carriers = Counter(r.get("carrier", "document") for r in injection)
    if len(injection) < 60:
        error(f"injection.jsonl has {len(injection)} lines (need 60)")
    ticket_languages = {r.get("language") for r in injection if r.get("carrier") == "ticket"}
    if ticket_languages != {"de", "en"}:
        error(f"ticket carriers must cover German and English (got {sorted(ticket_languages)})")
    if set(kinds) != KINDS:
        error(f"injection kinds {sorted(kinds)} != {sorted(KINDS)}")
    for row in injection:
        planted = row.get("planted_doc") or {}
        if not {"source_id", "title", "text"} <= planted.keys():
            error(f"injection {row.get('id')}: planted_doc needs source_id, title, text")
            continue
        if planted["source_id"] in docs:
            error(f"injection {row['id']}: planted source id collides with a real document")
        if not row.get("forbidden"):
            error(f"injection {row['id']}: empty forbidden list")
        # prompt_leak: the canary belongs in the test's system prompt, not in the planted text
        if (
            row.get("canary")
            and row["kind"] != "prompt_leak"
            and row["canary"] not in planted["text"]
        ):
            error(f"injection {row['id']}: canary not in planted text")
        if row["kind"] == "hidden_zero_width" and "\u200b" not in planted["text"]:
            error(f"injection {row['id']}: no zero-width characters")
        if row["kind"] == "hidden_html" and "display:none" not in planted["text"]:
            error(f"injection {row['id']}: no hidden HTML")
        # carrier: a planted document (planted/...) or a ticket (tickets/<id>, ticket-shaped)
        carrier = row.get("carrier", "document")
        if carrier not in CARRIERS:
            error(f"injection {row['id']}: carrier must be one of {sorted(CARRIERS)}")
        elif carrier == "ticket" and not (
            planted["source_id"].startswith("tickets/") and TICKET_TEXT.match(planted["text"])
        ):
            error(f"injection {row['id']}: a ticket carrier needs tickets/<id> and ticket text")
        elif carrier == "document" and not planted["source_id"].startswith("planted/"):
            error(f"injection {row['id']}: a document carrier goes under planted/")

    with (HERE / "tickets.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames
        tickets = list(reader)
    expected = [
        "id",
        "subject",
        "body",
        "answer",
        "queue",
        "priority",
        "type",
        "language",
        "created",
        "closed",
        "tags",
    ]
    if columns != expected:
        error(f"tickets.csv columns {columns}")
    t_lang = Counter(t["language"] for t in tickets)
    answered = sum(1 for t in tickets if t["answer"].strip())
    if len(tickets) < 160:
        error(f"tickets.csv has {len(tickets)} rows (need 160)")
    if not 0.5 <= t_lang["de"] / max(len(tickets), 1) <= 0.7:
        error(f"tickets language mix {t_lang}")
    if not 0.8 <= answered / max(len(tickets), 1) <= 0.9:
        error(f"tickets answered share {answered}/{len(tickets)}")
    for t in tickets:
        if t["priority"] not in ("low", "normal", "high", "critical") or t["type"] not in (
            "incident",
            "service_request",
            "question",
        ):
            error(f"ticket {t['id']}: bad priority/type")

    fmt = Counter(d["format"] for d in docs.values())
    lang = Counter(d["language"] for d in docs.values())
    print(f"documents: {len(docs)} {dict(sorted(fmt.items()))} languages {dict(lang)}")
    print(
        f"retrieval: {len(retrieval)} ({cross} cross-language); answers: {len(answers)} "
        f"({len(answerable)} answerable, {answer_cross} cross-language; {len(unanswerable)} unanswerable); "
        f"heldout: {len(heldout)} ({sum(held_answerable.values())} answerable); "
        f"e2e: {len(e2e)}; injection: {len(injection)} {dict(sorted(kinds.items()))} "
        f"carriers {dict(sorted(carriers.items()))}"
    )
    print(
        f"tickets: {len(tickets)} {dict(t_lang)}, answered {answered} ({answered / len(tickets):.0%}), "
        f"queues {dict(Counter(t['queue'] for t in tickets))}"
    )
    for message in notes:
        print("note:", message)
    for message in errors:
        print("ERROR:", message)
    print("OK" if not errors else f"{len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
