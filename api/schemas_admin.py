"""Request and response models of the admin API: sources and reindex jobs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.jobs import JobStatus
from api.sources import Removal, SourceView

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
_GROUP = r"^[^\s,]+$"
Group = Annotated[str, Field(min_length=1, max_length=128, pattern=_GROUP)]


def _when(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, tz=UTC)


class SourceCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "it-wiki",
                    "kind": "folder",
                    "location": "/srv/knowledge/it",
                    "acl": ["everyone"],
                }
            ]
        },
    )

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=_NAME,
        description="Unique source name; letters, digits, '.', '_' and '-'.",
        examples=["it-wiki"],
    )
    kind: Literal["folder", "tickets"] = Field(
        description="'folder': documents in a folder on the server. 'tickets': an export of a "
        "ticket system (a file or a folder of export files, with `format`); a reindex imports it "
        "like `lotse tickets import`: redacted knowledge as NAME, the agents' records as "
        "NAME-full.",
    )
    location: str = Field(
        min_length=1,
        max_length=4096,
        description="Absolute path on the server; it must exist.",
        examples=["/srv/knowledge/it"],
    )
    acl: list[Group] | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="ACL groups of documents without a .lotse-acl sidecar; "
        "default: the configured default ACL.",
        examples=[["everyone"]],
    )
    format: str | None = Field(
        None,
        min_length=1,
        max_length=32,
        description="Export format, for ticket sources only (and required there): generic, "
        "zammad, znuny, glpi, jira or mbox.",
    )

    def groups(self, default: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(self.acl) if self.acl else default


class SkippedFile(BaseModel):
    source_id: str
    reason: str


class SourceInfo(BaseModel):
    name: str = Field(examples=["it-wiki"])
    kind: str = Field(examples=["folder"])
    location: str = Field(examples=["/srv/knowledge/it"])
    acl: list[str] = Field(examples=[["everyone"]])
    format: str | None = Field(
        None,
        description="Export format of a ticket source; null for a folder.",
        examples=["zammad"],
    )
    registered_at: datetime
    last_indexed: datetime | None = Field(description="End of the last successful reindex.")
    documents: int = Field(ge=0, description="Documents in the index from this source.")
    chunks: int = Field(ge=0, description="Chunks in the index from this source.")
    skipped: list[SkippedFile] = Field(description="Files the last reindex skipped, and why.")
    last_error: str | None = Field(
        None, description="Why the newest reindex of this source failed, if it did."
    )

    @classmethod
    def of(cls, view: SourceView) -> SourceInfo:
        r = view.record
        return cls(
            name=r.name,
            kind=r.kind,
            location=r.location,
            acl=list(r.acl),
            format=r.options.get("format") if r.kind == "tickets" else None,
            registered_at=datetime.fromtimestamp(r.registered_at, tz=UTC),
            last_indexed=_when(r.last_indexed),
            documents=view.documents,
            chunks=view.chunks,
            skipped=[SkippedFile(source_id=s, reason=why) for s, why in view.skipped],
            last_error=view.last_error,
        )


class SourceList(BaseModel):
    sources: list[SourceInfo]


class SourceRemoved(BaseModel):
    name: str
    documents: int = Field(ge=0, description="Documents removed from both indexes.")
    chunks: int = Field(ge=0, description="Chunks removed from both indexes.")

    @classmethod
    def of(cls, removal: Removal) -> SourceRemoved:
        return cls(name=removal.name, documents=removal.documents, chunks=removal.chunks)


class ReindexRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[str] | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Names of registered sources; default: all of them.",
        examples=[["it-wiki"]],
    )


class ReindexAccepted(BaseModel):
    job_id: str = Field(examples=["3f9c0d2a7b1e4c55"])
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"] = Field(
        examples=["queued"]
    )


class ReindexStatus(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": "3f9c0d2a7b1e4c55",
                    "state": "running",
                    "sources": ["it-wiki"],
                    "done": 12,
                    "total": 40,
                    "percent": 30.0,
                    "eta_s": 21.5,
                    "current": "it-wiki/vpn/anleitung.md",
                    "started_at": "2025-01-07T09:30:00Z",
                    "finished_at": None,
                    "summary": {},
                    "errors": {},
                    "error": None,
                }
            ]
        }
    )

    job_id: str
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    sources: list[str]
    done: int = Field(ge=0, description="Files handled in the sources scanned so far.")
    total: int = Field(ge=0, description="Files found in the sources scanned so far.")
    percent: float = Field(ge=0, le=100, description="Every source weighs the same.")
    eta_s: float | None = Field(description="Estimated seconds left, while running.")
    current: str = Field(description="The source/file being indexed now.")
    started_at: datetime | None
    finished_at: datetime | None
    summary: dict[str, dict[str, object]] = Field(
        description="Per finished source: files seen, new, changed, unchanged, deleted, "
        "skipped (with reasons), chunks written and deleted, seconds."
    )
    errors: dict[str, str] = Field(description="Per failed source: why.")
    error: str | None = Field(description="Why the job failed, if it did.")

    @classmethod
    def of(cls, status: JobStatus) -> ReindexStatus:
        return cls(
            job_id=status.job_id,
            state=status.state,
            sources=list(status.sources),
            done=status.done,
            total=status.total,
            percent=status.percent,
            eta_s=status.eta_s,
            current=status.current,
            started_at=_when(status.started_at),
            finished_at=_when(status.finished_at),
            summary=status.summary,
            errors=status.errors,
            error=status.error,
        )


class JobList(BaseModel):
    jobs: list[ReindexStatus] = Field(description="Recent jobs, newest first.")
