"""One generation at a time per loaded model, behind a bounded queue (DESIGN decision 5).

A question takes its place in the queue when it arrives, before retrieval (``place()``), so a
burst of questions can never admit more than ``max_queue`` of them: the rest get ``Overloaded``
at once, with a Retry-After hint, and a streamed answer is refused with a proper 503 before its
first event. Once generations have been timed, a question is also refused at once when the ones
ahead of it would need longer than ``queue_timeout_s``, rather than after waiting that long;
Retry-After is then that expected wait.

``QueuePlace.turn()`` waits for the model and holds it for the whole generation. A question that
still waits after ``queue_timeout_s`` gets ``Overloaded`` too; one whose client went away (its
``cancelled`` event is set) leaves the queue within ``POLL_S`` with ``ClientGone`` instead of
taking the model for nobody. Counters feed /readyz and the stats.

``GenerationLimit`` ends a generation that holds the model: its client went away, or it ran past
the time limit — also while the model is still evaluating the prompt.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from models.errors import (
    ClientGone,
    GenerationFailed,
    GenerationInterrupted,
    LotseError,
    Overloaded,
)
from models.llm import StreamChunk

T = TypeVar("T")

POLL_S = 0.1  # how often a waiting question checks whether its client is still there
TURN_WEIGHT = 0.3  # weight of the latest generation in the moving average of their lengths


@dataclass(frozen=True)
class GateStats:
    waiting: int  # admitted, not yet generating (retrieving or in line for the model)
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
        # moving average of how long one generation holds the model
        self._turn_s: float | None = None

    def stats(self) -> GateStats:
        with self._state:
            return GateStats(self._waiting, self._running, self._rejected, self.max_queue)

    def _expected_wait_s(self) -> float | None:
        """Under ``_state``: how long a question joining now would wait, once that is known."""
        if self._turn_s is None:
            return None
        # the running generation is, on average, half done
        return self._turn_s * (self._waiting + self._running / 2)

    def _retry_after(self) -> int:
        expected = self._expected_wait_s()
        guess = 5 * (self._waiting + 1) if expected is None else math.ceil(expected)
        return max(1, min(120, guess))

    def _held(self, seconds: float) -> None:
        """Under ``_state``: one generation held the model this long."""
        previous = self._turn_s
        self._turn_s = (
            seconds if previous is None else previous + TURN_WEIGHT * (seconds - previous)
        )

    def _overloaded(self, message: str) -> Overloaded:
        """Under ``_state``: count a rejection."""
        self._rejected += 1
        return Overloaded(message, retry_after=self._retry_after())

    @contextmanager
    def place(self, cancelled: threading.Event | None = None) -> Iterator[QueuePlace]:
        """Join the queue now or raise ``Overloaded``; the place is left on exit."""
        with self._state:
            if self._waiting >= self.max_queue:
                raise self._overloaded(
                    f"{self._waiting} questions are already waiting for the model"
                )
            expected = self._expected_wait_s()
            if expected is not None and expected > self.queue_timeout_s:
                # it would only time out in the queue: say so now, not after the wait
                raise self._overloaded(
                    f"the questions ahead need about {expected:.0f} s of the model, longer "
                    f"than the {self.queue_timeout_s:g} s a question may wait"
                )
            self._waiting += 1
        place = QueuePlace(self, cancelled)
        try:
            yield place
        finally:
            place.leave()

    @contextmanager
    def slot(self, cancelled: threading.Event | None = None) -> Iterator[float]:
        """Join the queue and wait for the model at once; yields the seconds spent waiting."""
        with self.place(cancelled) as place, place.turn() as waited:
            yield waited


class QueuePlace:
    """A question's place in the queue, from admission to the end of its generation."""

    def __init__(self, gate: GenerationGate, cancelled: threading.Event | None) -> None:
        self._gate = gate
        self._cancelled = cancelled
        self._in_line = True

    def _acquire(self) -> bool:
        """Wait for the model; ``ClientGone`` when the client goes away meanwhile."""
        deadline = time.monotonic() + self._gate.queue_timeout_s
        while True:
            if self._cancelled is not None and self._cancelled.is_set():
                raise ClientGone("the client went away while its question was waiting")
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            step = left if self._cancelled is None else min(left, POLL_S)
            if self._gate._model.acquire(timeout=step):
                return True

    @contextmanager
    def turn(self) -> Iterator[float]:
        """Wait for the model and hold it; yields the seconds spent waiting."""
        gate = self._gate
        started = time.perf_counter()
        acquired = self._acquire()
        with gate._state:
            self._in_line = False
            gate._waiting -= 1
            if not acquired:
                raise gate._overloaded(
                    f"waited {gate.queue_timeout_s:g} s for the model without getting a turn"
                )
            gate._running += 1
        got_it = time.perf_counter()
        try:
            yield got_it - started
        finally:
            with gate._state:
                gate._running -= 1
                gate._held(time.perf_counter() - got_it)
            gate._model.release()

    def leave(self) -> None:
        """Give up a place that never got its turn (idempotent)."""
        with self._gate._state:
            if self._in_line:
                self._in_line = False
                self._gate._waiting -= 1


class GenerationLimit:
    """Why a generation stops early: its client went away, or it ran past the time limit.

    ``reached`` is the backend's ``GenerationParams.interrupt`` (asked during the prompt
    evaluation as well); ``guard`` also checks it between pieces, and turns the backend's
    ``GenerationInterrupted`` into the reason: ``ClientGone`` or a timeout's
    ``GenerationFailed``."""

    def __init__(self, timeout_s: float, cancelled: threading.Event | None) -> None:
        self._timeout_s = timeout_s
        self._cancelled = cancelled
        self._deadline = time.monotonic() + timeout_s

    def _gone(self) -> bool:
        return self._cancelled is not None and self._cancelled.is_set()

    def reached(self) -> bool:
        return self._gone() or time.monotonic() > self._deadline

    def _error(self) -> LotseError:
        if self._gone():
            return ClientGone("the client went away during the answer")
        return GenerationFailed(f"the model took longer than {self._timeout_s:g} s")

    def guard(self, stream: Iterator[StreamChunk]) -> Iterator[StreamChunk]:
        try:
            for chunk in stream:
                if self.reached():
                    raise self._error()
                yield chunk
        except GenerationInterrupted as exc:
            raise self._error() from exc

    def call(self, fn: Callable[[], T]) -> T:
        """``fn()`` (a whole, short generation) with the backend's interruption turned into
        the reason, as ``guard`` does for a stream."""
        try:
            return fn()
        except GenerationInterrupted as exc:
            raise self._error() from exc
