"""Access is audited: every 401 and 403 is an ``access_denied`` record (without the credential),
the first use of a key or token subject a ``login``, and a flood of 401s is aggregated."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import AccessAudit
from api.keys import KeyStore
from api.settings import AuthSettings
from api.wiring import Services
from assistant.audit import AuditEvent, AuditRecord
from models.errors import StoreError
from tests.api.test_auth_api import AUDIENCE, ISSUER, Provider, auth_services

Secured = tuple[TestClient, Services]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def provider(tmp_path: Path) -> Provider:
    return Provider(tmp_path / "jwks.json")


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _secured(tmp_path: Path, provider: Provider, clock: Clock, **auth: Any) -> Iterator[Secured]:
    settings = AuthSettings(
        mode="keys+oidc",
        jwks_path=provider.jwks_path,
        issuer=ISSUER,
        audience=AUDIENCE,
        role_map={"lotse-admins": "admin"},
        **auth,
    )
    svc = auth_services(tmp_path, settings)
    app = create_app(services=svc)
    app.state.access_audit = AccessAudit(clock=clock)
    with TestClient(app) as client:
        yield client, svc
    svc.close()


@pytest.fixture
def secured(tmp_path: Path, provider: Provider, clock: Clock) -> Iterator[Secured]:
    yield from _secured(tmp_path, provider, clock)


def denied(svc: Services) -> list[AuditRecord]:
    return svc.audit.records(event="access_denied")


def everything_recorded(svc: Services) -> str:
    """Every record and stored text, as one string to search for secrets."""
    out = []
    for record in svc.audit.records():
        out.append(json.dumps(record.as_dict()))
        text = svc.audit.text(record.seq)
        if text is not None:
            out += [text.question or "", text.answer or ""]
    return "\n".join(out)


def test_a_request_without_credentials_is_recorded_as_refused(secured: Secured) -> None:
    client, svc = secured
    response = client.get("/v1/admin/stats")
    assert response.status_code == 401
    (record,) = denied(svc)
    assert record.decision == "refused"
    assert (record.actor, record.role) == (svc.audit.pseudonym("anonymous"), "none")
    assert record.details == {
        "status": 401,
        "reason": "missing",
        "method": "GET",
        "path": "/v1/admin/stats",
        "needed_role": "admin",
        "actual_role": "none",
        "client": svc.audit.pseudonym("client:testclient"),
        "auth_mode": "keys+oidc",
    }
    assert svc.audit.verify().ok


def test_forged_and_invalid_credentials_are_recorded_by_kind_never_by_value(
    secured: Secured, tmp_path: Path
) -> None:
    client, svc = secured
    forged_key = "lotse_" + "Q" * 43
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "mallory", "exp": int(time.time()) + 300}
    forged_token = jwt.encode(claims, impostor, algorithm="RS256", headers={"kid": "k1"})

    bad_key = client.post("/v1/search", json={"query": "VPN"}, headers={"X-API-Key": forged_key})
    bad_token = client.get("/v1/models", headers={"Authorization": f"Bearer {forged_token}"})

    assert (bad_key.status_code, bad_token.status_code) == (401, 401)
    key_record, token_record = denied(svc)
    assert {k: key_record.details[k] for k in ("status", "reason", "method", "path")} == {
        "status": 401,
        "reason": "invalid_key",
        "method": "POST",
        "path": "/v1/search",
    }
    assert key_record.details["needed_role"] == "employee"
    assert {k: token_record.details[k] for k in ("reason", "method", "path", "needed_role")} == {
        "reason": "invalid_token",
        "method": "GET",
        "path": "/v1/models",
        "needed_role": "employee",
    }
    recorded = everything_recorded(svc)
    assert forged_key not in recorded
    assert forged_token not in recorded
    assert "Q" * 20 not in recorded and forged_token.split(".")[2][:20] not in recorded
    assert "mallory" not in recorded  # an unverified token's subject is not believed
    assert svc.audit.verify().ok


def test_a_wrong_role_is_recorded_with_the_needed_and_the_actual_role(secured: Secured) -> None:
    client, svc = secured
    _, secret = KeyStore(svc.settings.data_dir).create("jürgen.müller", "employee")
    response = client.get("/v1/admin/audit", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "this needs the role admin; you have employee"
    (record,) = denied(svc)
    assert record.decision == "refused"
    assert (record.actor, record.role) == (svc.audit.pseudonym("jürgen.müller"), "employee")
    assert record.details == {
        "status": 403,
        "reason": "role",
        "method": "GET",
        "path": "/v1/admin/audit",
        "needed_role": "admin",
        "actual_role": "employee",
    }
    assert secret not in everything_recorded(svc)
    assert svc.audit.verify().ok


def test_a_token_user_without_a_lotse_role_is_recorded(
    tmp_path: Path, provider: Provider, clock: Clock
) -> None:
    for client, svc in _secured(tmp_path, provider, clock, default_role=None):
        token = provider.token(sub="dora", roles=["marketing"])
        response = client.get("/v1/models", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403
        (record,) = denied(svc)
        assert (record.details["status"], record.details["reason"]) == (403, "no_role")
        assert record.role == "none"
        assert token not in everything_recorded(svc)


def test_in_mode_none_a_too_low_dev_role_is_recorded(tmp_path: Path) -> None:
    svc = auth_services(tmp_path, AuthSettings(dev_role="agent"))
    try:
        with TestClient(create_app(services=svc)) as client:
            assert client.post("/v1/admin/reindex", json={}).status_code == 403
            assert client.get("/v1/models").status_code == 200
        (record,) = denied(svc)
        assert (record.actor, record.role) == (svc.audit.pseudonym("anonymous"), "agent")
        assert record.details["needed_role"] == "admin"
        assert svc.audit.records(event="login") == []  # no login without authentication
    finally:
        svc.close()


def test_a_login_is_recorded_once_per_key_and_per_token_subject(
    secured: Secured, provider: Provider
) -> None:
    client, svc = secured
    store = KeyStore(svc.settings.data_dir)
    anna, anna_secret = store.create("anna", "employee")
    bob, bob_secret = store.create("bob", "agent")
    for _ in range(3):
        assert client.get("/v1/models", headers={"X-API-Key": anna_secret}).status_code == 200
    assert client.get("/v1/models", headers={"X-API-Key": bob_secret}).status_code == 200
    for _ in range(2):  # two different tokens of the same subject
        token = provider.token(sub="dora", roles=["lotse-admins"], jti=str(time.time_ns()))
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get("/v1/admin/stats", headers=bearer).status_code == 200

    logins = svc.audit.records(event="login")
    assert [(r.actor, r.role, r.details) for r in logins] == [
        (
            svc.audit.pseudonym("anna"),
            "employee",
            {"auth_method": "key", "key_id": anna.key_id, "path": "/v1/models"},
        ),
        (
            svc.audit.pseudonym("bob"),
            "agent",
            {"auth_method": "key", "key_id": bob.key_id, "path": "/v1/models"},
        ),
        (
            svc.audit.pseudonym("dora"),
            "admin",
            {"auth_method": "oidc", "path": "/v1/admin/stats"},
        ),
    ]
    recorded = everything_recorded(svc)
    assert anna_secret not in recorded and bob_secret not in recorded
    assert svc.audit.verify().ok


def test_a_flood_of_401s_is_aggregated_per_client_and_reason(
    secured: Secured, clock: Clock
) -> None:
    client, svc = secured
    for _ in range(5):
        assert client.get("/v1/admin/stats").status_code == 401
    assert client.get("/v1/models", headers={"X-API-Key": "lotse_" + "z" * 43}).status_code == 401
    assert [r.details["reason"] for r in denied(svc)] == ["missing", "invalid_key"]

    clock.now += 59.0
    assert client.get("/v1/admin/stats").status_code == 401  # still the same window
    assert len(denied(svc)) == 2
    clock.now += 2.0
    assert client.get("/v1/admin/jobs").status_code == 401
    records = denied(svc)
    assert len(records) == 3
    assert records[-1].details["path"] == "/v1/admin/jobs"
    assert records[-1].details["repeats"] == 5  # four in the first minute, one at 59 s
    assert "repeats" not in records[0].details
    assert svc.audit.verify().ok


def test_the_flood_guard_keeps_bounded_state() -> None:
    clock = Clock()
    guard = AccessAudit(clock=clock, window_s=60.0, max_clients=2)
    assert guard.admit("10.0.0.1", "missing") == 0
    assert guard.admit("10.0.0.2", "missing") == 0
    assert guard.admit("10.0.0.3", "missing") == 0  # the shared overflow window opens
    assert guard.admit("10.0.0.4", "missing") is None  # and counts the rest
    assert guard.admit("10.0.0.1", "missing") is None
    clock.now += 61.0
    assert guard.admit("10.0.0.5", "missing") == 0  # closed windows were dropped
    assert guard.admit("10.0.0.1", "missing") == 0


def test_an_audit_failure_does_not_turn_a_refusal_into_a_500(
    secured: Secured, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    client, svc = secured
    _, secret = KeyStore(svc.settings.data_dir).create("anna", "employee")

    def broken(event: AuditEvent) -> AuditRecord:
        raise StoreError("disk full")

    monkeypatch.setattr(svc.audit, "append", broken)
    with caplog.at_level("ERROR"):
        missing = client.get("/v1/admin/stats")
        forbidden = client.get("/v1/admin/stats", headers={"X-API-Key": secret})
    assert (missing.status_code, forbidden.status_code) == (401, 403)
    assert missing.json()["error"]["code"] == "unauthorized"
    assert forbidden.json()["error"]["code"] == "forbidden"
    failures = [r.getMessage() for r in caplog.records if "audit_record_failed" in r.getMessage()]
    assert failures == [
        "audit_record_failed event=access_denied error=disk full",
        "audit_record_failed event=login error=disk full",
        "audit_record_failed event=access_denied error=disk full",
    ]
    monkeypatch.undo()
    # the login that could not be recorded is recorded at the next request
    assert client.get("/v1/models", headers={"X-API-Key": secret}).status_code == 200
    assert len(svc.audit.records(event="login")) == 1


def test_dependency_overrides_of_the_caller_still_apply(secured: Secured) -> None:
    client, svc = secured
    from api.deps import get_caller
    from assistant.identity import Caller

    app = client.app
    assert isinstance(app, FastAPI)
    app.dependency_overrides[get_caller] = lambda: Caller(user_id="root", role="admin")
    try:
        assert client.get("/v1/admin/stats").status_code == 200
    finally:
        app.dependency_overrides.clear()
    assert denied(svc) == []
