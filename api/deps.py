"""FastAPI dependency aliases: routes receive services, never look them up themselves.

``get_caller`` and ``require`` are also where access is audited, so that no route can forget it:

- Every refusal is an ``access_denied`` record with the decision ``refused``: a 401 (no
  credentials, or ones that do not verify) and a 403 (the role is too low, or the identity
  provider's user has no Lotse role). Its details: status, reason, HTTP method and path, the
  role the route needs and the caller's role. A 401 has no known actor: it is recorded as the
  user ``anonymous`` with the role ``none``, and only the *kind* of failure is kept
  (``missing``, ``invalid_key``, ``invalid_token``), never the credential itself.
- An unauthenticated client cannot fill the log: refusals without a verified actor are recorded
  at most once per minute per client and reason; the next record counts the ones left out
  (``repeats``). The client is recorded as a pseudonym, like every actor.
- The first successful use of an API key (per key) or of an OIDC subject (per user) in this
  process is a ``login`` record with the method and the key id (never the secret); later
  requests with the same key or subject are not recorded again.

A refusal whose record cannot be written is logged and still answered with 401/403, never 500.
The per-process state (flood windows, logins seen) is one ``AccessAudit`` per app.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from starlette.concurrency import run_in_threadpool

from api.auth import ANONYMOUS, Authenticator, Role, allows, credential
from api.keys import KEY_PREFIX, KeyStore
from api.wiring import Services
from assistant.audit import AuditEvent
from assistant.identity import Caller
from models.errors import AccessDenied, LotseError, Unauthenticated

logger = logging.getLogger(__name__)

NO_ROLE = "none"  # the recorded role of a caller whose identity was not verified
FLOOD_WINDOW_S = 60.0
MAX_FLOOD_CLIENTS = 1024  # more distinct clients at once share one window per reason


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


# -- the per-process access audit state ---------------------------------------------------------
@dataclass
class _Window:
    started: float
    repeats: int = 0


class AccessAudit:
    """Which unverified refusals to record (the flood guard) and which logins were seen.

    ``admit(client, reason)`` returns ``None`` while a window of ``window_s`` for this client
    and reason is open (the refusal is only counted), else the count left out since the last
    record. ``first_login(identity)`` is true once per identity until ``forget_login``.
    Thread-safe; ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        window_s: float = FLOOD_WINDOW_S,
        max_clients: int = MAX_FLOOD_CLIENTS,
    ) -> None:
        self._clock = clock
        self._window_s = window_s
        self._max_clients = max_clients
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], _Window] = {}
        self._logins: set[str] = set()

    def admit(self, client: str, reason: str) -> int | None:
        now = self._clock()
        with self._lock:
            key = (client, reason)
            window = self._windows.get(key)
            if window is None and len(self._windows) >= self._max_clients:
                # drop closed windows; counts of those not yet reported are lost (many clients)
                self._windows = {
                    k: w for k, w in self._windows.items() if now - w.started < self._window_s
                }
                if len(self._windows) >= self._max_clients:
                    key = ("*", reason)
                    window = self._windows.get(key)
            if window is not None and now - window.started < self._window_s:
                window.repeats += 1
                return None
            self._windows[key] = _Window(started=now)
            return 0 if window is None else window.repeats

    def first_login(self, identity: str) -> bool:
        with self._lock:
            if identity in self._logins:
                return False
            self._logins.add(identity)
            return True

    def forget_login(self, identity: str) -> None:
        with self._lock:
            self._logins.discard(identity)


def access_audit(app: FastAPI) -> AccessAudit:
    """The app's ``AccessAudit``, made at first use. Called on the event loop only (from the
    async dependencies below), so two requests cannot both make one."""
    state: AccessAudit | None = getattr(app.state, "access_audit", None)
    if state is None:
        state = AccessAudit()
        app.state.access_audit = state
    return state


# -- recording ------------------------------------------------------------------------------------
def _append(request: Request, event: AuditEvent) -> bool:
    """Append ``event``; a failure is logged, never raised (the refusal or answer matters more)."""
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        logger.error("audit_record_failed event=%s error=no services", event.event)
        return False
    try:
        services.audit.append(event)
    except Exception as exc:  # a 401/403 must stay a 401/403, never become a 500
        logger.error("audit_record_failed event=%s error=%s", event.event, exc)
        return False
    return True


def _pseudonym(request: Request, value: str) -> str:
    services: Services | None = getattr(request.app.state, "services", None)
    return services.audit.pseudonym(value) if services is not None else ""


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


