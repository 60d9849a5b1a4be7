"""``lotse audit verify | checkpoint | export | prune`` on a real SQLite audit log."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.lock import DataDirLock
from assistant.audit import DB_FILE, AuditEvent, SqliteAuditLog, sha256_text

QUESTIONS = [
    "Wie beantrage ich einen neuen Laptop?",
    "How do I book a meeting room?",
    "Wo finde ich die Reisekostenrichtlinie?",
]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def env(data: Path) -> dict[str, str]:
    return {"LOTSE_DATA_DIR": str(data), "LOTSE_LOG_LEVEL": "WARNING"}


def fill(data: Path, times: list[datetime] | None = None) -> None:
    times = times or [datetime.now(UTC)] * len(QUESTIONS)
    for question, moment in zip(QUESTIONS, times, strict=True):
        log = SqliteAuditLog(data, clock=lambda moment=moment: moment)  # type: ignore[misc]
        try:
            log.append(
                AuditEvent(
                    event="answer",
                    user_id="jonas.weber",
                    role="employee",
                    question=question,
                    answer="…",
                    chunk_ids=("c1",),
                    decision="answered",
                )
            )
        finally:
            log.close()


def sql(data: Path, statement: str) -> None:
    conn = sqlite3.connect(data / DB_FILE)
    try:
        conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def test_verify_exit_codes_name_the_first_bad_record(data: Path, env: dict[str, str]) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["audit", "verify"], env=env)
    assert missing.exit_code == 1
    assert "there is no audit log in" in missing.stderr
    fill(data)
    ok = runner.invoke(app, ["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.startswith("ok: 3 records verified, head 3 ")
    as_json = runner.invoke(app, ["audit", "verify", "--json"], env=env)
    assert json.loads(as_json.stdout)["ok"] is True
    sql(data, "UPDATE records SET decision = 'refused' WHERE seq = 2")
    bad = runner.invoke(app, ["audit", "verify"], env=env)
    assert bad.exit_code == 1
    assert "audit log damaged: record 2: was altered" in bad.stderr
    result = json.loads(runner.invoke(app, ["audit", "verify", "--json"], env=env).stdout)
    assert (result["ok"], result["bad_seq"]) == (False, 2)


def test_verify_works_while_the_server_owns_the_data_dir(data: Path, env: dict[str, str]) -> None:
    fill(data)
    with DataDirLock(data, "lotse serve"):
        result = CliRunner().invoke(app, ["audit", "verify"], env=env)
    assert result.exit_code == 0, result.output


def test_a_checkpoint_detects_a_cut_tail(data: Path, env: dict[str, str], tmp_path: Path) -> None:
    fill(data)
    runner = CliRunner()
    checkpoint = tmp_path / "elsewhere" / "checkpoint.json"
    checkpoint.parent.mkdir()
    made = runner.invoke(app, ["audit", "checkpoint", "--out", str(checkpoint)], env=env)
    assert made.exit_code == 0, made.output
    assert "checkpoint of 4 records written to" in made.stderr
    assert json.loads(checkpoint.read_text())["count"] == 4
    printed = runner.invoke(app, ["audit", "checkpoint"], env=env)
    assert json.loads(printed.stdout)["count"] == 5
    ok = runner.invoke(app, ["audit", "verify", "--checkpoint", str(checkpoint)], env=env)
    assert ok.exit_code == 0, ok.output
    assert "matches the checkpoint" in ok.stdout
    sql(data, "DELETE FROM records WHERE seq >= 4")
    cut = runner.invoke(app, ["audit", "verify", "--checkpoint", str(checkpoint)], env=env)
    assert cut.exit_code == 1
    assert "record 4: is missing: the log ends at record 3" in cut.stderr
    assert runner.invoke(app, ["audit", "verify"], env=env).exit_code == 0  # chain alone: fine
    # each run was recorded after the chain it judged: the cut one, then the intact one
    with closing(sqlite3.connect(data / DB_FILE)) as conn:
        rows = conn.execute("SELECT event, details FROM records WHERE seq >= 4 ORDER BY seq")
        runs = [json.loads(details) for event, details in rows if event == "audit_verified"]
    assert [(r["ok"], r["records"], r["checkpoint"]) for r in runs] == [
        (False, 3, True),
        (True, 4, False),
    ]
    assert "tail was cut off" in cut.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{}")
    unreadable = runner.invoke(app, ["audit", "verify", "--checkpoint", str(garbage)], env=env)
    assert unreadable.exit_code == 1
    assert "unreadable audit checkpoint" in unreadable.stderr


def test_export_jsonl_and_csv_within_a_window(
    data: Path, env: dict[str, str], tmp_path: Path
) -> None:
    days = [datetime(2025, 3, d, 9, 0, tzinfo=UTC) for d in (1, 2, 3)]
    fill(data, days)
    runner = CliRunner()
    jsonl = runner.invoke(
        app, ["audit", "export", "--since", "2025-03-02", "--until", "2025-03-03"], env=env
    )
    assert jsonl.exit_code == 0, jsonl.output
    lines = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert [(r["seq"], r["question_sha256"]) for r in lines] == [(2, sha256_text(QUESTIONS[1]))]
    assert "exported 1 records" in jsonl.stderr
    assert all(q not in jsonl.stdout for q in QUESTIONS)  # digests only, never texts
    out = tmp_path / "audit.csv"
    as_csv = runner.invoke(app, ["audit", "export", "--format", "csv", "--out", str(out)], env=env)
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["seq"] for r in rows] == ["1", "2", "3", "4"]  # 4: the first export's record
    assert rows[3]["event"] == "audit_export"
    assert json.loads(rows[3]["details"])["records"] == 1
    bad = runner.invoke(app, ["audit", "export", "--since", "letzte Woche"], env=env)
    assert bad.exit_code == 1
    assert "'letzte Woche' is not an ISO date or time" in bad.stderr
    wrong = runner.invoke(app, ["audit", "export", "--format", "xml"], env=env)
    assert wrong.exit_code == 2
    assert runner.invoke(app, ["audit", "verify"], env=env).exit_code == 0


def test_prune_applies_retention_and_records_itself(data: Path, env: dict[str, str]) -> None:
    old = datetime(2020, 1, 1, tzinfo=UTC)
    fill(data, [old, old, datetime.now(UTC)])
    result = CliRunner().invoke(
        app, ["audit", "prune"], env={**env, "LOTSE_AUDIT__RETENTION_DAYS": "365"}
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "pruned 2 texts older than 30 days and 2 records older than 365 days; "
        "retention run recorded as record 4"
    )
    log = SqliteAuditLog(data)
    try:
        assert [r.seq for r in log.records()] == [3, 4]
        assert log.verify().ok
    finally:
        log.close()
    assert CliRunner().invoke(app, ["audit", "verify"], env=env).exit_code == 0
