"""One generation at a time per loaded model, behind a bounded queue (DESIGN decision 5).

``GenerationGate.slot()`` is held for a whole stream. A caller that cannot even join the queue
gets ``Overloaded`` at once (with a Retry-After hint); one that waits longer than
``queue_timeout_s`` for its turn gets ``Overloaded`` too. Counters feed /readyz and the stats.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from models.errors import Overloaded


@dataclass(frozen=True)
class GateStats:
    waiting: int
    running: int
    rejected: int
    max_queue: int


class GenerationGate:
    def __init__(self, max_queue: int = 8, queue_timeout_s: float = 60.0) -> None:
        self.max_queue = max_queue
        self.queue_timeout_s = queue_timeout_s
        self._model = threading.Lock()
        self._state = threading.Lock()
        self._waiting = 0
        self._running = 0
        self._rejected = 0

    def stats(self) -> GateStats:
        with self._state:
            return GateStats(self._waiting, self._running, self._rejected, self.max_queue)

    def _retry_after(self) -> int:
        return max(1, min(120, 5 * (self._waiting + 1)))

    def ensure_capacity(self) -> None:
        """Raise ``Overloaded`` now if a new question could not even join the queue.

        Called before retrieval, so a streamed answer is refused with a proper 503 before its
        first event rather than with an error event after its sources (``slot`` still decides
        for real: the queue may fill up in between)."""
        with self._state:
            self._reject_if_full()

    def _reject_if_full(self) -> None:
        """Under ``_state``: raise ``Overloaded`` when the queue has no room."""
        if self._waiting >= self.max_queue:
            self._rejected += 1
            raise Overloaded(
                f"{self._waiting} questions are already waiting for the model",
                retry_after=self._retry_after(),
            )

    @contextmanager
    def slot(self) -> Iterator[float]:
        """Wait for the model; yields the seconds spent waiting."""
        with self._state:
            self._reject_if_full()
            self._waiting += 1
        started = time.perf_counter()
        acquired = self._model.acquire(timeout=self.queue_timeout_s)
        with self._state:
            self._waiting -= 1
            if not acquired:
                self._rejected += 1
                raise Overloaded(
                    f"waited {self.queue_timeout_s:g} s for the model without getting a turn",
                    retry_after=self._retry_after(),
                )
            self._running += 1
        try:
            yield time.perf_counter() - started
        finally:
            with self._state:
                self._running -= 1
            self._model.release()