def needed_role(request: Request) -> str | None:
    """The least role the matched route needs (the highest of its ``require``s), if any."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if not isinstance(dependant, Dependant):
        return None
    roles = [d.call.needed for d in _walk(dependant) if isinstance(d.call, RoleCheck)]
    return max(roles, key=lambda r: r.rank).value if roles else None


def _refusal(
    request: Request,
    *,
    status: int,
    reason: str,
    needed: str | None,
    user_id: str = ANONYMOUS,
    role: str = NO_ROLE,
    extra: Mapping[str, object] | None = None,
) -> AuditEvent:
    return AuditEvent(
        event="access_denied",
        user_id=user_id,
        role=role,
        request_id=uuid.uuid4().hex,
        decision="refused",
        details={
            "status": status,
            "reason": reason,
            "method": request.method,
            "path": request.url.path,
            "needed_role": needed,
            "actual_role": role,
            **(extra or {}),
        },
    )


def record_unverified_refusal(request: Request, status: int, reason: str) -> None:
    """A 401 (or a 403 before any Lotse identity exists), through the flood guard."""
    host = request.client.host if request.client is not None else "unknown"
    repeats = access_audit(request.app).admit(host, reason)
    if repeats is None:
        return
    extra: dict[str, object] = {"client": _pseudonym(request, f"client:{host}")}
    if repeats:
        extra["repeats"] = repeats  # refusals of this client and reason left out before this one
    auth: Authenticator = request.app.state.authenticator
    extra["auth_mode"] = auth.mode
    _append(
        request,
        _refusal(request, status=status, reason=reason, needed=needed_role(request), extra=extra),
    )


def _failure_kind(request: Request, exc: Unauthenticated) -> str:
    if not exc.invalid:
        return "missing"
    secret = credential(request.headers) or ""
    return "invalid_key" if secret.startswith(KEY_PREFIX) else "invalid_token"


def _login_identity(authenticator: Authenticator, secret: str, caller: Caller) -> tuple[str, str]:
    """(method, identity) of a verified credential, mirroring ``Authenticator.authenticate``:
    a key's identity is a digest of it (one per key), a token's is its subject."""
    mode = authenticator.mode
    if "keys" in mode and (secret.startswith(KEY_PREFIX) or "oidc" not in mode):
        return "key", "key:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()
    return "oidc", "oidc:" + caller.user_id


def record_login(request: Request, method: str, identity: str, secret: str, caller: Caller) -> None:
    details: dict[str, object] = {"auth_method": method, "path": request.url.path}
    if method == "key":
        services: Services = request.app.state.services
        try:
            key = KeyStore(services.settings.data_dir).verify(secret)
        except LotseError as exc:  # it verified a moment ago; the login still counts
            logger.error("login_key_lookup_failed error=%s", exc)
            key = None
        details["key_id"] = None if key is None else key.key_id
    event = AuditEvent(
        event="login",
        user_id=caller.user_id,
        role=caller.role,
        request_id=uuid.uuid4().hex,
        details=details,
    )
    if not _append(request, event):
        access_audit(request.app).forget_login(identity)  # try again at the next request


# -- the dependencies -----------------------------------------------------------------------------
async def get_caller(request: Request) -> Caller:
    """Who is asking, verified by the app's ``Authenticator`` (``api.auth``); 401 otherwise.
    Resolved once per request, however many dependencies ask. Refusals and first logins are
    audited (see the module docstring)."""
    authenticator: Authenticator = request.app.state.authenticator
    audit = access_audit(request.app)
    try:
        caller = await run_in_threadpool(authenticator.authenticate, request.headers)
    except Unauthenticated as exc:
        reason = _failure_kind(request, exc)
        logger.warning(
            "auth_failed path=%s mode=%s reason=%s", request.url.path, authenticator.mode, reason
        )
        await run_in_threadpool(record_unverified_refusal, request, 401, reason)
        raise
    except AccessDenied:
        logger.warning("auth_forbidden path=%s reason=no_role", request.url.path)
        await run_in_threadpool(record_unverified_refusal, request, 403, "no_role")
        raise
    if authenticator.mode != "none":
        secret = credential(request.headers) or ""
        method, identity = _login_identity(authenticator, secret, caller)
        if audit.first_login(identity):
            await run_in_threadpool(record_login, request, method, identity, secret, caller)
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


class RoleCheck:
    """The dependency ``require`` returns; ``needed`` tells ``needed_role`` what a route needs."""

    def __init__(self, needed: Role) -> None:
        self.needed = needed

    async def __call__(self, request: Request, caller: CallerDep) -> Caller:
        if not allows(caller.role, self.needed):
            logger.warning(
                "auth_forbidden path=%s role=%s needed=%s",
                request.url.path,
                caller.role,
                self.needed,
            )
            event = _refusal(
                request,
                status=403,
                reason="role",
                needed=self.needed.value,
                user_id=caller.user_id,
                role=caller.role,
            )
            await run_in_threadpool(_append, request, event)
            raise AccessDenied(
                f"this needs the role {self.needed.value}; you have {caller.role}",
                hint="ask an administrator for the role",
            )
        return caller


def require(role: Role) -> Any:
    """The dependency a router or route declares: the caller needs at least ``role``
    (employee < agent < admin); 403 otherwise."""
    return Depends(RoleCheck(role))
