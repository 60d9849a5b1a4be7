"""Key management over HTTP: create (secret once), list, revoke; admins only; audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import KeyStore
from api.settings import AuthSettings
from api.wiring import Services
from tests.api.test_auth_api import auth_services

Secured = tuple[TestClient, Services]


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Secured]:
    svc = auth_services(tmp_path, AuthSettings(mode="keys"))
    with TestClient(create_app(services=svc)) as client:
        yield client, svc
    svc.close()


@pytest.fixture
def admin(secured: Secured) -> dict[str, str]:
    _, secret = KeyStore(secured[1].settings.data_dir).create("root", "admin")
    return {"Authorization": f"Bearer {secret}"}


def recorded(svc: Services) -> str:
    return "\n".join(json.dumps(r.as_dict()) for r in svc.audit.records())


def test_create_list_and_revoke_a_key(secured: Secured, admin: dict[str, str]) -> None:
    client, _ = secured
    created = client.post(
        "/v1/admin/keys",
        json={"user": "jürgen.müller", "role": "agent", "groups": ["hr", "it"]},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret, key = body["secret"], body["key"]
    assert secret.startswith("lotse_") and len(secret) == 49
    assert (key["user_id"], key["role"], key["groups"], key["revoked"]) == (
        "jürgen.müller",
        "agent",
        ["hr", "it"],
        None,
    )

    # the new key works, with its role and groups
    me = client.get("/v1/me", headers={"X-API-Key": secret})
    assert me.status_code == 200
    assert (me.json()["user_id"], me.json()["role"], me.json()["groups"]) == (
        "jürgen.müller",
        "agent",
        ["hr", "it"],
    )

    listed = client.get("/v1/admin/keys", headers=admin)
    assert listed.status_code == 200
    rows = listed.json()
    assert rows["count"] == 2
    assert [(k["user_id"], k["role"]) for k in rows["keys"]] == [
        ("root", "admin"),
        ("jürgen.müller", "agent"),
    ]
    assert set(rows["keys"][1]) == {"key_id", "user_id", "role", "groups", "created", "revoked"}
    assert secret not in listed.text

    revoked = client.delete(f"/v1/admin/keys/{key['key_id']}", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked"] is not None
    assert secret not in revoked.text
    gone = client.get("/v1/me", headers={"X-API-Key": secret})
    assert gone.status_code == 401
    assert gone.json()["error"]["message"] == "the API key is unknown or revoked"
    again = client.delete(f"/v1/admin/keys/{key['key_id']}", headers=admin)
    assert again.json()["revoked"] == revoked.json()["revoked"]  # idempotent
    listed_after = client.get("/v1/admin/keys", headers=admin).json()["keys"]
    assert listed_after[1]["revoked"] == revoked.json()["revoked"]


def test_every_key_action_is_audited_without_the_secret(
    secured: Secured, admin: dict[str, str]
) -> None:
    client, svc = secured
    body = client.post("/v1/admin/keys", json={"user": "anna"}, headers=admin).json()
    client.get("/v1/admin/keys", headers=admin)
    client.delete(f"/v1/admin/keys/{body['key']['key_id']}", headers=admin)

    actions = [
        r for r in svc.audit.records() if r.event in {"key_created", "keys_viewed", "key_revoked"}
    ]
    admin_actor = svc.audit.pseudonym("root")
    anna = svc.audit.pseudonym("anna")
    key_id = body["key"]["key_id"]
    assert [(r.event, r.actor, r.role, r.details) for r in actions] == [
        (
            "key_created",
            admin_actor,
            "admin",
            {"key_id": key_id, "user": anna, "role": "employee", "groups": []},
        ),
        ("keys_viewed", admin_actor, "admin", {"keys": 2}),
        ("key_revoked", admin_actor, "admin", {"key_id": key_id, "user": anna, "role": "employee"}),
    ]
    text = recorded(svc)
    assert body["secret"] not in text
    assert "anna" not in text  # the key's user by pseudonym only
    assert svc.audit.verify().ok


@pytest.mark.parametrize("role", ["employee", "agent"])
def test_only_admins_manage_keys(secured: Secured, role: str) -> None:
    client, svc = secured
    store = KeyStore(svc.settings.data_dir)
    victim, _ = store.create("victim", "employee")
    _, secret = store.create(f"user-{role}", role)
    headers = {"X-API-Key": secret}
    for method, path, body in (
        ("GET", "/v1/admin/keys", None),
        ("POST", "/v1/admin/keys", {"user": "me", "role": "admin"}),
        ("DELETE", f"/v1/admin/keys/{victim.key_id}", None),
    ):
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"]["message"] == f"this needs the role admin; you have {role}"
    assert [k.user_id for k in store.list_keys()] == ["victim", f"user-{role}"]
    assert store.list_keys()[0].revoked is None
    assert [r.details["path"] for r in svc.audit.records(event="access_denied")] == [
        "/v1/admin/keys",
        "/v1/admin/keys",
        f"/v1/admin/keys/{victim.key_id}",
    ]
    assert svc.audit.records(event="key_created") == []
    unauthenticated = client.get("/v1/admin/keys")
    assert unauthenticated.status_code == 401


def test_bad_input_and_unknown_keys(secured: Secured, admin: dict[str, str]) -> None:
    client, _ = secured
    for body, field in (
        ({"user": "two words"}, "user"),
        ({"user": "anna", "role": "root"}, "role"),
        ({"user": "anna", "groups": ["a b"]}, "groups.0"),
        ({"user": "anna", "secret": "lotse_mine"}, "secret"),
    ):
        response = client.post("/v1/admin/keys", json=body, headers=admin)
        assert response.status_code == 422, body
        assert response.json()["error"]["field"] == field
    missing = client.delete("/v1/admin/keys/k_000000000000", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no API key k_000000000000"


def test_in_auth_mode_none_the_local_admin_manages_keys(tmp_path: Path) -> None:
    svc = auth_services(tmp_path, AuthSettings(mode="none"))
    try:
        with TestClient(create_app(services=svc)) as client:
            assert client.get("/v1/admin/keys").json() == {"keys": [], "count": 0}
            created = client.post("/v1/admin/keys", json={"user": "anna", "role": "employee"})
            assert created.status_code == 201
            keys = client.get("/v1/admin/keys").json()["keys"]
            assert [k["key_id"] for k in keys] == [created.json()["key"]["key_id"]]
        assert KeyStore(svc.settings.data_dir).verify(created.json()["secret"]) is not None
    finally:
        svc.close()


def test_openapi_documents_the_key_routes(secured: Secured) -> None:
    client, _ = secured
    paths = client.get("/openapi.json").json()["paths"]
    assert {"401", "403"} <= set(paths["/v1/admin/keys"]["get"]["responses"])
    assert {"201", "401", "403", "422"} <= set(paths["/v1/admin/keys"]["post"]["responses"])
    assert {"401", "403", "404"} <= set(paths["/v1/admin/keys/{key_id}"]["delete"]["responses"])
