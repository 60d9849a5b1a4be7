"""Each ticket export format, from small payloads in the shapes the systems' APIs return."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from knowledge.tickets import ParseProblem, parse_column_map, parse_tickets
from knowledge.tickets.adf import adf_to_text
from models.errors import InvalidInput

DATA = Path(__file__).parent / "data" / "tickets"
SAMPLE = Path(__file__).parents[2] / "knowledge" / "sample" / "tickets.csv"


def test_generic_sample_csv_imports_every_row() -> None:
    result = parse_tickets(SAMPLE, "generic")
    assert result.problems == []
    assert len(result.tickets) == 208
    assert sum(t.is_resolved for t in result.tickets) == 177
    ticket = next(t for t in result.tickets if t.id == "NW-INC-104707")
    assert ticket.subject == "VPN geht nicht"
    assert (ticket.queue, ticket.priority, ticket.type, ticket.language) == (
        "IT-Netzwerk",
        "normal",
        "incident",
        "de",
    )
    assert ticket.tags == ("vpn", "zertifikat", "homeoffice")
    assert ticket.created == datetime(2024, 1, 17, 10, 54)
    assert [m.role for m in ticket.thread] == ["customer", "agent"]
    assert ticket.resolution.startswith("Hallo,\nDas Gerätezertifikat")


def test_generic_column_map_and_bad_rows(tmp_path: Path) -> None:
    mapping = parse_column_map(
        ["id=ticket_no,subject=title,body=description", "answer=solution,queue=category"]
    )
    mapping["closed"] = "closed_at"
    result = parse_tickets(DATA / "tickets_mapped.csv", "generic", column_map=mapping)
    assert [t.id for t in result.tickets] == ["T-1", "T-2"]
    first, second = result.tickets
    assert first.is_resolved and first.queue == "IT-Zugang"
    assert first.resolution == "Passwort über das Self-Service-Portal zurückgesetzt."
    assert not second.is_resolved and second.status == "open"
    assert result.problems == [
        ParseProblem("row 3", "id: String should have at least 1 character"),
        ParseProblem("T-4", "closed: unreadable time 'morgen'"),
    ]


def test_generic_json_list_and_wrapped(tmp_path: Path) -> None:
    rows = [{"id": 7, "subject": "Login", "body": "Kein Login", "answer": "Neu gesetzt",
             "closed": "2024-01-01T00:00:00Z", "tags": ["a", "b"]}]  # fmt: skip
    (tmp_path / "a.json").write_text(json.dumps(rows), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps({"tickets": [{"id": "8"}]}), encoding="utf-8")
    result = parse_tickets(tmp_path, "generic")
    assert [t.id for t in result.tickets] == ["7"]
    assert result.tickets[0].tags == ("a", "b") and result.tickets[0].is_resolved
    assert result.problems == [ParseProblem("b.json: 8", "subject: Field required")]


def test_bad_column_map_is_explained() -> None:
    with pytest.raises(ValueError, match="bad column mapping 'bogus=x'"):
        parse_column_map(["bogus=x"])


def test_zammad_articles_roles_internal_notes_and_problems() -> None:
    result = parse_tickets(DATA / "zammad.json", "zammad")
    assert [t.id for t in result.tickets] == ["31412", "31413"]
    ticket = result.tickets[0]
    assert ticket.is_resolved and ticket.status == "closed"
    assert ticket.queue == "IT-Arbeitsplatz" and ticket.tags == ("drucker", "toner")
    assert [(m.role, m.internal) for m in ticket.thread] == [
        ("customer", False),
        ("agent", True),
        ("agent", False),
    ]
    assert "Fehler 49.4C02" in ticket.thread[0].text and "<div>" not in ticket.thread[0].text
    assert ticket.resolution.startswith("Hallo Frau Krüger,\nder Toner wurde getauscht")
    assert ticket.closed == datetime(2024, 3, 4, 10, 40, 2, tzinfo=UTC)
    assert not result.tickets[1].is_resolved
    assert result.problems == [
        ParseProblem("31414", "title: String should have at least 1 character"),
        ParseProblem("31415", "created_at: unreadable time 'gestern'"),
    ]


def test_znuny_ticketget_articles() -> None:
    result = parse_tickets(DATA / "znuny.json", "znuny")
    assert [t.id for t in result.tickets] == ["2024031010000017", "2024031210000021"]
    ticket = result.tickets[0]
    assert ticket.is_resolved and ticket.queue == "IT::Network" and ticket.type == "Incident"
    assert [(m.role, m.internal) for m in ticket.thread] == [
        ("customer", False),
        ("agent", True),
        ("agent", False),
    ]
    assert ticket.resolution.startswith("Hello Emily Clarke,\nwe renewed the device certificate")
    assert ticket.closed == datetime(2024, 3, 11, 16, 2, 44)
    assert result.tickets[1].status == "open" and not result.tickets[1].is_resolved
    assert result.problems == [ParseProblem("2024031210000039", "Title: Field required")]


def test_znuny_error_response_is_one_problem(tmp_path: Path) -> None:
    bad = {"Error": {"ErrorCode": "TicketGet.AccessDenied", "ErrorMessage": "access denied"}}
    (tmp_path / "e.json").write_text(json.dumps(bad), encoding="utf-8")
    result = parse_tickets(tmp_path / "e.json", "znuny")
    assert result.tickets == []
    assert result.problems == [ParseProblem("file", "the export holds an error: access denied")]


def test_glpi_followups_and_solutions_linked_by_items_id() -> None:
    result = parse_tickets(DATA / "glpi.json", "glpi")
    assert [t.id for t in result.tickets] == ["88", "89"]
    ticket = result.tickets[0]
    assert (ticket.status, ticket.priority, ticket.type) == ("closed", "medium", "incident")
    assert ticket.queue == "Software > Office"
    assert [(m.role, m.internal) for m in ticket.thread] == [
        ("customer", False),
        ("customer", False),
        ("agent", True),
        ("agent", False),
    ]
    assert "Outlook bleibt beim Profil laden hängen" in ticket.thread[0].text
    assert "&lt;" not in ticket.thread[0].text and "<p>" not in ticket.thread[0].text
    # the refused solution (status 4) is not the resolution
    assert ticket.resolution == (
        "Das Outlook-Profil wurde neu angelegt, die OST-Datei neu synchronisiert."
    )
    assert ticket.is_resolved
    assert result.tickets[1].status == "assigned" and not result.tickets[1].is_resolved
    assert result.problems == [ParseProblem("90", "date: unreadable time '31.02.2024'")]


def test_jira_v3_adf_comments_and_v2_strings() -> None:
    result = parse_tickets(DATA / "jira.json", "jira")
    assert [t.id for t in result.tickets] == ["ITSD-231", "ITSD-232"]
    ticket = result.tickets[0]
    assert ticket.is_resolved and ticket.status == "resolved"
    assert (ticket.priority, ticket.type, ticket.queue) == ("High", "Incident", "IT Service Desk")
    assert ticket.thread[0].text == "Since this morning S: is not reachable.\nError 0x80070035."
    assert [(m.role, m.internal) for m in ticket.thread] == [
        ("customer", False),
        ("customer", False),
        ("agent", True),
        ("agent", False),
    ]
    assert ticket.resolution == (
        "Hello @Michael Brown,\n- the file server's network port was replaced\n\n"
        "S: is mapped again."
    )
    assert ticket.closed == datetime(2024, 4, 2, 14, 20, tzinfo=timezone(timedelta(hours=2)))
    open_issue = result.tickets[1]
    assert open_issue.thread[0].text == "My headset crackles in Teams calls."
    assert [m.role for m in open_issue.thread] == ["customer", "customer"]
    assert not open_issue.is_resolved
    assert result.problems == [ParseProblem("ITSD-233", "fields.summary: Field required")]


def test_adf_flattening_keeps_readable_text() -> None:
    doc = {
        "type": "doc",
        "content": [
            {"type": "heading", "content": [{"type": "text", "text": "Steps"}]},
            {"type": "codeBlock", "content": [{"type": "text", "text": "ipconfig /flushdns"}]},
            {"type": "paragraph", "content": [{"type": "emoji", "attrs": {"shortName": ":ok:"}}]},
            {"type": "paragraph", "content": [{"type": "inlineCard", "attrs": {"url": "https://x.de"}}]},
        ],
    }  # fmt: skip
    assert adf_to_text(doc) == "Steps\nipconfig /flushdns\n:ok:\nhttps://x.de"
    assert adf_to_text("plain v2 body") == "plain v2 body"
    assert adf_to_text(None) == ""


def test_mailbox_threads_eml_and_mbox() -> None:
    result = parse_tickets(DATA / "mail", "mbox")
    assert result.problems == []
    assert [t.subject for t in result.tickets] == [
        "Kalender wird nicht synchronisiert",
        "Laptop battery drains fast",
    ]
    calendar, battery = result.tickets
    assert [m.role for m in calendar.thread] == ["customer", "agent"]
    assert calendar.is_resolved and calendar.id.startswith("mail-")
    assert calendar.resolution.startswith("Hallo Frau Weber,\nbitte in der Outlook-App")
    assert "> mein Kalender" not in calendar.resolution and "schrieb" not in calendar.resolution
    assert [m.role for m in battery.thread] == ["customer", "customer"]
    assert not battery.is_resolved


def test_missing_path_and_unknown_format_are_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        parse_tickets(tmp_path / "nope.csv", "generic")
    with pytest.raises(InvalidInput, match="unknown ticket format 'otrs'"):
        parse_tickets(SAMPLE, "otrs")


def test_not_json_is_one_problem_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{broken", encoding="utf-8")
    for fmt in ("zammad", "znuny", "glpi", "jira", "generic"):
        result = parse_tickets(tmp_path / "x.json", fmt)
        assert result.tickets == []
        assert [p.ticket for p in result.problems] == ["file"]
        assert result.problems[0].reason.startswith("not JSON")
