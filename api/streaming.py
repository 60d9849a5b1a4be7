"""Streamed responses that notice a client going away while the answer is still queued.

Starlette cancels a streaming body only once a write fails or (ASGI < 2.4) its own disconnect
listener fires, and a thread blocked waiting for the model cannot be cancelled at all. So each
streamed answer gets a ``threading.Event`` that is set the moment the server reports
``http.disconnect``; the generation gate polls it (``assistant.generation``) and the question
leaves the queue instead of taking the model for nobody.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

T = TypeVar("T")


async def _watch(receive: Receive, cancelled: threading.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            cancelled.set()
            return


@asynccontextmanager
async def cancel_on_disconnect(receive: Receive, cancelled: threading.Event) -> AsyncIterator[None]:
    """Set ``cancelled`` if the client disconnects while the block runs (the request body
    must have been read already)."""
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_watch, receive, cancelled)
            try:
                yield
            finally:
                group.cancel_scope.cancel()
    except BaseExceptionGroup as grouped:
        # the watcher only ever ends by being cancelled: the one error is the block's own
        if len(grouped.exceptions) == 1:
            raise grouped.exceptions[0] from None
        raise


async def until_disconnect(
    receive: Receive, cancelled: threading.Event, work: Callable[[], Awaitable[T]]
) -> T:
    """``await work()`` with ``cancelled`` set as soon as the client goes away meanwhile."""
    async with cancel_on_disconnect(receive, cancelled):
        return await work()


class EventStreamResponse(StreamingResponse):
    """SSE that closes its event generator however the response ends: after the last event,
    when the client disconnects (the body task is cancelled) and when sending fails; and sets
    ``cancelled`` as soon as the client disconnects."""

    def __init__(
        self, events: AsyncIterator[str], cancelled: threading.Event | None = None
    ) -> None:
        super().__init__(
            events,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._events = events
        self._cancelled = cancelled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if self._cancelled is None:
                await super().__call__(scope, receive, send)
            else:
                async with cancel_on_disconnect(receive, self._cancelled):
                    await super().__call__(scope, receive, send)
        finally:
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()
