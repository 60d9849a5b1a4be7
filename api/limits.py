"""Request body limit: an ASGI middleware answering 413 in the one error shape.

A declared ``Content-Length`` above the limit is refused before anything is read. Otherwise
(including chunked bodies without a length) the body is read up to the limit before the app
sees it: one byte more and the request is refused without reading the rest. Bodies are small
JSON documents, so buffering them costs nothing; the app then receives the body in one
message, and later ``receive`` calls (disconnect detection while streaming) go to the server.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_json

logger = logging.getLogger(__name__)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._refuse(scope, receive, send, declared)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # the client went away before sending the whole body: let the app see that
                await self.app(scope, _replay([message], receive), send)
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body_bytes:
                await self._refuse(scope, receive, send, None)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: int | None) -> None:
        logger.info(
            "request refused path=%s reason=body_too_large declared=%s limit=%d",
            scope.get("path", ""),
            size,
            self.max_body_bytes,
        )
        limit = self.max_body_bytes
        message = (
            f"the request body has {size} bytes, the limit is {limit} bytes"
            if size is not None
            else f"the request body is larger than the limit of {limit} bytes"
        )
        response = error_json(
            413,
            "too_large",
            message,
            hint="send a smaller request (the limit is the setting api.max_body_bytes)",
        )
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
