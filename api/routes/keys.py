"""Key management over HTTP (``/v1/admin/keys``), for the admin console: the same as
``lotse keys create|list|revoke``.

Admins only. Every action is an audit record (``key_created``, ``keys_viewed``,
``key_revoked``) with the key id, role and groups and the key user's pseudonym, never the
secret: that is in the create response only, once. In auth mode ``none`` the local developer is
admin, so these routes work there too (the keys then only matter once keys are switched on).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from api.auditing import record_admin
from api.auth import Role
from api.deps import CallerDep, ServicesDep, require
from api.errors import responses
from api.keys import KeyStore
from api.schemas_keys import KeyCreate, KeyCreated, KeyInfo, KeyList

router = APIRouter(
    prefix="/v1/admin/keys",
    tags=["keys"],
    dependencies=[require(Role.admin)],
    responses=responses(401, 403),
)


def _store(services: ServicesDep) -> KeyStore:
    return KeyStore(services.settings.data_dir)


@router.get("", response_model=KeyList, summary="Every API key (never a secret), oldest first")
def list_keys(services: ServicesDep, caller: CallerDep) -> KeyList:
    keys = [KeyInfo.of(k) for k in _store(services).list_keys()]
    record_admin(services, caller, "keys_viewed", details={"keys": len(keys)})
    return KeyList(keys=keys, count=len(keys))


@router.post(
    "",
    response_model=KeyCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create a key; its secret is in this response only",
    description="Only a peppered digest of the secret is stored: it cannot be shown again. "
    "Lost keys are revoked and replaced.",
    responses=responses(413, 422),
)
def create_key(body: KeyCreate, services: ServicesDep, caller: CallerDep) -> KeyCreated:
    key, secret = _store(services).create(body.user, body.role, tuple(body.groups))
    record_admin(
        services,
        caller,
        "key_created",
        details={
            "key_id": key.key_id,
            "user": services.audit.pseudonym(key.user_id),
            "role": key.role,
            "groups": list(key.groups),
        },
    )
    return KeyCreated(key=KeyInfo.of(key), secret=secret)


@router.delete(
    "/{key_id}",
    response_model=KeyInfo,
    summary="Revoke a key: it stops working at the next request (idempotent)",
    description="The key stays listed with the time it was revoked. Erasing the user "
    "(`POST /v1/admin/erase`) deletes their keys entirely.",
    responses=responses(404, 422),
)
def revoke_key(
    key_id: Annotated[str, Path(min_length=1, max_length=64, description="The key id.")],
    services: ServicesDep,
    caller: CallerDep,
) -> KeyInfo:
    key = _store(services).revoke(key_id)
    record_admin(
        services,
        caller,
        "key_revoked",
        details={
            "key_id": key.key_id,
            "user": services.audit.pseudonym(key.user_id),
            "role": key.role,
        },
    )
    return KeyInfo.of(key)
