"""PII redaction in German and English: each kind, and ordinary text left alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from knowledge.redaction import find_pii, redact
from knowledge.redaction_eval import evaluate, load_dataset, main
from models.errors import InvalidInput

DATASET = Path(__file__).parents[2] / "knowledge" / "sample" / "eval" / "pii.jsonl"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hallo Frau Schmidt,\nbitte neu starten.", "Hallo Frau [NAME],\nbitte neu starten."),
        ("Guten Tag Anna Weber,\ngelöst.", "Guten Tag [NAME],\ngelöst."),
        ("Danke!\nViele Grüße\nMax Mustermann", "Danke!\nViele Grüße\n[NAME]"),
        ("MfG\n\nSabine Krüger\nEinkauf", "MfG\n\n[NAME]\nEinkauf"),
        ("Mit freundlichen Grüßen\nSabine Krüger", "Mit freundlichen Grüßen\n[NAME]"),
        ("Gruß\nTim Oltmanns, IT-Servicedesk", "Gruß\n[NAME], IT-Servicedesk"),
        ("Best regards,\nJohn Smith", "Best regards,\n[NAME]"),
        ("Dear Mr. Smith,\nfixed.", "Dear Mr. [NAME],\nfixed."),
        ("Hello Olga Ivanova,\ndone.", "Hello [NAME],\ndone."),
        ("Cheers\nJana Petersen, IT Service Desk", "Cheers\n[NAME], IT Service Desk"),
    ],
)  # fmt: skip
def test_names_in_greetings_and_signatures(text: str, expected: str) -> None:
    assert redact(text).text == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mail an h.steffens@nordwind.de bitte", "Mail an [EMAIL] bitte"),
        ("write to john.smith+it@example.co.uk.", "write to [EMAIL]."),
        ("Tel. 0421 5550-2870", "Tel. [PHONE]"),
        ("Handy 0171 2345678, Festnetz 040/41234567", "Handy [PHONE], Festnetz [PHONE]"),
        ("Rufen Sie +49 (0)30 1234567 an", "Rufen Sie [PHONE] an"),
        ("call +44 20 7946 0958 or +1 (555) 123-4567", "call [PHONE] or [PHONE]"),
        ("Durchwahl 2870", "Durchwahl [PHONE]"),
        ("IBAN DE89 3704 0044 0532 0130 00 bitte", "IBAN [IBAN] bitte"),
        ("IBAN GB82WEST12345698765432.", "IBAN [IBAN]."),
        ("IP 192.168.10.25 und 10.0.0.1", "IP [IP] und [IP]"),
        ("host 2001:db8:85a3::8a2e:370:7334 down", "host [IP] down"),
        ("Musterstraße 12a, 28217 Bremen", "[ADDRESS], [ADDRESS]"),
        ("Am Holzhafen 18\n28217 Bremen", "[ADDRESS]\n[ADDRESS]"),
        ("Kundennummer 123456, Vertragsnummer VN-884422", "Kundennummer [ID], Vertragsnummer [ID]"),
        ("contract no. AB-12345, customer no. 98765", "contract no. [ID], customer no. [ID]"),
        ("open https://x.example.com/r?token=abc123&u=1 now", "open [URL] now"),
        ("see https://s3.example.com/f.pdf?X-Amz-Signature=dead", "see [URL]"),
    ],
)  # fmt: skip
def test_each_kind(text: str, expected: str) -> None:
    assert redact(text).text == expected


@pytest.mark.parametrize(
    "text",
    [
        "Bitte Version 2.4.1 installieren.",
        "Firmware 3.1.4.2 auf dem Switch, Release 1.2.3.4 des Agents.",
        "Schulung in Raum 3.12 am 12.03.2024 von 10:30 bis 12:00.",
        "Fehler 0x80070005 nach Update KB5034441.",
        "The printer shows error 49.4C02 since 2024-03-12 18:00:00.",
        "Ticket INC-104707, Priorität hoch, Kostenstelle 4711.",
        "Please open https://portal.nordwind.de/software?lang=de to request software.",
        "Hallo zusammen,\nHello team,\nHi all,",
        "Es sind 2.500 Dateien mit 60 MB.",
        "Die Invoice INV-2023-0042 wurde am 02/03/2024 bezahlt.",
        "IBAN DE89 3704 0044 0532 0130 01 hat eine falsche Prüfsumme.",
        "Meeting 09:30-10:00 in building B.",
    ],
)
def test_ordinary_text_is_not_redacted(text: str) -> None:
    assert redact(text).text == text
    assert find_pii(text) == []


def test_spans_point_into_the_original_and_counts_by_kind() -> None:
    text = "Hallo Herr Becker,\nTel. 0421 5550-2870, Mail m.becker@nordwind.de"
    result = redact(text)
    assert [(text[s.start : s.end], s.kind) for s in result.spans] == [
        ("Becker", "name"),
        ("0421 5550-2870", "phone"),
        ("m.becker@nordwind.de", "email"),
    ]
    assert result.counts() == {"name": 1, "phone": 1, "email": 1}


def test_labelled_set_meets_the_recall_targets() -> None:
    snippets = load_dataset(DATASET)
    assert len(snippets) >= 100
    assert {s.lang for s in snippets} == {"de", "en"}
    report = evaluate(snippets)
    for kind in ("email", "phone", "iban", "ip"):
        assert report.kinds[kind].recall >= 0.95, kind
    assert set(report.kinds) == {
        "name", "email", "phone", "iban", "ip", "address", "customer_id", "url"
    }  # fmt: skip


def test_evaluation_counts_misses_and_false_alarms(tmp_path: Path) -> None:
    lines = [
        {"text": "Mail a@b.de", "spans": [{"start": 5, "end": 11, "kind": "email"}]},
        {"text": "Kollege Meier", "spans": [{"start": 8, "end": 13, "kind": "name"}]},
        {"text": "Hallo Jonas,", "spans": []},
    ]
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    report = evaluate(load_dataset(path))
    assert report.kinds["email"].recall == 1.0
    assert report.kinds["name"].recall == 0.0 and report.kinds["name"].precision == 0.0
    assert report.misses == [(2, "name", "Meier")]
    assert report.false_alarms == [(3, "name", "Jonas")]


def test_dataset_with_bad_span_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "abc", "spans": [{"start": 1, "end": 9, "kind": "ip"}]}\n')
    with pytest.raises(InvalidInput, match="outside the text"):
        load_dataset(path)


def test_eval_commands(capsys: pytest.CaptureFixture[str]) -> None:
    result = CliRunner().invoke(app, ["eval", "pii", "--dataset", str(DATASET), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["snippets"] >= 100 and report["kinds"]["iban"]["recall"] >= 0.95
    assert main(["--dataset", str(DATASET)]) == 0
    assert "recall" in capsys.readouterr().out
