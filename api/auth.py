"""Who is calling: API keys and OIDC bearer tokens turned into a verified ``Caller``.

Roles are ordered ``employee < agent < admin``; a route names the least role it needs
(``api.deps.require``). The settings section ``auth`` picks the mode:

- ``none``: development only. Every caller is the anonymous user with ``auth.dev_role``;
  refused unless the server binds to a loopback address (``check_bind``).
- ``keys``: ``Authorization: Bearer lotse_…`` or ``X-API-Key: lotse_…`` (``api.keys``).
- ``oidc``: a JWT of the company's identity provider (Keycloak, Entra ID), verified against its
  JWKS (a file, or an https URL fetched on first use and cached) with an allow-list of
  asymmetric algorithms, the exact issuer and audience, ``exp``/``nbf``/``iat`` with a small
  leeway. User, groups and role come from configurable claims.
- ``keys+oidc``: both; a credential that starts with ``lotse_`` is a key, anything else a token.

Missing or failing credentials raise ``Unauthenticated`` (401), a known caller without the
role ``AccessDenied`` (403). Nothing here logs a credential.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from api.keys import KEY_PREFIX, KeyStore
from api.settings import AuthSettings, Settings
from assistant.identity import Caller
from models.errors import AccessDenied, ConfigurationError, StoreError, Unauthenticated

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

ANONYMOUS = "anonymous"
_REFETCH_MIN_S = 30.0  # an unknown kid refetches the JWKS at most this often


class Role(StrEnum):
    employee = "employee"
    agent = "agent"
    admin = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Role.employee: 0, Role.agent: 1, Role.admin: 2}


def allows(role: str, needed: Role) -> bool:
    """Whether a caller with ``role`` may use a route that needs ``needed``."""
    try:
        return Role(role).rank >= needed.rank
    except ValueError:
        return False


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(auth: AuthSettings, host: str) -> None:
    """Mode ``none`` serves only this machine: refuse any other bind address."""
    if auth.mode == "none" and not is_loopback(host):
        raise ConfigurationError(
            f"refusing to serve on {host} without authentication (auth mode 'none' is for "
            "development on this machine only)",
            hint="bind to 127.0.0.1, or set LOTSE_AUTH__MODE=keys (and create keys with "
            "`lotse keys create`) or oidc",
        )


def credential(headers: Mapping[str, str]) -> str | None:
    """The bearer credential of a request: ``Authorization: Bearer X`` or ``X-API-Key: X``."""
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = headers.get("x-api-key", "").strip()
    return key or None


# -- OIDC ---------------------------------------------------------------------------------------
JwkDict = dict[str, Any]


class JwksSource(Protocol):
    """The identity provider's public keys. ``refresh`` asks for a fresh copy (an unknown
    ``kid`` after a key rotation); implementations may rate-limit it."""

    def keys(self, *, refresh: bool = False) -> list[JwkDict]: ...


def parse_jwks(text: str | bytes, origin: str) -> list[JwkDict]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"the JWKS {origin} is not JSON: {exc}") from exc
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
        raise ConfigurationError(f"the JWKS {origin} has no 'keys' list")
    return keys


class FileJwks:
    """A JWKS file, re-read when it changes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp: tuple[int, int] | None = None
        self._keys: list[JwkDict] = []
        self._lock = threading.Lock()

    def keys(self, *, refresh: bool = False) -> list[JwkDict]:
        try:
            stat = self._path.stat()
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the JWKS file {self._path}: {exc}",
                hint="check the setting auth.jwks_path",
            ) from exc
        with self._lock:
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:
                self._keys = parse_jwks(self._path.read_bytes(), str(self._path))
                self._stamp = stamp
            return self._keys


