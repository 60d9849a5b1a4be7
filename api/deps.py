"""FastAPI dependency aliases: routes receive services, never look them up themselves."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, Request

from api.auth import Authenticator, Role, allows
from api.wiring import Services
from assistant.identity import Caller
from models.errors import AccessDenied, Unauthenticated

logger = logging.getLogger(__name__)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_caller(request: Request) -> Caller:
    """Who is asking, verified by the app's ``Authenticator`` (``api.auth``); 401 otherwise.
    Resolved once per request, however many dependencies ask."""
    authenticator: Authenticator = request.app.state.authenticator
    try:
        return authenticator.authenticate(request.headers)
    except Unauthenticated as exc:
        logger.warning(
            "auth_failed path=%s mode=%s reason=%s",
            request.url.path,
            authenticator.mode,
            "missing" if not exc.invalid else "invalid",
        )
        raise


CallerDep = Annotated[Caller, Depends(get_caller)]


def require(role: Role) -> Any:
    """The dependency a router or route declares: the caller needs at least ``role``
    (employee < agent < admin); 403 otherwise."""

    async def check(request: Request, caller: CallerDep) -> Caller:
        if not allows(caller.role, role):
            logger.warning(
                "auth_forbidden path=%s role=%s needed=%s", request.url.path, caller.role, role
            )
            raise AccessDenied(
                f"this needs the role {role.value}; you have {caller.role}",
                hint="ask an administrator for the role",
            )
        return caller

    return Depends(check)
