"""``lotse tickets import`` end to end in-process: fake models, the real stores, the sample CSV."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.settings import Settings
from api.wiring import Knowledge, open_knowledge
from knowledge.documents import Chunk

SAMPLE = Path(__file__).parents[2] / "knowledge" / "sample" / "tickets.csv"
DATA = Path(__file__).parent / "data" / "tickets"


def _env(root: Path) -> dict[str, str]:
    return {
        "LOTSE_DATA_DIR": str(root / "data"),
        "LOTSE_MODELS__LLM_BACKEND": "fake",
        "LOTSE_MODELS__EMBEDDER": "fake",
        "LOTSE_MODELS__CACHE_DIR": str(root / "models"),
        "LOTSE_LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return _env(tmp_path)


@pytest.fixture
def export(tmp_path: Path) -> Path:
    target = tmp_path / "export" / "tickets.csv"
    target.parent.mkdir()
    shutil.copy(SAMPLE, target)
    return target


def _import(env: dict[str, str], *args: str) -> dict[str, object]:
    result = CliRunner().invoke(app, ["tickets", "import", *args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    summary: dict[str, object] = json.loads(result.stdout)
    return summary


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], list]]:  # type: ignore[type-arg]
    """The whole sample imported twice into one data directory (the slow part, done once)."""
    root = tmp_path_factory.mktemp("sample-import")
    env = _env(root)
    summaries = [_import(env, str(SAMPLE), "--format", "generic", "--acl", "staff")]
    summaries.append(_import(env, str(SAMPLE), "--format", "generic", "--acl", "staff"))
    yield env, summaries


def _open(env: dict[str, str]) -> Knowledge:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        settings = Settings()
    return open_knowledge(settings, purpose="test", lock=False)


def _chunks(knowledge: Knowledge, source: str, source_id: str) -> list[Chunk]:
    entry = knowledge.manifest.get(source, source_id)
    assert entry is not None, (source, source_id)
    return knowledge.lexical.get(list(entry.chunk_ids))


def _text(chunks: list[Chunk]) -> str:
    return "\n".join(c.text for c in chunks)


def test_sample_import_counts_then_reimport_costs_nothing(
    imported: tuple[dict[str, str], list[dict[str, object]]],
) -> None:
    first, second = imported[1]
    assert (first["tickets"], first["resolved"], first["problems"]) == (208, 177, [])
    knowledge, agents = first["knowledge"], first["agents"]
    assert isinstance(knowledge, dict) and isinstance(agents, dict)
    assert (knowledge["source"], knowledge["new"], knowledge["skipped"]) == ("tickets", 177, [])
    assert (agents["source"], agents["new"]) == ("tickets-full", 208)
    redactions = first["redactions"]
    assert isinstance(redactions, dict) and redactions["email"] > 0 and redactions["phone"] > 0
    k2, a2 = second["knowledge"], second["agents"]
    assert isinstance(k2, dict) and isinstance(a2, dict)
    assert (k2["new"], k2["changed"], k2["unchanged"], k2["chunks_written"]) == (0, 0, 177, 0)
    assert (a2["new"], a2["changed"], a2["unchanged"], a2["chunks_written"]) == (0, 0, 208, 0)


def test_changed_and_vanished_tickets_are_updated(env: dict[str, str], export: Path) -> None:
    with export.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))[:20]
    fieldnames = list(rows[0])

    def write(selection: list[dict[str, str]]) -> None:
        with export.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fieldnames)
            writer.writeheader()
            writer.writerows(selection)

    write(rows)
    first = _import(env, str(export))
    resolved = first["resolved"]
    assert isinstance(resolved, int) and 0 < resolved < 20
    answered = [r for r in rows if r["answer"]]
    answered[0]["answer"] += "\nNachtrag: Zertifikat läuft jetzt 2 Jahre."
    write([r for r in rows if r is not answered[1]])
    again = _import(env, str(export))
    k, a = again["knowledge"], again["agents"]
    assert isinstance(k, dict) and isinstance(a, dict)
    assert (k["new"], k["changed"], k["unchanged"], k["deleted"]) == (0, 1, resolved - 2, 1)
    assert (a["new"], a["changed"], a["unchanged"], a["deleted"]) == (0, 1, 18, 1)


def test_employee_document_is_redacted_and_agents_document_is_not(
    imported: tuple[dict[str, str], list[dict[str, object]]],
) -> None:
    knowledge = _open(imported[0])
    try:
        employee = _chunks(knowledge, "tickets", "tickets/NW-INC-104707")
        full = _chunks(knowledge, "tickets-full", "tickets/NW-INC-104707")
        employee_text, full_text = _text(employee), _text(full)
        assert {c.acl for c in employee} == {("staff",)}
        # imported for staff: only agents also in staff read the full records
        assert {c.acl for c in full} == {("agents+staff",)}
        assert employee[0].title == "VPN geht nicht"
        assert "Zertifikatsprüfung fehlgeschlagen" in employee_text
        assert "Das Gerätezertifikat Ihres Laptops war abgelaufen" in employee_text
        for secret in ("h.steffens@nordwind.de", "+49 421 5550-2870", "Holger Steffens",
                       "Am Holzhafen 18", "28217 Bremen", "Tim Oltmanns"):  # fmt: skip
            assert secret not in employee_text
            assert secret in full_text
        for placeholder in ("[EMAIL]", "[PHONE]", "[NAME]", "[ADDRESS]"):
            assert placeholder in employee_text
        # unresolved tickets are agents-only
        with SAMPLE.open(encoding="utf-8", newline="") as fh:
            unresolved = next(r["id"] for r in csv.DictReader(fh) if not r["answer"])
        assert knowledge.manifest.get("tickets", f"tickets/{unresolved}") is None
        assert knowledge.manifest.get("tickets-full", f"tickets/{unresolved}") is not None
        # the ACL filter inside the index decides who sees what
        as_staff = knowledge.lexical.search("Steffens nordwind", 50, groups=["everyone", "staff"])
        assert as_staff and {h.chunk.source for h in as_staff} == {"tickets"}
        assert all("Steffens" not in h.chunk.text for h in as_staff)
        as_agent = knowledge.lexical.search("Steffens", 50, groups=["agents", "agents+staff"])
        assert as_agent and {h.chunk.source for h in as_agent} == {"tickets-full"}
        # an agent outside staff does not get the records of an export for staff
        assert knowledge.lexical.search("Steffens", 50, groups=["everyone", "agents"]) == []
        nobody = knowledge.lexical.search("Steffens nordwind", 50, groups=["everyone"])
        assert nobody == []
        # no e-mail address or +49 number anywhere in the employee knowledge
        employee_all = [
            c
            for e in knowledge.manifest.entries("tickets")
            for c in _chunks(knowledge, "tickets", e.source_id)
        ]
        assert len({c.source_id for c in employee_all}) == 177
        assert not any("@nordwind.de" in c.text or "+49 421" in c.text for c in employee_all)
        sources = {s.name for s in knowledge.manifest.sources()}
        assert {"tickets", "tickets-full"} <= sources
    finally:
        knowledge.close()


def test_other_formats_and_bad_records_in_the_summary(env: dict[str, str]) -> None:
    summary = _import(env, str(DATA / "jira.json"), "--format", "jira", "--source", "jsm")
    assert (summary["tickets"], summary["resolved"]) == (2, 1)
    assert summary["problems"] == [
        {"ticket": "ITSD-233", "reason": "fields.summary: Field required"}
    ]
    assert summary["knowledge"]["source"] == "jsm"  # type: ignore[index]
    assert summary["agents"]["source"] == "jsm-full"  # type: ignore[index]

    text = CliRunner().invoke(
        app, ["tickets", "import", str(DATA / "zammad.json"), "--format", "zammad"], env=env
    )
    assert text.exit_code == 0, text.output
    assert "2 tickets read, 2 with problems; 1 resolved become knowledge" in text.stdout
    assert "skipped 31415: created_at: unreadable time 'gestern'" in text.stdout


def test_column_map_option_and_its_errors(env: dict[str, str]) -> None:
    summary = _import(
        env,
        str(DATA / "tickets_mapped.csv"),
        "--map",
        "id=ticket_no,subject=title,body=description",
        "--map",
        "answer=solution,closed=closed_at",
    )
    assert (summary["tickets"], summary["resolved"]) == (2, 1)
    bad = CliRunner().invoke(
        app, ["tickets", "import", str(DATA / "tickets_mapped.csv"), "--map", "x=y"], env=env
    )
    assert bad.exit_code == 2
    assert "bad column mapping 'x=y'" in bad.stderr
    missing = CliRunner().invoke(app, ["tickets", "import", "/nonexistent/t.csv"], env=env)
    assert missing.exit_code == 1
    assert "does not exist" in missing.stderr
