"""Jira Service Management: issues with fields and comments from the REST API (v2 or v3).

Shape: the ``/rest/api/{2,3}/search`` response ``{"issues": [...]}``, a list of issues, or one
issue. Per issue: ``key``, ``fields.summary``, ``fields.description``, ``fields.status.name`` and
``statusCategory.key`` (``done`` means resolved), ``fields.resolution.name``,
``fields.resolutiondate``, ``fields.priority.name``, ``fields.issuetype.name``,
``fields.project.name``, ``fields.labels``, ``fields.created``, ``fields.reporter``, and
``fields.comment.comments`` (``author``, ``body``, ``created``, ``jsdPublic``). Descriptions and
comment bodies are strings in v2 and ADF documents in v3 (flattened). Comments by the reporter
are the customer's; the resolution is the last public comment by anyone else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from knowledge.tickets.adf import adf_to_text
from knowledge.tickets.fields import parse_when, split_tags
from knowledge.tickets.model import Message, ParseResult, Ticket
from knowledge.tickets.records import parse_json_records


class JiraUser(BaseModel):
    model_config = ConfigDict(extra="ignore")

    accountId: str = ""
    name: str = ""  # Jira Server / Data Center
    displayName: str = ""

    @property
    def ident(self) -> str:
        return self.accountId or self.name or self.displayName


class JiraComment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    author: JiraUser = Field(default_factory=JiraUser)
    body: Any = ""
    created: datetime | None = None
    jsdPublic: bool = True

    @field_validator("created", mode="before")
    @classmethod
    def _when(cls, value: object) -> datetime | None:
        return parse_when(value)


class JiraComments(BaseModel):
    model_config = ConfigDict(extra="ignore")

    comments: list[JiraComment] = Field(default_factory=list)


class JiraNamed(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = ""
    key: str = ""


class JiraStatus(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = ""
    statusCategory: JiraNamed = Field(default_factory=JiraNamed)


class JiraFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    summary: str = Field(min_length=1)
    description: Any = None
    status: JiraStatus = Field(default_factory=JiraStatus)
    resolution: JiraNamed | None = None
    resolutiondate: datetime | None = None
    priority: JiraNamed | None = None
    issuetype: JiraNamed | None = None
    project: JiraNamed | None = None
    labels: list[str] = Field(default_factory=list)
    created: datetime | None = None
    reporter: JiraUser | None = None
    comment: JiraComments = Field(default_factory=JiraComments)

    @field_validator("created", "resolutiondate", mode="before")
    @classmethod
    def _when(cls, value: object) -> datetime | None:
        return parse_when(value)


class JiraIssue(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str = Field(min_length=1)
    fields: JiraFields


def to_ticket(issue: JiraIssue) -> Ticket:
    f = issue.fields
    reporter = f.reporter.ident if f.reporter else ""
    reporter_name = f.reporter.displayName if f.reporter else ""
    thread = [Message(reporter_name, adf_to_text(f.description), "customer", f.created)]
    for c in f.comment.comments:
        by_reporter = bool(reporter) and c.author.ident == reporter
        thread.append(
            Message(
                author=c.author.displayName,
                text=adf_to_text(c.body),
                role="customer" if by_reporter else "agent",
                when=c.created,
                internal=not c.jsdPublic,
            )
        )
    answers = [m.text for m in thread if m.role == "agent" and not m.internal and m.text]
    done = f.status.statusCategory.key == "done" or f.resolution is not None
    return Ticket(
        id=issue.key,
        subject=f.summary,
        thread=tuple(thread),
        resolution=answers[-1] if answers else "",
        status="resolved" if done else (f.status.name.lower() or "open"),
        queue=f.project.name if f.project else "",
        priority=f.priority.name if f.priority else "",
        type=f.issuetype.name if f.issuetype else "",
        tags=split_tags(f.labels),
        created=f.created,
        closed=f.resolutiondate,
    )


def parse_jira(data: bytes) -> ParseResult:
    return parse_json_records(data, JiraIssue, to_ticket, list_keys=("issues", "values"))
