"""Request and response models of the key management API (``/v1/admin/keys``).

The secret of a key appears in exactly one response, the one that creates it; listings and the
audit log carry only the key id.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from api.keys import ApiKey

_NAME = r"^[^\s\x00-\x1f]+$"  # as ``api.keys`` checks: no spaces or control characters
Group = Annotated[str, Field(min_length=1, max_length=200, pattern=_NAME)]
RoleName = Literal["employee", "agent", "admin"]
_KEY_EXAMPLE: JsonDict = {
    "key_id": "k_3f9a1c0b2d4e",
    "user_id": "alice",
    "role": "agent",
    "groups": ["hr"],
    "created": "2025-03-01T08:00:00+00:00",
    "revoked": None,
}


class KeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"user": "alice", "role": "agent", "groups": ["hr"]}]},
    )

    user: str = Field(
        min_length=1,
        max_length=200,
        pattern=_NAME,
        description="The user the key stands for (recorded as their user id).",
        examples=["alice"],
    )
    role: RoleName = Field("employee", description="The key's role.")
    groups: list[Group] = Field(
        default_factory=list,
        max_length=100,
        description="ACL groups of the user: which documents retrieval may show them.",
        examples=[["hr"]],
    )


class KeyInfo(BaseModel):
    """One key, without its secret."""

    model_config = ConfigDict(json_schema_extra={"examples": [_KEY_EXAMPLE]})

    key_id: str = Field(description="The key's id (not secret).")
    user_id: str
    role: RoleName
    groups: list[str]
    created: str = Field(description="When the key was created (UTC, ISO 8601).")
    revoked: str | None = Field(description="When it was revoked; null while it works.")

    @classmethod
    def of(cls, key: ApiKey) -> KeyInfo:
        return cls.model_validate(
            {
                "key_id": key.key_id,
                "user_id": key.user_id,
                "role": key.role,
                "groups": list(key.groups),
                "created": key.created,
                "revoked": key.revoked,
            }
        )


class KeyList(BaseModel):
    keys: list[KeyInfo] = Field(description="Every key, revoked ones included, oldest first.")
    count: int = Field(ge=0)


class KeyCreated(BaseModel):
    """The new key and its secret: shown in this response only, never again."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "key": _KEY_EXAMPLE,
                    "secret": "lotse_" + "x" * 43,
                }
            ]
        }
    )

    key: KeyInfo
    secret: str = Field(
        description="The key to send as 'Authorization: Bearer …' or 'X-API-Key'. Only a "
        "peppered digest is stored: copy it now, it cannot be shown again."
    )
