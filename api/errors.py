"""Maps Lotse's error tree to HTTP status codes and the one JSON error shape.

Every error response has the body ``{"error": {"code", "message", "hint"?, "field"?}}``
(``ErrorResponse``). Domain code never knows about HTTP; this is the only translation.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from models.errors import (
    AccessDenied,
    ClientGone,
    ConfigurationError,
    Conflict,
    GenerationFailed,
    InvalidInput,
    LotseError,
    ModelUnavailable,
    NotFound,
    Overloaded,
    StoreError,
    Unauthenticated,
    UnsupportedDocument,
)

logger = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. 'overloaded'.")
    message: str = Field(description="What happened, for people.")
    hint: str | None = Field(None, description="What to do next, when known.")
    field: str | None = Field(None, description="The offending request field, when known.")


class ErrorResponse(BaseModel):
    error: ErrorBody

    model_config = {
        "json_schema_extra": {
            "examples": [{"error": {"code": "not_found", "message": "no conversation abc"}}]
        }
    }


_STATUS: list[tuple[type[LotseError], int, str]] = [
    (InvalidInput, 422, "invalid_input"),
    (UnsupportedDocument, 422, "unsupported_document"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (AccessDenied, 403, "forbidden"),
    (Unauthenticated, 401, "unauthorized"),
    (Overloaded, 503, "overloaded"),
    # nobody reads it: the client is gone (nginx's "client closed request")
    (ClientGone, 499, "client_closed_request"),
    (ModelUnavailable, 503, "model_unavailable"),
    (StoreError, 503, "store_unavailable"),
    (GenerationFailed, 502, "generation_failed"),
    (ConfigurationError, 500, "configuration_error"),
]


def status_for(exc: LotseError) -> tuple[int, str]:
    if isinstance(exc, InvalidInput) and exc.too_large:
        return 413, "too_large"
    for cls, status, code in _STATUS:
        if isinstance(exc, cls):
            return status, code
    return 500, "internal_error"


def error_json(status: int, code: str, message: str, **extra: str | None) -> JSONResponse:
    body = ErrorBody(code=code, message=message, **extra)
    return JSONResponse({"error": body.model_dump(exclude_none=True)}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LotseError)
    async def _lotse(request: Request, exc: LotseError) -> JSONResponse:
        status, code = status_for(exc)
        if status >= 500:
            logger.warning("request failed path=%s code=%s error=%s", request.url.path, code, exc)
        response = error_json(
            status,
            code,
            exc.message,
            hint=exc.hint,
            field=exc.field if isinstance(exc, InvalidInput) else None,
        )
        if isinstance(exc, Overloaded):
            response.headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, Unauthenticated):
            challenge = 'Bearer realm="lotse"'
            response.headers["WWW-Authenticate"] = (
                f'{challenge}, error="invalid_token"' if exc.invalid else challenge
            )
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{loc}: {first.get('msg', 'invalid request')}" if loc else "invalid request"
        return error_json(422, "invalid_input", message, field=loc or None)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        response = error_json(exc.status_code, code, str(exc.detail))
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response


def responses(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI documentation of a route's error responses (all share ``ErrorResponse``)."""
    text = {
        400: "Malformed request",
        401: "Missing or invalid credentials",
        403: "Wrong role",
        404: "Not found",
        409: "Conflicts with running work",
        413: "Request too large",
        422: "Invalid input",
        429: "Too many requests",
        503: "Overloaded or not ready; see Retry-After",
    }
    return {c: {"model": ErrorResponse, "description": text.get(c, "Error")} for c in codes}


_ERROR_SCHEMA_REF = "#/components/schemas/ErrorResponse"
_BODY_ERRORS = {
    400: "Malformed request body (not JSON, or not UTF-8)",
    413: "Request too large (the setting api.max_body_bytes, or a text limit)",
    422: "Invalid input",
}
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def document_common_errors(app: FastAPI) -> None:
    """Document, once for every operation, the errors a request can get before its route runs:
    with a body 400 (unreadable), 413 (the body limit middleware) and 422 (validation); with
    parameters 422. FastAPI's default 422 schema is replaced by ``ErrorResponse``, the shape the
    handlers above really send. Routes document only their own errors with ``responses``."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        components = document.setdefault("components", {}).setdefault("schemas", {})
        if "ErrorResponse" not in components:
            error_schema = ErrorResponse.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            components.update(error_schema.pop("$defs", {}))
            components["ErrorResponse"] = error_schema
        for path_item in document.get("paths", {}).values():
            for operation in path_item.values():
                _add_common_errors(operation)
        text = json.dumps(document.get("paths", {}))
        for name in _FASTAPI_VALIDATION_SCHEMAS:
            if f'"#/components/schemas/{name}"' not in text:
                components.pop(name, None)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _add_common_errors(operation: dict[str, Any]) -> None:
    codes: list[int] = []
    if "requestBody" in operation:
        codes = [400, 413, 422]
    elif operation.get("parameters"):
        codes = [422]
    responses_doc = operation.setdefault("responses", {})
    for code in codes:
        current = responses_doc.get(str(code))
        refs_fastapi = current is not None and "HTTPValidationError" in json.dumps(current)
        if current is None or refs_fastapi:
            responses_doc[str(code)] = {
                "description": _BODY_ERRORS[code],
                "content": {"application/json": {"schema": {"$ref": _ERROR_SCHEMA_REF}}},
            }
