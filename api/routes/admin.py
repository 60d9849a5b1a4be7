"""Admin routes: registered sources and background reindex jobs."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api import sources
from api.auditing import record_admin
from api.auth import Role
from api.deps import CallerDep, ServicesDep, require
from api.errors import responses
from api.schemas_admin import (
    JobList,
    ReindexAccepted,
    ReindexRequest,
    ReindexStatus,
    SourceCreate,
    SourceInfo,
    SourceList,
    SourceRemoved,
)

router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    dependencies=[require(Role.admin)],
    responses=responses(401, 403),
)


def _info(services: ServicesDep, name: str) -> SourceInfo:
    views = sources.describe(services.knowledge.manifest, services.jobs.last_errors())
    return SourceInfo.of(next(v for v in views if v.record.name == name))


@router.post(
    "/sources",
    response_model=SourceInfo,
    status_code=status.HTTP_201_CREATED,
    summary="Register a source (a folder on the server), or update its registration",
    description="201 for a new source, 200 when an existing registration was replaced. "
    "Its documents are indexed by the next `POST /v1/admin/reindex`.",
    responses={
        200: {"model": SourceInfo, "description": "An existing registration was replaced"},
        **responses(413, 422),
    },
)
def add_source(
    body: SourceCreate, services: ServicesDep, response: Response, caller: CallerDep
) -> SourceInfo:
    manifest = services.knowledge.manifest
    existed = manifest.source(body.name) is not None
    sources.register(
        manifest,
        name=body.name,
        kind=body.kind,
        location=body.location,
        acl=body.groups(services.settings.knowledge.default_acl),
        ticket_format=body.format,
    )
    record_admin(
        services,
        caller,
        "source_registered",
        details={"source": body.name, "kind": body.kind, "replaced": existed},
    )
    if existed:
        response.status_code = status.HTTP_200_OK
    return _info(services, body.name)


@router.get(
    "/sources",
    response_model=SourceList,
    summary="Registered sources with document counts, last indexed time, skipped files",
)
def list_sources(services: ServicesDep) -> SourceList:
    views = sources.describe(services.knowledge.manifest, services.jobs.last_errors())
    return SourceList(sources=[SourceInfo.of(v) for v in views])


@router.delete(
    "/sources/{name}",
    response_model=SourceRemoved,
    summary="Remove a source and delete its documents from both indexes",
    responses=responses(404, 409),
)
def remove_source(name: str, services: ServicesDep, caller: CallerDep) -> SourceRemoved:
    with services.jobs.exclusive(f"removing the source {name}"):
        removal = sources.remove(
            services.knowledge.indexer, services.knowledge.manifest, name, services.tickets
        )
    record_admin(
        services,
        caller,
        "source_removed",
        details={"source": name, "documents": removal.documents, "chunks": removal.chunks},
    )
    return SourceRemoved.of(removal)


@router.post(
    "/reindex",
    response_model=ReindexAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start reindexing all (or the named) sources in the background",
    description="Unchanged files cost nothing. Poll `GET /v1/admin/jobs/{job_id}` for progress. "
    "Questions keep being answered meanwhile. Only one job runs at a time (409 otherwise).",
    responses=responses(404, 409, 413, 422),
)
def reindex(
    services: ServicesDep, caller: CallerDep, body: ReindexRequest | None = None
) -> ReindexAccepted:
    job = services.jobs.start(body.sources if body else None)
    record_admin(
        services,
        caller,
        "reindex",
        request_id=job.job_id,
        details={"sources": list(body.sources) if body and body.sources else None},
    )
    return ReindexAccepted(job_id=job.job_id, state=job.state)


@router.get(
    "/jobs",
    response_model=JobList,
    summary="Recent reindex jobs, newest first (kept across restarts)",
)
def list_jobs(services: ServicesDep) -> JobList:
    return JobList(jobs=[ReindexStatus.of(j) for j in services.jobs.recent()])


@router.get(
    "/jobs/{job_id}",
    response_model=ReindexStatus,
    summary="State and progress of one reindex job",
    responses=responses(404),
)
def get_job(job_id: str, services: ServicesDep) -> ReindexStatus:
    return ReindexStatus.of(services.jobs.get(job_id))


@router.delete(
    "/jobs/{job_id}",
    response_model=ReindexStatus,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Cancel a queued or running reindex job (work done so far is kept)",
    description="The job stops before its next file; poll it until its state is 'cancelled'. "
    "Cancelling a cancelled job returns it unchanged; a finished one is a 409.",
    responses=responses(404, 409),
)
def cancel_job(job_id: str, services: ServicesDep) -> ReindexStatus:
    return ReindexStatus.of(services.jobs.cancel(job_id))
