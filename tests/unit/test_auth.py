"""API keys, OIDC token verification and the no-auth guard, without HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError
from typer.testing import CliRunner

from api.auth import (
    Authenticator,
    FileJwks,
    OidcVerifier,
    Role,
    UrlJwks,
    allows,
    build_authenticator,
    check_bind,
    credential,
    is_loopback,
)
from api.cli import app
from api.keys import KEYS_FILE, PEPPER_FILE, KeyStore
from api.settings import AuthSettings, Settings
from assistant.identity import Caller
from models.errors import (
    AccessDenied,
    ConfigurationError,
    InvalidInput,
    NotFound,
    StoreError,
    Unauthenticated,
)

ISSUER = "https://sso.nordwind.example/realms/company"
AUDIENCE = "lotse"


# -- fixtures: an identity provider made up in the test -------------------------------------------
class Provider:
    """An RSA signing key, its JWKS file, and tokens signed with it."""

    def __init__(self, tmp_path: Path, kid: str = "key-1") -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
        self.jwks_path = tmp_path / "jwks.json"
        self.jwks_path.write_text(json.dumps({"keys": [jwk]}), encoding="utf-8")
        self.public_pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "alice",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "groups": ["hr", "staff"],
            "realm_access": {"roles": ["helpdesk"]},
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, *, kid: str | None = None, **overrides: Any) -> str:
        return jwt.encode(
            self.claims(**overrides),
            self.private,
            algorithm="RS256",
            headers={"kid": kid or self.kid},
        )


def oidc_settings(provider: Provider, **overrides: Any) -> AuthSettings:
    values: dict[str, Any] = {
        "mode": "oidc",
        "jwks_path": provider.jwks_path,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "role_claim": "realm_access.roles",
        "role_map": {"helpdesk": "agent", "it-admins": "admin"},
    }
    values.update(overrides)
    return AuthSettings(**values)


@pytest.fixture
def provider(tmp_path: Path) -> Provider:
    return Provider(tmp_path)


@pytest.fixture
def verifier(provider: Provider) -> OidcVerifier:
    settings = oidc_settings(provider)
    return OidcVerifier(settings, FileJwks(provider.jwks_path))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# -- roles and the bind guard ------------------------------------------------------------------
def test_roles_are_ordered_employee_agent_admin() -> None:
    assert [allows(r, Role.employee) for r in ("employee", "agent", "admin")] == [True] * 3
    assert [allows(r, Role.agent) for r in ("employee", "agent", "admin")] == [False, True, True]
    assert [allows(r, Role.admin) for r in ("employee", "agent", "admin")] == [False, False, True]
    assert allows("superuser", Role.employee) is False


def test_no_auth_mode_only_binds_to_loopback() -> None:
    none = AuthSettings()
    for host in ("127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.2"):
        check_bind(none, host)
    for host in ("0.0.0.0", "10.0.0.5", "::", "lotse.nordwind.example"):
        with pytest.raises(ConfigurationError, match="without authentication"):
            check_bind(none, host)
    check_bind(AuthSettings(mode="keys"), "0.0.0.0")
    assert is_loopback("192.168.1.1") is False


def test_no_auth_mode_caller_is_the_anonymous_dev_role() -> None:
    auth = Authenticator(AuthSettings(dev_role="employee", dev_groups=("it",)))
    caller = auth.authenticate({"authorization": "Bearer whatever"})
    assert caller == Caller(user_id="anonymous", role="employee", groups=("it",))
    assert Authenticator(AuthSettings()).authenticate({}).role == "admin"


def test_credentials_come_from_bearer_or_x_api_key() -> None:
    assert credential({"authorization": "Bearer abc"}) == "abc"
    assert credential({"authorization": "bearer  abc "}) == "abc"
    assert credential({"x-api-key": "lotse_x"}) == "lotse_x"
    assert credential({"authorization": "Basic dXNlcjpwdw=="}) is None
    assert credential({"authorization": "Bearer "}) is None
    assert credential({}) is None


def test_oidc_settings_need_a_key_set_issuer_and_audience(provider: Provider) -> None:
    with pytest.raises(ValidationError, match="jwks_path, jwks_url"):
        AuthSettings(mode="oidc", issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(ValidationError, match="issuer and audience"):
        AuthSettings(mode="keys+oidc", jwks_path=provider.jwks_path)
    with pytest.raises(ValidationError, match="https"):
        AuthSettings(jwks_url="http://sso.example/jwks")
    with pytest.raises(ValidationError):
        AuthSettings(algorithms=("HS256",))
    with pytest.raises(ValidationError):
        AuthSettings(algorithms=("none",))


# -- API keys ----------------------------------------------------------------------------------
def test_keys_are_created_verified_listed_and_revoked(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "data")
    assert store.list_keys() == [] and store.verify("lotse_" + "a" * 43) is None
    key, secret = store.create("alice", "agent", ("hr", "hr", "staff"))
    assert secret.startswith("lotse_") and len(secret) == 6 + 43
    assert (key.user_id, key.role, key.groups, key.revoked) == (
        "alice",
        "agent",
        ("hr", "staff"),
        None,
    )
    assert store.verify(secret) == key
    flipped = secret[:-1] + ("B" if secret[-1] == "A" else "A")
    assert store.verify(secret + "x") is None and store.verify(flipped) is None
    assert store.verify("garbage") is None

    # only the peppered digest is stored: neither the secret nor its plain sha256 is on disk
    raw = (tmp_path / "data" / KEYS_FILE).read_bytes()
    assert secret.encode() not in raw
    assert hashlib.sha256(secret.encode()).hexdigest().encode() not in raw
    assert (tmp_path / "data" / PEPPER_FILE).stat().st_mode & 0o777 == 0o600

    other, other_secret = store.create("bob", "employee")
    assert [k.key_id for k in store.list_keys()] == [key.key_id, other.key_id]
    revoked = store.revoke(key.key_id)
    assert revoked.revoked is not None
    assert store.verify(secret) is None and store.verify(other_secret) == other
    assert store.revoke(key.key_id).revoked == revoked.revoked  # idempotent
    assert [k.revoked is None for k in store.list_keys()] == [False, True]
    with pytest.raises(NotFound, match="no API key k_missing"):
        store.revoke("k_missing")


def test_key_creation_rejects_bad_roles_and_names(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    with pytest.raises(InvalidInput, match="role 'root'"):
        store.create("alice", "root")
    with pytest.raises(InvalidInput, match="user"):
        store.create("al ice", "employee")
    with pytest.raises(InvalidInput, match="group"):
        store.create("alice", "employee", ("",))


def test_a_second_install_pepper_makes_keys_useless_elsewhere(tmp_path: Path) -> None:
    _, secret = KeyStore(tmp_path / "a").create("alice", "admin")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / KEYS_FILE).write_bytes((tmp_path / "a" / KEYS_FILE).read_bytes())
    (tmp_path / "b" / PEPPER_FILE).write_bytes(b"another install's pepper.........")
    assert KeyStore(tmp_path / "b").verify(secret) is None


def test_keys_authenticator(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth={"mode": "keys"})
    auth = build_authenticator(settings)
    _, secret = KeyStore(tmp_path).create("bob", "employee", ("finance",))
    assert auth.authenticate({"x-api-key": secret}) == Caller("bob", "employee", ("finance",))
    assert auth.authenticate({"authorization": f"Bearer {secret}"}).user_id == "bob"
    with pytest.raises(Unauthenticated) as missing:
        auth.authenticate({})
    assert missing.value.invalid is False
    with pytest.raises(Unauthenticated, match="unknown or revoked") as bad:
        auth.authenticate({"authorization": "Bearer lotse_nope"})
    assert bad.value.invalid is True


def test_cli_keys_create_list_revoke(tmp_path: Path) -> None:
    env = {"LOTSE_DATA_DIR": str(tmp_path / "data"), "LOTSE_LOG_LEVEL": "WARNING"}
    runner = CliRunner()
    created = runner.invoke(
        app,
        [
            "keys",
            "create",
            "--user",
            "carla",
            "--role",
            "admin",
            "--groups",
            "hr",
            "--groups",
            "it",
        ],
        env=env,
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("lotse_") and len(secret) == 49
    assert "shown only now" in created.stderr

    listed = runner.invoke(app, ["keys", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["user_id"], r["role"], r["groups"], r["revoked"]) for r in rows] == [
        ("carla", "admin", ["hr", "it"], None)
    ]
    assert secret not in listed.stdout
    table = runner.invoke(app, ["keys", "list"], env=env)
    assert rows[0]["key_id"] in table.stdout and secret not in table.stdout

    store = KeyStore(tmp_path / "data")
    assert store.verify(secret) is not None
    revoked = runner.invoke(app, ["keys", "revoke", rows[0]["key_id"]], env=env)
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked key {rows[0]['key_id']} of carla" in revoked.stdout
    assert store.verify(secret) is None

    missing = runner.invoke(app, ["keys", "revoke", "k_nothere"], env=env)
    assert missing.exit_code == 1 and "no API key k_nothere" in missing.stderr
    bad_role = runner.invoke(app, ["keys", "create", "--user", "x", "--role", "root"], env=env)
    assert bad_role.exit_code == 2


def test_cli_serve_refuses_a_public_bind_without_auth(tmp_path: Path) -> None:
    env = {"LOTSE_DATA_DIR": str(tmp_path / "data"), "LOTSE_LOG_LEVEL": "WARNING"}
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "1"], env=env)
    assert result.exit_code == 1
    assert "refusing to serve on 0.0.0.0 without authentication" in result.stderr
    assert not (tmp_path / "data").exists()


# -- OIDC --------------------------------------------------------------------------------------
def test_a_valid_token_maps_user_groups_and_role(
    verifier: OidcVerifier, provider: Provider
) -> None:
    caller = verifier.verify(provider.token())
    assert caller == Caller(user_id="alice", role="agent", groups=("hr", "staff"))
    # a group can map to a role too; the highest role wins
    admin = verifier.verify(provider.token(groups=["it-admins"]))
    assert (admin.role, admin.groups) == ("admin", ("it-admins",))
    # no mapping: the default role; no groups claim: no groups
    plain = verifier.verify(provider.token(sub="bob", groups=None, realm_access=None))
    assert plain == Caller(user_id="bob", role="employee", groups=())


def test_user_and_group_claims_are_configurable(provider: Provider) -> None:
    settings = oidc_settings(
        provider, user_claim="preferred_username", group_claim="grp", default_role=None
    )
    verifier = OidcVerifier(settings, FileJwks(provider.jwks_path))
    caller = verifier.verify(provider.token(preferred_username="a.meier", grp="it-admins"))
    assert caller == Caller(user_id="a.meier", role="admin", groups=("it-admins",))
    with pytest.raises(AccessDenied, match="no Lotse role"):
        verifier.verify(provider.token(preferred_username="x", grp=[], realm_access=None))
    with pytest.raises(Unauthenticated, match="no user claim"):
        verifier.verify(provider.token())


def test_an_expired_token_within_the_leeway_still_works(
    verifier: OidcVerifier, provider: Provider
) -> None:
    now = int(time.time())
    assert verifier.verify(provider.token(exp=now - 10)).user_id == "alice"


def forged_tokens(provider: Provider) -> dict[str, str]:
    now = int(time.time())
    good = provider.token()
    head, payload, signature = good.split(".")
    claims = provider.claims(realm_access={"roles": ["it-admins"]})
    tampered = f"{head}.{b64(json.dumps(claims).encode())}.{signature}"
    none_alg = (
        b64(json.dumps({"alg": "none", "typ": "JWT", "kid": provider.kid}).encode())
        + "."
        + b64(json.dumps(provider.claims()).encode())
        + "."
    )
    hs_header = {"alg": "HS256", "typ": "JWT", "kid": provider.kid}
    signing_input = (
        b64(json.dumps(hs_header).encode()) + "." + b64(json.dumps(provider.claims()).encode())
    )
    mac = hmac.new(provider.public_pem, signing_input.encode(), hashlib.sha256).digest()
    hs256_public_key = signing_input + "." + b64(mac)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "alg none": none_alg,
        "HS256 with the public key as secret": hs256_public_key,
        "wrong audience": provider.token(aud="another-app"),
        "wrong issuer": provider.token(iss="https://evil.example/realms/company"),
        "expired": provider.token(exp=now - 120, iat=now - 600, nbf=now - 600),
        "not yet valid": provider.token(nbf=now + 600),
        "no expiry": provider.token(exp=None),
        "unknown kid": provider.token(kid="key-2"),
        "same kid, other key": jwt.encode(
            provider.claims(), other_key, algorithm="RS256", headers={"kid": provider.kid}
        ),
        "tampered payload": tampered,
        "garbage": "not.a.token",
        "empty signature": f"{head}.{payload}.",
    }


REJECTIONS = {
    "alg none": "token algorithm 'none' is not accepted",
    "HS256 with the public key as secret": "token algorithm 'HS256' is not accepted",
    "wrong audience": "Audience doesn't match",
    "wrong issuer": "Invalid issuer",
    "expired": "Signature has expired",
    "not yet valid": "not yet valid (nbf)",
    "no expiry": 'missing the "exp" claim',
    "unknown kid": "token signed by an unknown key",
    "same kid, other key": "Signature verification failed",
    "tampered payload": "Signature verification failed",
    "garbage": "the bearer token is not valid",
    "empty signature": "Signature verification failed",
}


def test_forged_tokens_are_all_rejected(verifier: OidcVerifier, provider: Provider) -> None:
    forged = forged_tokens(provider)
    assert set(forged) == set(REJECTIONS)
    reasons: dict[str, str] = {}
    for name, token in forged.items():
        try:
            verifier.verify(token)
        except Unauthenticated as exc:
            assert exc.invalid is True
            reasons[name] = exc.message
        else:
            reasons[name] = "ACCEPTED"
    assert {n: REJECTIONS[n] in reasons[n] for n in forged} == dict.fromkeys(forged, True), reasons
    # the untampered token is fine: the rejections above are the forgeries' fault
    assert verifier.verify(provider.token()).role == "agent"


def test_the_jwks_file_is_reread_after_a_key_rotation(tmp_path: Path) -> None:
    old = Provider(tmp_path)
    verifier = OidcVerifier(oidc_settings(old), FileJwks(old.jwks_path))
    assert verifier.verify(old.token()).user_id == "alice"
    time.sleep(0.01)
    new = Provider(tmp_path, kid="key-2")  # writes the same jwks.json path with a new key
    assert verifier.verify(new.token()).user_id == "alice"
    with pytest.raises(Unauthenticated, match="unknown key"):
        verifier.verify(old.token())


def test_a_missing_jwks_file_is_a_configuration_error(provider: Provider) -> None:
    verifier = OidcVerifier(oidc_settings(provider), FileJwks(provider.jwks_path.with_name("x")))
    with pytest.raises(ConfigurationError, match="cannot read the JWKS file"):
        verifier.verify(provider.token())


def test_keys_plus_oidc_accepts_both(tmp_path: Path, provider: Provider) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        auth=oidc_settings(provider, mode="keys+oidc"),
    )
    auth = build_authenticator(settings)
    _, secret = KeyStore(tmp_path / "data").create("svc-bot", "employee")
    assert auth.authenticate({"x-api-key": secret}).user_id == "svc-bot"
    assert auth.authenticate({"authorization": f"Bearer {provider.token()}"}).user_id == "alice"
    with pytest.raises(Unauthenticated):
        auth.authenticate({"authorization": "Bearer lotse_" + "b" * 43})


def test_a_jwks_url_is_fetched_once_cached_and_refetched_for_a_new_kid(
    provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests: list[str] = []
    content = provider.jwks_path.read_bytes()
    status = [200]

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(str(request.url))
        return httpx.Response(status[0], content=content)

    url = "https://sso.nordwind.example/realms/company/protocol/openid-connect/certs"
    jwks = UrlJwks(url, cache_s=300, timeout_s=1, transport=httpx.MockTransport(handler))
    verifier = OidcVerifier(oidc_settings(provider, jwks_path=None, jwks_url=url), jwks)
    assert requests == []  # nothing is fetched before the first token
    assert verifier.verify(provider.token()).user_id == "alice"
    assert verifier.verify(provider.token()).user_id == "alice"
    assert requests == [url]
    # an unknown kid may refetch, but at most every 30 seconds
    with pytest.raises(Unauthenticated, match="unknown key"):
        verifier.verify(provider.token(kid="rotated"))
    assert requests == [url]
    clock = [time.monotonic() + 31]
    monkeypatch.setattr("api.auth.time.monotonic", lambda: clock[0])
    status[0] = 503  # the provider is down: the cached keys still work
    with pytest.raises(Unauthenticated, match="unknown key"):
        verifier.verify(provider.token(kid="rotated"))
    assert requests == [url, url]
    assert verifier.verify(provider.token()).user_id == "alice"


def test_an_unreachable_jwks_url_without_cached_keys_is_a_store_error(provider: Provider) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    url = "https://sso.nordwind.example/certs"
    jwks = UrlJwks(url, cache_s=300, timeout_s=1, transport=httpx.MockTransport(handler))
    verifier = OidcVerifier(oidc_settings(provider, jwks_path=None, jwks_url=url), jwks)
    with pytest.raises(StoreError, match="cannot fetch the identity provider's keys"):
        verifier.verify(provider.token())
