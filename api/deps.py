"""FastAPI dependency aliases: routes receive services, never look them up themselves."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.wiring import Services
from assistant.identity import Caller


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_caller(request: Request) -> Caller:
    """Who is asking. Until authentication exists, everyone is the same anonymous employee;
    the auth layer replaces this one function."""
    return Caller(user_id="anonymous", role="employee")


CallerDep = Annotated[Caller, Depends(get_caller)]
