"""Erasing a user deletes their API keys: no row and no byte of their user id stays in
``keys.sqlite3``, and a deleted key no longer authenticates."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.auth import Authenticator
from api.cli import app
from api.keys import KEYS_FILE, KeyStore
from api.settings import AuthSettings
from api.wiring import build_eraser, build_services
from assistant.identity import OPERATOR
from models.errors import Unauthenticated
from models.llm import FakeLLM
from tests.api.conftest import fake_settings

ERASED = "jürgen.müller"  # UTF-8 on disk: j\xc3\xbcrgen.m\xc3\xbcller
KEPT = "bob-the-builder"


def raw(data_dir: Path) -> bytes:
    """The key store's bytes on disk, its journal included if one was left behind."""
    out = (data_dir / KEYS_FILE).read_bytes()
    for leftover in data_dir.glob(KEYS_FILE + "-*"):
        out += leftover.read_bytes()
    return out


def digests(data_dir: Path, user: str) -> list[str]:
    with sqlite3.connect(data_dir / KEYS_FILE) as db:
        rows = db.execute("SELECT digest FROM api_keys WHERE user_id = ?", (user,)).fetchall()
    db.close()
    return [str(r[0]) for r in rows]


def seed(data_dir: Path) -> tuple[KeyStore, str, str, list[str]]:
    store = KeyStore(data_dir)
    _, active = store.create(ERASED, "agent", ("hr",))
    old, _ = store.create(ERASED, "employee")
    store.revoke(old.key_id)  # a revoked key is deleted too
    _, kept = store.create(KEPT, "employee")
    return store, active, kept, digests(data_dir, ERASED)


def test_a_plain_delete_would_leave_the_user_id_in_the_file(tmp_path: Path) -> None:
    """The control: why ``delete_user`` asks for secure deletion itself (SQLite builds differ
    in their default) and rewrites the file, and that the byte check below can fail."""
    seed(tmp_path)
    copy = tmp_path / "copy.sqlite3"
    shutil.copy(tmp_path / KEYS_FILE, copy)
    with sqlite3.connect(copy) as db:
        db.execute("PRAGMA secure_delete = OFF")
        db.execute("DELETE FROM api_keys WHERE user_id = ?", (ERASED,))
    db.close()
    assert ERASED.encode() in copy.read_bytes()


def test_delete_user_removes_rows_and_bytes(tmp_path: Path) -> None:
    store, active, kept, erased_digests = seed(tmp_path)
    assert ERASED.encode() in raw(tmp_path)

    assert store.delete_user(ERASED) == 2
    assert store.delete_user(ERASED) == 0
    assert [k.user_id for k in store.list_keys()] == [KEPT]
    data = raw(tmp_path)
    assert ERASED.encode() not in data
    assert "jürgen".encode() not in data and "müller".encode() not in data
    assert all(d.encode() not in data for d in erased_digests)
    assert KEPT.encode() in data  # the other user's key is untouched
    assert store.verify(active) is None
    assert store.verify(kept) is not None
    authenticator = Authenticator(AuthSettings(mode="keys"), keys=store)
    try:
        authenticator.authenticate({"authorization": f"Bearer {active}"})
    except Unauthenticated as exc:
        assert exc.message == "the API key is unknown or revoked"
    else:
        raise AssertionError("a deleted key authenticated")


def test_delete_user_without_a_key_store_creates_none(tmp_path: Path) -> None:
    assert KeyStore(tmp_path).delete_user(ERASED) == 0
    assert not (tmp_path / KEYS_FILE).exists()


def test_the_eraser_deletes_the_keys_and_reports_how_many(tmp_path: Path) -> None:
    svc = build_services(fake_settings(tmp_path), llm=FakeLLM())
    try:
        data_dir = svc.settings.data_dir
        _, active, kept, _ = seed(data_dir)
        eraser = build_eraser(svc.settings, svc.knowledge, svc.conversations, svc.audit)
        report = eraser.erase_user(ERASED, OPERATOR)
        assert report.api_keys == 2
        assert report.as_dict()["api_keys"] == 2
        (record,) = svc.audit.records(event="erasure")
        assert record.details["api_keys"] == 2
        assert ERASED.encode() not in raw(data_dir)
        store = KeyStore(data_dir)
        assert (store.verify(active), store.verify(kept) is not None) == (None, True)
        assert svc.audit.verify().ok
    finally:
        svc.close()


def test_erase_over_http_deletes_the_keys_and_the_key_stops_working(tmp_path: Path) -> None:
    settings = fake_settings(tmp_path).model_copy(update={"auth": AuthSettings(mode="keys")})
    svc = build_services(settings, llm=FakeLLM())
    try:
        data_dir = svc.settings.data_dir
        _, active, kept, _ = seed(data_dir)
        _, root = KeyStore(data_dir).create("root", "admin")
        with TestClient(create_app(services=svc)) as client:
            assert client.get("/v1/models", headers={"X-API-Key": active}).status_code == 200
            erased = client.post(
                "/v1/admin/erase", json={"user": ERASED}, headers={"X-API-Key": root}
            )
            assert erased.status_code == 200, erased.text
            assert erased.json()["api_keys"] == 2
            gone = client.get("/v1/models", headers={"X-API-Key": active})
            assert gone.status_code == 401
            assert gone.json()["error"]["message"] == "the API key is unknown or revoked"
            assert client.get("/v1/models", headers={"X-API-Key": kept}).status_code == 200
        assert ERASED.encode() not in raw(data_dir)
        listed = [k.user_id for k in KeyStore(data_dir).list_keys()]
        assert listed == [KEPT, "root"]
    finally:
        svc.close()


def test_cli_erase_user_deletes_the_keys(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {
        "LOTSE_DATA_DIR": str(data_dir),
        "LOTSE_MODELS__LLM_BACKEND": "fake",
        "LOTSE_MODELS__EMBEDDER": "fake",
        "LOTSE_MODELS__CACHE_DIR": str(tmp_path / "models"),
        "LOTSE_KNOWLEDGE__STORE": "memory",
        "LOTSE_LOG_LEVEL": "WARNING",
    }
    _, active, _, _ = seed(data_dir)
    runner = CliRunner()
    dry = runner.invoke(app, ["erase", "--user", ERASED, "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert len(KeyStore(data_dir).list_keys()) == 3  # a dry run deletes nothing

    result = runner.invoke(app, ["erase", "--user", ERASED], env=env)
    assert result.exit_code == 0, result.output
    assert "2 API keys (deleted)" in result.stdout
    assert ERASED.encode() not in raw(data_dir)
    assert KeyStore(data_dir).verify(active) is None

    as_json = runner.invoke(app, ["erase", "--user", ERASED, "--json"], env=env)
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["api_keys"] == 0
