"""``GET /v1/me``: who the server thinks the caller is.

The portal asks this once after login (and at every page load) to decide which views to show:
Chat for everyone, the agent workspace from ``agent``, the admin console for ``admin``. The
answer is the verified identity only (never the credential), so showing it is harmless; the
routes behind each view still check the role themselves.
"""

from __future__ import annotations

from typing import Literal, cast

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Authenticator, Role
from api.deps import CallerDep, require
from api.errors import responses

router = APIRouter(
    tags=["auth"], dependencies=[require(Role.employee)], responses=responses(401, 403)
)

AuthMode = Literal["none", "keys", "oidc", "keys+oidc"]
RoleName = Literal["employee", "agent", "admin"]


class MeResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"user_id": "alice", "role": "agent", "groups": ["hr"], "auth_mode": "keys"}
            ]
        }
    )

    user_id: str = Field(description="The verified user id ('anonymous' in auth mode none).")
    role: RoleName
    groups: list[str] = Field(description="ACL groups whose documents this caller may see.")
    auth_mode: AuthMode = Field(description="The server's auth mode (settings auth.mode).")


@router.get(
    "/v1/me",
    response_model=MeResponse,
    summary="The caller's verified user id, role and groups (for the portal's navigation)",
)
def me(request: Request, caller: CallerDep) -> MeResponse:
    authenticator: Authenticator = request.app.state.authenticator
    return MeResponse(
        user_id=caller.user_id,
        role=Role(caller.role).value,
        groups=list(caller.groups),
        auth_mode=cast(AuthMode, authenticator.mode),
    )
