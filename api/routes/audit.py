"""Admin routes of the audit log: read it (filtered), verify it, sign a checkpoint.

Reading the log is itself recorded (``audit_viewed``), after the read, so a page never
contains its own access record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.auditing import record_admin
from api.auth import Role
from api.deps import CallerDep, ServicesDep, require
from api.errors import responses
from api.schemas_audit import (
    AuditList,
    AuditRecordOut,
    AuditVerifyRequest,
    AuditVerifyResponse,
    CheckpointOut,
)
from assistant.audit import EventType, verify_recorded

router = APIRouter(
    prefix="/v1/admin/audit",
    tags=["audit"],
    dependencies=[require(Role.admin)],
    responses=responses(401, 403),
)


@router.get(
    "",
    response_model=AuditList,
    summary="Audit records, newest first, filtered by event type and time",
    responses=responses(422),
)
def list_audit(
    services: ServicesDep,
    caller: CallerDep,
    event: Annotated[EventType | None, Query(description="Only this event type.")] = None,
    since: Annotated[datetime | None, Query(description="From this time (UTC if no zone).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
    include_texts: Annotated[
        bool, Query(description="Add stored question/answer texts (personal data).")
    ] = False,
) -> AuditList:
    audit = services.audit
    records = audit.records(since=since, until=until, event=event, limit=limit, newest_first=True)
    out = [AuditRecordOut.of(r, audit.text(r.seq) if include_texts else None) for r in records]
    record_admin(
        services,
        caller,
        "audit_viewed",
        details={
            "event": event,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "records": len(out),
            "texts": include_texts,
        },
    )
    return AuditList(records=out, count=len(out))


@router.post(
    "/verify",
    response_model=AuditVerifyResponse,
    summary="Walk the hash chain (and compare with a checkpoint): ok, or the first bad record",
    description="Always 200: a damaged log is a result (`ok: false`, `bad_seq`, `reason`).",
    responses=responses(413, 422),
)
def verify_audit(
    services: ServicesDep, caller: CallerDep, body: AuditVerifyRequest | None = None
) -> AuditVerifyResponse:
    checkpoint = body.checkpoint.to_checkpoint() if body and body.checkpoint else None
    result = verify_recorded(
        services.audit, checkpoint, user_id=caller.user_id, role=caller.role
    )  # an audit_verified record follows the chain it judged
    return AuditVerifyResponse.of(result)


@router.post(
    "/checkpoint",
    response_model=CheckpointOut,
    summary="Sign the head of the chain; keep the result outside this server",
)
def checkpoint_audit(services: ServicesDep) -> CheckpointOut:
    return CheckpointOut.of(services.audit.checkpoint())
