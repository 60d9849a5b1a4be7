"""Authentication and roles over HTTP: API keys, OIDC tokens, 401/403, the ACL from identity."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import KeyStore
from api.settings import AuthSettings, Settings
from api.wiring import Services, build_services
from knowledge.documents import Document, sha256_bytes
from models.errors import ConfigurationError
from models.llm import FakeLLM
from tests.api.conftest import fake_settings

ISSUER = "https://sso.nordwind.example/realms/company"
AUDIENCE = "lotse"

DOCS = {
    "it/vpn.md": (
        ("everyone",),
        "# VPN\n\n## Verbindung\n\nStarten Sie Cisco AnyConnect und verbinden Sie sich "
        "mit vpn.nordwind.de.",
    ),
    "hr/salary.md": (
        ("hr",),
        "# Gehaltsbänder\n\n## E3\n\nDas Gehaltsband E3 reicht von 52000 bis 61000 Euro. "
        "Salary band E3 ranges from 52000 to 61000 euros.",
    ),
}

EMPLOYEE_ROUTES: list[tuple[str, str, Any]] = [
    ("POST", "/v1/search", {"query": "VPN AnyConnect"}),
    ("GET", "/v1/models", None),
]
ADMIN_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/v1/admin/sources", None),
    ("GET", "/v1/admin/stats", None),
    ("GET", "/v1/admin/jobs", None),
    ("GET", "/v1/admin/audit", None),
]


class Provider:
    def __init__(self, path: Path) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        jwk.update({"kid": "k1", "alg": "RS256", "use": "sig"})
        self.jwks_path = path
        path.write_text(json.dumps({"keys": [jwk]}), encoding="utf-8")

    def token(self, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "dora",
            "iat": now,
            "exp": now + 300,
            "groups": [],
            "roles": [],
        }
        claims.update(overrides)
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
def provider(tmp_path: Path) -> Provider:
    return Provider(tmp_path / "jwks.json")


def auth_services(tmp_path: Path, auth: AuthSettings) -> Services:
    settings = fake_settings(tmp_path).model_copy(update={"auth": auth})
    svc = build_services(settings, llm=FakeLLM())
    docs = [
        Document(
            source_id=sid,
            title=sid,
            text=text,
            format="markdown",
            language="de",
            content_hash=sha256_bytes(text.encode()),
            acl=acl,
            source="sample",
        )
        for sid, (acl, text) in DOCS.items()
    ]
    svc.knowledge.indexer.sync_documents("sample", docs)
    return svc


@pytest.fixture
def secured(tmp_path: Path, provider: Provider) -> Iterator[tuple[TestClient, Services]]:
    auth = AuthSettings(
        mode="keys+oidc",
        jwks_path=provider.jwks_path,
        issuer=ISSUER,
        audience=AUDIENCE,
        role_map={"lotse-admins": "admin", "helpdesk": "agent"},
    )
    svc = auth_services(tmp_path, auth)
    with TestClient(create_app(services=svc)) as client:
        yield client, svc
    svc.close()


@pytest.fixture
def keys(secured: tuple[TestClient, Services]) -> dict[str, str]:
    store = KeyStore(secured[1].settings.data_dir)
    return {
        role: store.create(f"user-{role}", role, groups)[1]
        for role, groups in (("employee", ()), ("agent", ()), ("admin", ("hr",)))
    }


def call(client: TestClient, method: str, path: str, body: Any, **headers: str) -> Any:
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize("method,path,body", EMPLOYEE_ROUTES + ADMIN_ROUTES)
def test_without_or_with_garbage_credentials_is_401(
    secured: tuple[TestClient, Services], method: str, path: str, body: Any
) -> None:
    client, _ = secured
    missing = call(client, method, path, body)
    assert missing.status_code == 401, missing.text
    assert missing.headers["www-authenticate"] == 'Bearer realm="lotse"'
    assert missing.json()["error"]["code"] == "unauthorized"
    for headers in (
        {"Authorization": "Bearer garbage"},
        {"X-API-Key": "lotse_" + "x" * 43},
        {"Authorization": "Bearer lotse_short"},
    ):
        bad = call(client, method, path, body, **headers)
        assert bad.status_code == 401, (headers, bad.text)
        assert bad.headers["www-authenticate"] == 'Bearer realm="lotse", error="invalid_token"'
        assert set(bad.json()) == {"error"}


@pytest.mark.parametrize("role,admin_status", [("employee", 403), ("agent", 403), ("admin", 200)])
def test_role_matrix_with_api_keys(
    secured: tuple[TestClient, Services], keys: dict[str, str], role: str, admin_status: int
) -> None:
    client, _ = secured
    for method, path, body in EMPLOYEE_ROUTES:
        ok = call(client, method, path, body, Authorization=f"Bearer {keys[role]}")
        assert ok.status_code == 200, (path, ok.text)
    for method, path, body in ADMIN_ROUTES:
        response = call(client, method, path, body, **{"X-API-Key": keys[role]})
        assert response.status_code == admin_status, (path, response.text)
        if admin_status == 403:
            error = response.json()["error"]
            assert error["code"] == "forbidden"
            assert error["message"] == f"this needs the role admin; you have {role}"


def test_role_matrix_with_oidc_tokens(
    secured: tuple[TestClient, Services], provider: Provider
) -> None:
    client, _ = secured
    cases = [([], 403), (["helpdesk"], 403), (["lotse-admins"], 200)]
    for roles, admin_status in cases:
        bearer = {"Authorization": f"Bearer {provider.token(roles=roles)}"}
        assert call(client, "POST", "/v1/search", {"query": "VPN"}, **bearer).status_code == 200
        assert call(client, "GET", "/v1/admin/stats", None, **bearer).status_code == admin_status
    expired = provider.token(exp=int(time.time()) - 3600)
    response = call(client, "GET", "/v1/models", None, Authorization=f"Bearer {expired}")
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_a_revoked_key_stops_working(
    secured: tuple[TestClient, Services], keys: dict[str, str]
) -> None:
    client, svc = secured
    store = KeyStore(svc.settings.data_dir)
    assert (
        call(client, "GET", "/v1/models", None, **{"X-API-Key": keys["agent"]}).status_code == 200
    )
    agent = next(k for k in store.list_keys() if k.user_id == "user-agent")
    store.revoke(agent.key_id)
    assert (
        call(client, "GET", "/v1/models", None, **{"X-API-Key": keys["agent"]}).status_code == 401
    )


def test_public_routes_need_no_credentials(secured: tuple[TestClient, Services]) -> None:
    client, _ = secured
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/").status_code == 200


def hits(client: TestClient, query: str, **headers: str) -> list[str]:
    response = client.post("/v1/search", json={"query": query, "k": 10}, headers=headers)
    assert response.status_code == 200, response.text
    return [h["source_id"] for h in response.json()["results"]]


def test_the_acl_filter_comes_from_the_verified_identity(
    secured: tuple[TestClient, Services], provider: Provider, keys: dict[str, str]
) -> None:
    client, _ = secured
    for query in ("Gehaltsband E3", "salary band E3"):  # German and English
        hr = hits(client, query, Authorization=f"Bearer {provider.token(groups=['hr'])}")
        assert "hr/salary.md" in hr
        other = hits(client, query, Authorization=f"Bearer {provider.token(groups=['sales'])}")
        assert "hr/salary.md" not in other
        # the key of an admin in hr finds it, an employee's key without hr does not
        assert "hr/salary.md" in hits(client, query, **{"X-API-Key": keys["admin"]})
        assert "hr/salary.md" not in hits(client, query, **{"X-API-Key": keys["employee"]})


def test_conversations_belong_to_the_verified_user(
    secured: tuple[TestClient, Services], provider: Provider
) -> None:
    client, _ = secured
    dora = {"Authorization": f"Bearer {provider.token(sub='dora')}"}
    emil = {"Authorization": f"Bearer {provider.token(sub='emil')}"}
    asked = client.post(
        "/v1/chat", json={"message": "Wie verbinde ich das VPN?", "stream": False}, headers=dora
    )
    assert asked.status_code == 200, asked.text
    conversation = asked.json()["conversation_id"]
    assert client.get(f"/v1/conversations/{conversation}", headers=dora).status_code == 200
    assert client.get(f"/v1/conversations/{conversation}", headers=emil).status_code == 404


def test_openapi_documents_401_and_403_on_protected_routes_only(
    secured: tuple[TestClient, Services],
) -> None:
    client, _ = secured
    paths = client.get("/openapi.json").json()["paths"]
    for path, method in (
        ("/v1/ask", "post"),
        ("/v1/chat", "post"),
        ("/v1/search", "post"),
        ("/v1/models", "get"),
        ("/v1/chat/completions", "post"),
        ("/v1/admin/sources", "get"),
        ("/v1/admin/audit", "get"),
        ("/v1/admin/stats", "get"),
    ):
        assert {"401", "403"} <= set(paths[path][method]["responses"]), path
    assert "401" not in paths["/healthz"]["get"]["responses"]
    assert "401" not in paths["/readyz"]["get"]["responses"]


def test_no_auth_mode_refuses_a_public_bind(tmp_path: Path) -> None:
    settings = fake_settings(tmp_path).model_copy(
        update={"api": fake_settings(tmp_path).api.model_copy(update={"host": "0.0.0.0"})}
    )
    with pytest.raises(ConfigurationError, match=r"refusing to serve on 0\.0\.0\.0"):
        create_app(settings)
    public_keys = Settings(
        data_dir=tmp_path / "d",
        api={"host": "0.0.0.0"},
        auth={"mode": "keys"},
    )
    create_app(public_keys)  # with authentication a public bind is fine


def test_no_auth_mode_warns_and_uses_the_dev_role(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    svc = auth_services(tmp_path, AuthSettings(dev_role="employee"))
    try:
        with caplog.at_level("WARNING"), TestClient(create_app(services=svc)) as client:
            assert client.get("/v1/models").status_code == 200
            forbidden = client.get("/v1/admin/stats")
            assert forbidden.status_code == 403
            assert forbidden.json()["error"]["code"] == "forbidden"
            assert "hr/salary.md" not in hits(client, "Gehaltsband E3")
    finally:
        svc.close()
    assert any("auth_disabled mode=none role=employee" in r.message for r in caplog.records)
