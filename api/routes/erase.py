"""``POST /v1/admin/erase``: erasure (GDPR Art. 17) while the server owns the stores."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import Role
from api.deps import CallerDep, ServicesDep, require
from api.errors import responses
from api.schemas_erase import EraseRequest, EraseResult
from api.wiring import build_eraser

router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    dependencies=[require(Role.admin)],
    responses=responses(401, 403),
)


@router.post(
    "/erase",
    response_model=EraseResult,
    summary="Erase a person's data, a source's documents, or everything containing a text",
    description="Documents are removed from both indexes and the manifest and tombstoned, so "
    "a reindex does not bring them back; texts are purged from the files on disk. The "
    "erasure is audited with counts and digests only. `dry_run` only reports. Erasing "
    "documents is refused (409) while a reindex job runs.",
    responses=responses(404, 409, 413, 422),
)
def erase(body: EraseRequest, services: ServicesDep, caller: CallerDep) -> EraseResult:
    eraser = build_eraser(
        services.settings,
        services.knowledge,
        services.conversations,
        services.audit,
        escalations=services.escalations,
        tickets=services.tickets,
    )
    if body.user is not None:
        report = eraser.erase_user(body.user, caller, dry_run=body.dry_run)
        return EraseResult.of(report)
    with services.jobs.exclusive("erasing documents"):
        if body.source is not None:
            report = eraser.erase_documents(
                body.source, body.document, caller, dry_run=body.dry_run
            )
        else:
            assert body.match is not None  # EraseRequest allows exactly one target
            report = eraser.erase_matching(body.match, caller, dry_run=body.dry_run)
    return EraseResult.of(report)
