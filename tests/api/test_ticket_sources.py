"""Ticket exports as admin sources: ``POST /v1/admin/sources`` with ``kind: tickets`` and a
format, then ``POST /v1/admin/reindex`` imports them the way ``lotse tickets import`` does
(redacted knowledge ``NAME``, agents' records ``NAME-full``, the agents' ticket list);
incrementally; and removing the source takes all of it away. German and English tickets."""

from __future__ import annotations

import csv
from pathlib import Path

from fastapi.testclient import TestClient

from api.wiring import Services
from assistant.ticket_import import import_tickets
from models.llm import FakeLLM

WAIT_S = 30.0
COLUMNS = ["id", "subject", "body", "answer", "queue", "priority", "type", "language", "closed"]
ROWS = [
    {
        "id": "TK-1",
        "subject": "Drucker im 2. OG druckt nicht",
        "body": "Hallo, der Drucker im 2. OG zieht kein Papier ein. Gruß, Jana, 0421 555 1234",
        "answer": "Papierfach 2 war verklemmt und wurde getauscht; der Drucker druckt wieder.",
        "queue": "IT",
        "priority": "normal",
        "type": "incident",
        "language": "de",
        "closed": "2024-04-02T10:00:00",
    },
    {
        "id": "TK-2",
        "subject": "VPN drops every hour",
        "body": "Hi, AnyConnect disconnects every hour when I work from home.",
        "answer": "Update AnyConnect from the self-service portal; the new profile keeps it alive.",
        "queue": "IT",
        "priority": "high",
        "type": "incident",
        "language": "en",
        "closed": "2024-04-03T10:00:00",
    },
    {
        "id": "TK-3",
        "subject": "Monitor flackert",
        "body": "Mein Monitor flackert seit heute morgen.",
        "answer": "",
        "queue": "IT",
        "priority": "low",
        "type": "incident",
        "language": "de",
        "closed": "",
    },
]


def write_export(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def register(client: TestClient, export: Path, **extra: object) -> dict[str, object]:
    body = {"name": "helpdesk", "kind": "tickets", "format": "generic", "location": str(export)}
    response = client.post("/v1/admin/sources", json={**body, **extra})
    assert response.status_code == 201, response.text
    out: dict[str, object] = response.json()
    return out


def reindex(client: TestClient, services: Services, sources: list[str] | None = None) -> dict:
    response = client.post("/v1/admin/reindex", json={"sources": sources} if sources else None)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    services.jobs.wait(job_id, WAIT_S)
    job = client.get(f"/v1/admin/jobs/{job_id}").json()
    assert job["state"] == "succeeded", job
    return job


def test_a_registered_export_is_imported_by_a_reindex(
    client: TestClient, services: Services, llm: FakeLLM, tmp_path: Path
) -> None:
    export = write_export(tmp_path / "export.csv", ROWS)
    registered = register(client, export)
    assert (registered["kind"], registered["acl"]) == ("tickets", ["everyone"])

    job = reindex(client, services, ["helpdesk"])
    assert job["summary"]["helpdesk"]["new"] == 2  # the two resolved tickets
    assert job["summary"]["helpdesk-full"]["new"] == 3  # every ticket
    names = {s["name"]: s for s in client.get("/v1/admin/sources").json()["sources"]}
    assert names["helpdesk"]["documents"] == 2 and names["helpdesk-full"]["documents"] == 3
    assert names["helpdesk-full"]["acl"] == ["agents"]
    listed = {t["ticket_id"] for t in client.get("/v1/tickets").json()["tickets"]}
    assert listed == {"TK-1", "TK-2", "TK-3"}
    # employees find the redacted solutions, in German and in English
    for query, source_id in (
        ("Drucker Papierfach", "tickets/TK-1"),
        ("AnyConnect", "tickets/TK-2"),
    ):
        hits = client.post("/v1/search", json={"query": query}).json()["results"]
        assert source_id in [h["source_id"] for h in hits], (query, hits)
        assert all("0421" not in h["snippet"] for h in hits)  # the phone number is redacted

    # a reindex of everything runs the import once, and an unchanged export costs nothing
    again = reindex(client, services)
    assert again["summary"]["helpdesk"]["unchanged"] == 2
    assert again["summary"]["helpdesk-full"]["unchanged"] == 3

    changed = [dict(r) for r in ROWS[:2]]
    changed[1]["answer"] += " Danach bitte neu anmelden."
    write_export(export, changed)
    third = reindex(client, services, ["helpdesk-full"])  # either name imports the export
    assert (third["summary"]["helpdesk"]["changed"], third["summary"]["helpdesk"]["unchanged"]) == (
        1,
        1,
    )
    assert third["summary"]["helpdesk-full"]["deleted"] == 1  # TK-3 left the export
    listed = {t["ticket_id"] for t in client.get("/v1/tickets").json()["tickets"]}
    assert listed == {"TK-1", "TK-2"}


def test_removing_a_ticket_source_takes_its_records_and_tickets_along(
    client: TestClient, services: Services, tmp_path: Path
) -> None:
    export = write_export(tmp_path / "export.csv", ROWS)
    register(client, export, acl=["hr"])
    reindex(client, services, ["helpdesk"])
    sources = {s["name"]: s for s in client.get("/v1/admin/sources").json()["sources"]}
    assert sources["helpdesk-full"]["acl"] == ["agents+hr"]

    removed = client.delete("/v1/admin/sources/helpdesk")
    assert removed.status_code == 200, removed.text
    assert removed.json()["documents"] == 5
    assert client.get("/v1/admin/sources").json() == {"sources": []}
    assert client.get("/v1/tickets").json()["tickets"] == []
    assert services.knowledge.vectors.count() == services.knowledge.lexical.count()
    assert services.tickets.count_candidates(status=None) == 0


def test_a_cli_import_can_be_reindexed_from_the_api(
    client: TestClient, services: Services, tmp_path: Path
) -> None:
    """What `make run` leaves behind (an imported sample) must not fail the admin's reindex."""
    export = write_export(tmp_path / "export.csv", ROWS)
    knowledge = services.knowledge
    import_tickets(
        knowledge.indexer,
        knowledge.manifest,
        services.tickets,
        export,
        fmt="generic",
        source="tickets",
        acl=("everyone",),
        mode="auto",
        column_map=["answer=answer"],
    )
    registered = {s.name: s for s in knowledge.manifest.sources()}
    assert registered["tickets"].options == {"format": "generic", "map": "answer=answer"}
    job = reindex(client, services)
    assert set(job["summary"]) == {"tickets", "tickets-full"}
    assert job["summary"]["tickets"]["unchanged"] == 2