class UrlJwks:
    """A JWKS URL, fetched on first use, cached for ``cache_s``; a failed refetch keeps the
    cached keys."""

    def __init__(
        self,
        url: str,
        *,
        cache_s: float,
        timeout_s: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = url
        self._cache_s = cache_s
        self._timeout_s = timeout_s
        self._transport = transport  # tests: httpx.MockTransport
        self._fetched = float("-inf")
        self._keys: list[JwkDict] | None = None
        self._lock = threading.Lock()

    def keys(self, *, refresh: bool = False) -> list[JwkDict]:
        with self._lock:
            age = time.monotonic() - self._fetched
            stale = age > self._cache_s or (refresh and age > _REFETCH_MIN_S)
            if self._keys is None or stale:
                try:
                    self._keys = self._fetch()
                except StoreError:
                    if self._keys is None:
                        raise
                    logger.warning("jwks_refetch_failed url=%s cached_keys=kept", self._url)
                self._fetched = time.monotonic()
            return self._keys

    def _fetch(self) -> list[JwkDict]:
        import httpx

        try:
            with httpx.Client(timeout=self._timeout_s, transport=self._transport) as client:
                response = client.get(self._url)
                response.raise_for_status()
        except httpx.HTTPError as exc:
            raise StoreError(
                f"cannot fetch the identity provider's keys from {self._url}: {exc}",
                hint="check the setting auth.jwks_url and the network path to the provider",
            ) from exc
        logger.info("jwks_fetched url=%s", self._url)
        return parse_jwks(response.content, self._url)


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by name, or by a dotted path into nested objects (``realm_access.roles``)."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


class OidcVerifier:
    """Verifies a JWT and maps its claims to a ``Caller``."""

    def __init__(self, settings: AuthSettings, jwks: JwksSource) -> None:
        if settings.issuer is None or settings.audience is None:
            raise ConfigurationError("OIDC needs the settings auth.issuer and auth.audience")
        self._s = settings
        self._issuer = settings.issuer
        self._audience = settings.audience
        self._jwks = jwks

    def _key(self, header: Mapping[str, Any]) -> Any:
        import jwt

        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._s.algorithms:
            raise Unauthenticated(f"token algorithm {alg!r} is not accepted")
        kid = header.get("kid")
        for refresh in (False, True):
            candidates = [
                k
                for k in self._jwks.keys(refresh=refresh)
                if k.get("use", "sig") == "sig" and (kid is None or k.get("kid") == kid)
            ]
            if candidates:
                break
        else:
            raise Unauthenticated("token signed by an unknown key")
        if len(candidates) != 1:
            raise Unauthenticated("token names no key id, and the key set has several keys")
        jwk = candidates[0]
        if jwk.get("kty") == "oct" or jwk.get("alg", alg) != alg:
            raise Unauthenticated(f"token algorithm {alg} does not fit its key")
        try:
            return jwt.PyJWK(jwk, algorithm=alg).key
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"token algorithm {alg} does not fit its key") from exc

    def verify(self, token: str) -> Caller:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
            key = self._key(header)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[str(header["alg"])],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._s.leeway_s,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the bearer token is not valid: {exc}") from exc
        user = _claim(claims, self._s.user_claim)
        if not isinstance(user, str) or not user:
            raise Unauthenticated(f"the token has no user claim {self._s.user_claim!r}")
        groups = _strings(_claim(claims, self._s.group_claim))
        values = (*_strings(_claim(claims, self._s.role_claim)), *groups)
        mapped = [Role(self._s.role_map[v]) for v in values if v in self._s.role_map]
        if mapped:
            role = max(mapped, key=lambda r: r.rank)
        elif self._s.default_role is not None:
            role = Role(self._s.default_role)
        else:
            raise AccessDenied(
                f"the user {user} has no Lotse role",
                hint="ask the administrator to map one of your roles or groups (auth.role_map)",
            )
        return Caller(user_id=user, role=role.value, groups=tuple(sorted(set(groups))))


# -- the authenticator --------------------------------------------------------------------------
class Authenticator:
    """Turns a request's headers into a verified caller, according to ``auth.mode``."""

    def __init__(
        self,
        settings: AuthSettings,
        *,
        keys: KeyStore | None = None,
        oidc: OidcVerifier | None = None,
    ) -> None:
        self.settings = settings
        self._keys = keys
        self._oidc = oidc

    @property
    def mode(self) -> str:
        return self.settings.mode

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        if self.settings.mode == "none":
            return Caller(
                user_id=ANONYMOUS, role=self.settings.dev_role, groups=self.settings.dev_groups
            )
        secret = credential(headers)
        if secret is None:
            raise Unauthenticated(
                "this request needs credentials",
                hint="send 'Authorization: Bearer <API key or token>' (or 'X-API-Key')",
                invalid=False,
            )
        if self._keys is not None and (secret.startswith(KEY_PREFIX) or self._oidc is None):
            key = self._keys.verify(secret)
            if key is None:
                raise Unauthenticated(
                    "the API key is unknown or revoked",
                    hint="`lotse keys list` shows the active keys; create one with "
                    "`lotse keys create`",
                )
            return Caller(user_id=key.user_id, role=key.role, groups=key.groups)
        if self._oidc is None:
            raise Unauthenticated("the credential is not valid")
        return self._oidc.verify(secret)


def build_authenticator(settings: Settings) -> Authenticator:
    """The authenticator the settings describe (no file or network access yet)."""
    auth = settings.auth
    keys = KeyStore(settings.data_dir) if "keys" in auth.mode else None
    oidc = None
    if "oidc" in auth.mode:
        jwks: JwksSource
        if auth.jwks_path is not None:
            jwks = FileJwks(auth.jwks_path)
        elif auth.jwks_url is not None:
            jwks = UrlJwks(auth.jwks_url, cache_s=auth.jwks_cache_s, timeout_s=auth.jwks_timeout_s)
        else:
            raise ConfigurationError("auth mode oidc needs auth.jwks_path or auth.jwks_url")
        oidc = OidcVerifier(auth, jwks)
    return Authenticator(auth, keys=keys, oidc=oidc)
