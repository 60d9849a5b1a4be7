"""Every operation of the live OpenAPI schema, fuzzed by schemathesis against the app with fakes.

Valid and invalid requests (schemathesis' examples, coverage and fuzzing phases) must never get
a server error, and every response must be what the schema promises: a documented status code,
a documented content type and a body matching its schema. Deterministic (fixed seed,
derandomized) and bounded in examples per operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import BaseModel
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from api.app import create_app
from api.errors import ErrorResponse
from api.schemas import ChatResponse, ChatSourcesEvent, ChatTokenEvent
from api.wiring import Services
from tests.api.conftest import fake_settings
from tests.servers import lotse_server

MAX_EXAMPLES = 30
SEED = 20250107
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    """A small folder that registered sources point at (instead of anything on the machine)."""
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "drucker.md").write_text(
        "# Drucker\n\n## Einrichten\n\nÖffnen Sie die Systemsteuerung und wählen Sie PRN-04.",
        encoding="utf-8",
    )
    (folder / "password.md").write_text(
        "# Password\n\n## Reset\n\nOpen the self-service portal and choose 'Forgot password'.",
        encoding="utf-8",
    )
    return folder


def _schema() -> OpenApiSchema:
    """The app's OpenAPI document (generated without starting it: nothing is built)."""
    document = create_app(fake_settings(Path("unused"))).openapi()
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
            "phases": {"stateful": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_dict(document, config=config)


schema = _schema()


@pytest.fixture
def base_url(services: Services) -> Iterator[str]:
    """The app wired with fakes, under a real uvicorn on 127.0.0.1 (fresh per operation)."""
    with lotse_server(create_app(services=services)) as url:
        yield url


@schema.parametrize()
# one server per operation, shared by its examples (the app keeps state, as in production)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_conforms_and_never_fails(
    case: schemathesis.Case[Any], base_url: str, docs_dir: Path
) -> None:
    body = case.body
    location = body.get("location") if isinstance(body, dict) else None
    if case.operation.path == "/v1/admin/sources" and isinstance(location, str):
        path = Path(location)
        if path.is_absolute() and path.exists() and isinstance(body, dict):
            # never register (and then reindex) a real folder of this machine such as "/"
            body["location"] = str(docs_dir)
    response = case.call_and_validate(base_url=base_url, checks=CHECKS)
    content_type = response.headers.get("content-type", [""])[0]
    if case.operation.path == "/v1/chat" and content_type.startswith("text/event-stream"):
        check_chat_stream(response.content.decode("utf-8"))


EVENT_DATA: dict[str, type[BaseModel]] = {
    "sources": ChatSourcesEvent,
    "token": ChatTokenEvent,
    "done": ChatResponse,
    "error": ErrorResponse,
}


def check_chat_stream(text: str) -> None:
    """The schema documents each event as a name and a JSON string; here the JSON itself is
    checked against its model, and the order: sources, token..., then done or error."""
    events = [block.split("\n") for block in text.split("\n\n") if block]
    names = []
    for lines in events:
        assert len(lines) == 2, lines
        assert lines[0].startswith("event: ") and lines[1].startswith("data: "), lines
        name = lines[0].removeprefix("event: ")
        EVENT_DATA[name].model_validate_json(lines[1].removeprefix("data: "))
        names.append(name)
    assert names[0] == "sources" and names[-1] in ("done", "error"), names
    assert set(names[1:-1]) <= {"token"}, names
