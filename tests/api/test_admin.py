"""Admin API: sources, background reindex jobs (while questions are answered), readiness."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.jobs import META_KEY
from api.settings import Settings
from api.wiring import Services, build_services
from knowledge.vectorstore import InMemoryVectorStore
from models.errors import StoreError
from models.llm import FakeLLM
from tests.loaders import GateLoader

WAIT_S = 20.0


@pytest.fixture
def loader(services: Services) -> GateLoader:
    gate = GateLoader()
    services.knowledge.indexer.loader = gate
    return gate


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "wiki"
    (root / "it").mkdir(parents=True)
    (root / "it" / "drucker.md").write_text(
        "# Drucker\n\n## FollowMe\n\nDruckaufträge holen Sie mit dem Ausweis am Kyocera-Gerät "
        "ab. Der Toner wird vom Facility-Team nachgefüllt.\n",
        encoding="utf-8",
    )
    (root / "it" / "wifi.md").write_text(
        "# Wi-Fi\n\n## Guests\n\nGuests get a voucher for the NW-Guest network at reception.\n",
        encoding="utf-8",
    )
    (root / "budget.xlsx").write_bytes(b"PK")
    return root


def register(client: TestClient, folder: Path, name: str = "wiki") -> dict[str, object]:
    response = client.post(
        "/v1/admin/sources",
        json={"name": name, "kind": "folder", "location": str(folder), "acl": ["everyone"]},
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def reindex(client: TestClient, services: Services, sources: list[str] | None = None) -> str:
    response = client.post("/v1/admin/reindex", json={"sources": sources} if sources else None)
    assert response.status_code == 202, response.text
    job_id = str(response.json()["job_id"])
    assert services.jobs.wait(job_id, WAIT_S).state != "running"
    return job_id


# -- sources ----------------------------------------------------------------------------------
def test_register_a_folder_and_list_it(client: TestClient, folder: Path) -> None:
    body = register(client, folder)
    assert body["name"] == "wiki"
    assert body["kind"] == "folder"
    assert body["location"] == str(folder)
    assert body["acl"] == ["everyone"]
    assert (body["documents"], body["chunks"], body["last_indexed"]) == (0, 0, None)
    assert body["skipped"] == [] and body["last_error"] is None
    listed = client.get("/v1/admin/sources").json()["sources"]
    assert [s["name"] for s in listed] == ["wiki"]
    again = client.post(
        "/v1/admin/sources",
        json={"name": "wiki", "kind": "folder", "location": str(folder), "acl": ["it", "hr"]},
    )
    assert again.status_code == 200
    assert again.json()["acl"] == ["hr", "it"]


def test_the_default_acl_applies_when_none_is_given(client: TestClient, folder: Path) -> None:
    response = client.post(
        "/v1/admin/sources", json={"name": "wiki", "kind": "folder", "location": str(folder)}
    )
    assert response.status_code == 201
    assert response.json()["acl"] == ["everyone"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"location": "relative/wiki"}, "location", "must be an absolute path"),
        ({"location": "/nonexistent/lotse/wiki"}, "location", "/nonexistent/lotse/wiki does not"),
        ({"kind": "tickets"}, "format", "a ticket source needs its export format, one of"),
        ({"kind": "tickets", "format": "csv"}, "format", "needs its export format"),
        (
            {"kind": "tickets", "format": "generic", "name": "tickets-full"},
            "name",
            "may not end with '-full'",
        ),
        (
            {"kind": "tickets", "format": "generic", "location": "/nonexistent/t.csv"},
            "location",
            "the export /nonexistent/t.csv does not exist",
        ),
        ({"kind": "sharepoint"}, "kind", "kind: Input should be 'folder' or 'tickets'"),
        ({"name": "../etc"}, "name", "name: String should match pattern"),
        ({"acl": []}, "acl", "acl: List should have at least 1 item"),
        ({"acl": ["two words"]}, "acl.0", "String should match pattern"),
        ({"format": "csv"}, "format", "format applies to ticket sources only"),
        ({"color": "red"}, "color", "Extra inputs are not permitted"),
    ],
)
def test_invalid_sources_are_422_with_the_field(
    client: TestClient, folder: Path, change: dict[str, object], field: str, message: str
) -> None:
    body = {"name": "wiki", "kind": "folder", "location": str(folder), **change}
    response = client.post("/v1/admin/sources", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["field"] == field
    assert message in error["message"]
    assert client.get("/v1/admin/sources").json() == {"sources": []}


def test_a_file_is_not_a_folder(client: TestClient, folder: Path) -> None:
    target = folder / "it" / "wifi.md"
    response = client.post(
        "/v1/admin/sources", json={"name": "one", "kind": "folder", "location": str(target)}
    )
    assert response.status_code == 422
    assert response.json()["error"]["message"] == f"{target} is not a folder"


def test_remove_a_source_deletes_its_documents_from_both_indexes(
    client: TestClient, services: Services, folder: Path, loader: GateLoader, llm: FakeLLM
) -> None:
    k = services.knowledge
    before = (k.vectors.count(), k.lexical.count())  # the conftest's "sample" documents
    register(client, folder)
    reindex(client, services)
    assert (k.vectors.count(), k.lexical.count()) == (before[0] + 2, before[1] + 2)
    response = client.delete("/v1/admin/sources/wiki")
    assert response.status_code == 200
    assert response.json() == {"name": "wiki", "documents": 2, "chunks": 2}
    assert (k.vectors.count(), k.lexical.count()) == before
    assert k.manifest.entries("wiki") == [] and k.manifest.skipped("wiki") == []
    assert client.get("/v1/admin/sources").json() == {"sources": []}
    llm.queue("Gäste bekommen einen Voucher.")
    asked = client.post("/v1/ask", json={"question": "Voucher for guests NW-Guest?"}).json()
    assert "it/wifi.md" not in [s["source_id"] for s in asked["sources"]]
    missing = client.delete("/v1/admin/sources/wiki")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": "not_found",
        "message": "no source named 'wiki'",
        "hint": "GET /v1/admin/sources lists the registered sources",
    }


# -- reindex jobs -----------------------------------------------------------------------------
def test_reindex_then_sources_show_counts_and_answers_cite_them(
    client: TestClient, services: Services, folder: Path, loader: GateLoader, llm: FakeLLM
) -> None:
    register(client, folder)
    job_id = reindex(client, services)
    job = client.get(f"/v1/admin/jobs/{job_id}").json()
    assert job["state"] == "succeeded"
    assert (job["done"], job["total"], job["percent"], job["eta_s"]) == (2, 2, 100.0, None)
    assert job["sources"] == ["wiki"]
    assert job["started_at"] is not None and job["finished_at"] is not None
    assert job["error"] is None and job["errors"] == {}
    summary = job["summary"]["wiki"]
    assert (summary["files_seen"], summary["new"], summary["chunks_written"]) == (3, 2, 2)
    source = client.get("/v1/admin/sources").json()["sources"][0]
    assert (source["documents"], source["chunks"]) == (2, 2)
    assert source["last_indexed"] is not None
    assert source["skipped"] == [{"source_id": "budget.xlsx", "reason": "unsupported format .xlsx"}]

    llm.queue("Mit dem Ausweis am Kyocera-Gerät.", "Ask at reception for a voucher.")
    german = client.post("/v1/ask", json={"question": "Wo hole ich meine Druckaufträge ab?"})
    assert german.json()["sources"][0]["source_id"] == "it/drucker.md"
    english = client.post("/v1/ask", json={"question": "How do guests get a Wi-Fi voucher?"})
    assert english.json()["sources"][0]["source_id"] == "it/wifi.md"

    second = client.get(f"/v1/admin/jobs/{reindex(client, services)}").json()
    assert second["summary"]["wiki"]["unchanged"] == 2
    assert [j["job_id"] for j in client.get("/v1/admin/jobs").json()["jobs"]] == [
        second["job_id"],
        job_id,
    ]


def test_questions_are_answered_while_a_reindex_runs(
    client: TestClient, services: Services, folder: Path, loader: GateLoader, llm: FakeLLM
) -> None:
    register(client, folder)
    loader.block_on = "it/wifi.md"
    job_id = client.post("/v1/admin/reindex").json()["job_id"]
    assert loader.entered.wait(WAIT_S)
    running = client.get(f"/v1/admin/jobs/{job_id}").json()
    assert running["state"] == "running"
    assert (running["done"], running["total"], running["percent"]) == (1, 2, 50.0)
    assert running["current"] == "wiki/it/wifi.md"
    assert running["eta_s"] is not None and running["eta_s"] >= 0

    llm.queue("Starten Sie Cisco AnyConnect.", "The per diem is 28 euros.")
    german = client.post("/v1/ask", json={"question": "Wie verbinde ich mich mit dem VPN?"})
    assert german.status_code == 200
    assert german.json()["answer"] == "Starten Sie Cisco AnyConnect."
    assert german.json()["sources"][0]["source_id"] == "it/vpn.md"
    english = client.post("/v1/ask", json={"question": "What is the per diem in Germany?"})
    assert english.status_code == 200
    assert english.json()["sources"][0]["source_id"] == "finance/travel.md"
    assert client.get("/readyz").status_code == 200
    assert client.get(f"/v1/admin/jobs/{job_id}").json()["state"] == "running"

    conflict = client.post("/v1/admin/reindex")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "conflict"
    assert conflict.json()["error"]["message"] == f"reindex job {job_id} is running"
    busy = client.delete("/v1/admin/sources/wiki")
    assert busy.status_code == 409

    loader.release.set()
    assert services.jobs.wait(job_id, WAIT_S).state == "succeeded"


def test_cancel_a_running_job(
    client: TestClient, services: Services, folder: Path, loader: GateLoader
) -> None:
    register(client, folder)
    loader.block_on = "it/drucker.md"
    job_id = client.post("/v1/admin/reindex", json={"sources": ["wiki"]}).json()["job_id"]
    assert loader.entered.wait(WAIT_S)
    cancelling = client.delete(f"/v1/admin/jobs/{job_id}")
    assert cancelling.status_code == 202
    assert cancelling.json()["job_id"] == job_id
    loader.release.set()
    assert services.jobs.wait(job_id, WAIT_S).state == "cancelled"
    job = client.get(f"/v1/admin/jobs/{job_id}").json()
    assert job["state"] == "cancelled" and job["finished_at"] is not None
    assert [e.source_id for e in services.knowledge.manifest.entries("wiki")] == ["it/drucker.md"]
    assert client.delete(f"/v1/admin/jobs/{job_id}").status_code == 202  # unchanged
    finished = client.delete(f"/v1/admin/jobs/{reindex(client, services)}")
    assert finished.status_code == 409
    assert "already succeeded" in finished.json()["error"]["message"]


def test_unknown_jobs_and_sources_are_404(client: TestClient, folder: Path) -> None:
    for response in (client.get("/v1/admin/jobs/nope"), client.delete("/v1/admin/jobs/nope")):
        assert response.status_code == 404
        assert response.json()["error"]["message"] == "no reindex job nope"
    register(client, folder)
    unknown = client.post("/v1/admin/reindex", json={"sources": ["wiki", "intranet"]})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "unknown source(s): intranet"
    assert client.get("/v1/admin/jobs").json() == {"jobs": []}


def test_reindex_without_sources_is_422(client: TestClient) -> None:
    response = client.post("/v1/admin/reindex", json={})
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("no sources are registered")
    empty_list = client.post("/v1/admin/reindex", json={"sources": []})
    assert empty_list.status_code == 422
    assert empty_list.json()["error"]["field"] == "sources"


def test_a_vanished_folder_fails_the_job_and_shows_on_the_source(
    client: TestClient, services: Services, tmp_path: Path, loader: GateLoader
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    register(client, gone, name="gone")
    gone.rmdir()
    job = client.get(f"/v1/admin/jobs/{reindex(client, services)}").json()
    assert job["state"] == "failed"
    assert job["errors"] == {"gone": f"{gone} does not exist"}
    source = client.get("/v1/admin/sources").json()["sources"][0]
    assert source["last_error"] == f"{gone} does not exist"
    assert source["last_indexed"] is None


def test_shutdown_cancels_a_running_job_and_jobs_survive_a_restart(
    tmp_path: Path, folder: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        models={"llm_backend": "fake", "embedder": "fake"},
        knowledge={"store": "memory"},
    )
    services = build_services(settings)
    loader = GateLoader()
    services.knowledge.indexer.loader = loader
    loader.block_on = "it/drucker.md"
    try:
        with TestClient(create_app(services=services)) as client:
            register(client, folder)
            job_id = client.post("/v1/admin/reindex").json()["job_id"]
            assert loader.entered.wait(WAIT_S)
            threading.Timer(0.2, loader.release.set).start()
        assert services.jobs.get(job_id).state == "cancelled"
        stored = json.loads(services.knowledge.manifest.meta(META_KEY) or "[]")
        assert [(j["job_id"], j["state"]) for j in stored] == [(job_id, "cancelled")]
    finally:
        services.close()
    restarted = build_services(settings)
    try:
        with TestClient(create_app(services=restarted)) as client:
            job = client.get(f"/v1/admin/jobs/{job_id}")
            assert job.status_code == 200
            assert job.json()["state"] == "cancelled"
            assert client.get("/v1/admin/sources").json()["sources"][0]["name"] == "wiki"
    finally:
        restarted.close()


# -- readiness --------------------------------------------------------------------------------
def test_readyz_reports_models_counts_and_the_queue(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "model": "fake-llm",
        "embedder": "fake-hashing-64",
        "chunks": 2,
        "documents": 2,
        "queue": {"waiting": 0, "running": 0, "rejected": 0, "max_queue": 8},
    }


def test_readyz_is_503_before_startup(services: Services) -> None:
    client = TestClient(create_app(services=services))  # no `with`: the lifespan never ran
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"] == {
        "code": "store_unavailable",
        "message": "the service is not ready: it is starting or shutting down",
        "hint": "retry in a few seconds",
    }


class BrokenVectors(InMemoryVectorStore):
    def count(self) -> int:
        raise StoreError("cannot read the Chroma collection 'chunks' at /data: disk I/O error")


def test_readyz_is_503_when_an_index_cannot_be_read(services: Services, client: TestClient) -> None:
    services.knowledge.vectors = BrokenVectors()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_unavailable"
    assert "disk I/O error" in response.json()["error"]["message"]


def test_openapi_documents_the_admin_errors(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        ("/v1/admin/sources", "post"): {"201", "413", "422"},
        ("/v1/admin/sources/{name}", "delete"): {"200", "404", "409"},
        ("/v1/admin/reindex", "post"): {"202", "404", "409", "422"},
        ("/v1/admin/jobs/{job_id}", "get"): {"200", "404"},
        ("/v1/admin/jobs/{job_id}", "delete"): {"202", "404", "409"},
        ("/readyz", "get"): {"200", "503"},
    }
    for (path, method), codes in expected.items():
        assert codes <= set(paths[path][method]["responses"]), (path, method)
