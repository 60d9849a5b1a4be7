"""Background reindex jobs: one at a time, in a thread, cancellable, remembered.

``JobRunner.start(names)`` accepts a job (``queued``) and runs ``Indexer.ingest`` for each named
registered source (all of them by default) in one background thread (``running``). A job ends
``succeeded``, ``failed`` (a source could not be indexed, or an unexpected error), or
``cancelled`` (``cancel(job_id)`` or ``close()``; the work done so far is kept). A second
``start`` while a job is queued or running raises ``Conflict``.

Progress: ``done``/``total`` count the files of the sources scanned so far; ``percent`` weights
every source equally (so it never goes backwards when the next source is scanned) and
``eta_s`` extrapolates the elapsed time from it.

Persistence: the last ``keep`` jobs are stored as JSON under the manifest's meta key
``jobs`` whenever a job starts or ends, so ``get``/``recent`` still know them after a restart.
A job stored as ``queued`` or ``running`` was interrupted by a crash; it is loaded as
``failed`` with that reason. Questions keep being answered while a job runs: the stores are
thread-safe and the indexer serialises writers.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

from assistant.ticket_import import KIND as TICKETS_KIND
from assistant.ticket_import import base_source, reimport
from assistant.ticket_store import ReviewMode, TicketStore
from knowledge.indexer import Cancelled, Indexer, IngestProgress
from knowledge.manifest import Manifest, SourceRecord
from knowledge.tickets import FULL_SUFFIX
from models.errors import Conflict, InvalidInput, LotseError, NotFound

logger = logging.getLogger(__name__)

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
ACTIVE_STATES: frozenset[str] = frozenset({"queued", "running"})
META_KEY = "jobs"
INTERRUPTED = "interrupted: the server stopped before the job finished; start a new reindex"


@dataclass(frozen=True)
class JobStatus:
    """A snapshot of one job; times are POSIX seconds."""

    job_id: str
    state: JobState
    sources: tuple[str, ...]
    done: int = 0
    total: int = 0
    percent: float = 0.0
    eta_s: float | None = None
    current: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    summary: dict[str, dict[str, object]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def as_dict(self) -> dict[str, object]:
        return {
            "job_id": self.job_id,
            "state": self.state,
            "sources": list(self.sources),
            "done": self.done,
            "total": self.total,
            "percent": self.percent,
            "eta_s": self.eta_s,
            "current": self.current,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "summary": self.summary,
            "errors": self.errors,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> JobStatus:
        def number(key: str) -> float | None:
            value = raw.get(key)
            return float(value) if isinstance(value, int | float) else None

        state = str(raw.get("state", "failed"))
        error = raw.get("error")
        if state in ACTIVE_STATES:
            state, error = "failed", INTERRUPTED
        summary = raw.get("summary")
        errors = raw.get("errors")
        return cls(
            job_id=str(raw["job_id"]),
            state=cast(JobState, state),
            sources=tuple(str(s) for s in cast(list[object], raw.get("sources") or [])),
            done=int(cast(int, raw.get("done") or 0)),
            total=int(cast(int, raw.get("total") or 0)),
            percent=float(cast(float, raw.get("percent") or 0.0)),
            eta_s=None,
            current="",
            started_at=number("started_at"),
            finished_at=number("finished_at"),
            summary=cast(dict[str, dict[str, object]], summary)
            if isinstance(summary, dict)
            else {},
            errors={str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {},
            error=None if error is None else str(error),
        )


class _Job:
    """The mutable state of one job; guarded by the runner's lock."""

    def __init__(self, job_id: str, sources: tuple[str, ...]) -> None:
        self.job_id = job_id
        self.sources = sources
        self.state: JobState = "queued"
        self.cancel = threading.Event()
        self.finished_sources = 0
        self.done_before = 0  # files of the sources already finished
        self.current_done = 0
        self.current_total = 0
        self.current = ""
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.started_mono: float | None = None
        self.summary: dict[str, dict[str, object]] = {}
        self.errors: dict[str, str] = {}
        self.tickets_done: set[str] = set()  # ticket imports done (both of their sources)
        self.error: str | None = None

    def snapshot(self, now_mono: float) -> JobStatus:
        n = len(self.sources) or 1
        if self.state == "succeeded":
            fraction = 1.0
        else:
            part = self.current_done / self.current_total if self.current_total else 0.0
            fraction = min(1.0, (self.finished_sources + part) / n)
        eta: float | None = None
        if self.state == "running" and self.started_mono is not None and fraction > 0:
            elapsed = now_mono - self.started_mono
            eta = round(elapsed * (1.0 - fraction) / fraction, 1)
        return JobStatus(
            job_id=self.job_id,
            state=self.state,
            sources=self.sources,
            done=self.done_before + self.current_done,
            total=self.done_before + self.current_total,
            percent=round(100.0 * fraction, 1),
            eta_s=eta,
            current=self.current,
            started_at=self.started_at,
            finished_at=self.finished_at,
            summary=dict(self.summary),
            errors=dict(self.errors),
            error=self.error,
        )


class JobRunner:
    """Runs reindex jobs over the manifest's registered sources, one at a time.

    ``clock`` (wall time, for ``started_at``/``finished_at``) and ``monotonic`` (for the ETA)
    are injectable for tests. ``keep`` bounds the jobs remembered in memory and in the manifest.
    """

    def __init__(
        self,
        indexer: Indexer,
        manifest: Manifest,
        *,
        tickets: TicketStore | None = None,
        review_mode: ReviewMode = "auto",
        keep: int = 20,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self._indexer = indexer
        self._manifest = manifest
        self._tickets = tickets  # ticket sources need it (``assistant.ticket_import``)
        self._review_mode: ReviewMode = review_mode
        self._keep = keep
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._active: _Job | None = None
        self._thread: threading.Thread | None = None
        self._exclusive: str | None = None
        self._closed = False
        self._history: dict[str, JobStatus] = self._load()

    # -- queries ------------------------------------------------------------------------------
    def get(self, job_id: str) -> JobStatus:
        with self._lock:
            if self._active is not None and self._active.job_id == job_id:
                return self._active.snapshot(self._monotonic())
            status = self._history.get(job_id)
        if status is None:
            raise NotFound(
                f"no reindex job {job_id}", hint="GET /v1/admin/jobs lists the recent jobs"
            )
        return status

    def recent(self, limit: int | None = None) -> list[JobStatus]:
        """The remembered jobs, newest first (a running one leads)."""
        with self._lock:
            jobs = list(reversed(self._history.values()))
            if self._active is not None:
                jobs.insert(0, self._active.snapshot(self._monotonic()))
        return jobs[:limit] if limit is not None else jobs

    def active(self) -> JobStatus | None:
        with self._lock:
            return None if self._active is None else self._active.snapshot(self._monotonic())

    def last_errors(self) -> dict[str, str | None]:
        """Per source: the error of the newest job that covered it (``None``: it succeeded)."""
        out: dict[str, str | None] = {}
        for job in self.recent():
            if job.active:
                continue
            for name in job.sources:
                if name in out:
                    continue
                if name in job.errors:
                    out[name] = job.errors[name]
                elif name in job.summary:
                    out[name] = None
        return out

    # -- commands -----------------------------------------------------------------------------
    def start(self, names: Sequence[str] | None = None) -> JobStatus:
        """Accept a reindex of ``names`` (default: every registered source)."""
        registered = {s.name: s for s in self._manifest.sources()}
        if names:
            unknown = sorted(set(names) - set(registered))
            if unknown:
                raise NotFound(
                    f"unknown source(s): {', '.join(unknown)}",
                    hint="GET /v1/admin/sources lists the registered sources",
                )
            records = [registered[n] for n in dict.fromkeys(names)]
        else:
            records = list(registered.values())
        if not records:
            raise InvalidInput(
                "no sources are registered, so there is nothing to reindex; "
                "add one with POST /v1/admin/sources",
                field="sources",
            )
        with self._lock:
            self._refuse_if_busy()
            job = _Job(uuid.uuid4().hex[:16], tuple(r.name for r in records))
            self._active = job
            thread = threading.Thread(
                target=self._run, args=(job, records), name=f"lotse-reindex-{job.job_id}"
            )
            self._thread = thread
            status = job.snapshot(self._monotonic())
        logger.info("reindex accepted job_id=%s sources=%d", job.job_id, len(records))
        thread.start()
        return status

    def cancel(self, job_id: str) -> JobStatus:
        """Ask a queued or running job to stop; a finished job is returned unchanged."""
        with self._lock:
            job = self._active
            if job is not None and job.job_id == job_id:
                job.cancel.set()
                logger.info("reindex cancel requested job_id=%s", job_id)
                return job.snapshot(self._monotonic())
        status = self.get(job_id)
        if status.state != "cancelled":
            raise Conflict(
                f"reindex job {job_id} already {status.state}; there is nothing to cancel"
            )
        return status

    def wait(self, job_id: str, timeout_s: float | None = None) -> JobStatus:
        """Block until the job is no longer active (or the timeout passes); its status."""
        with self._lock:
            thread = (
                self._thread if self._active is not None and self._active.job_id == job_id else None
            )
        if thread is not None:
            thread.join(timeout_s)
        return self.get(job_id)

    @contextmanager
    def exclusive(self, purpose: str) -> Iterator[None]:
        """Hold off new jobs while ``purpose`` changes the stores; ``Conflict`` if one runs."""
        with self._lock:
            self._refuse_if_busy()
            self._exclusive = purpose
        try:
            yield
        finally:
            with self._lock:
                self._exclusive = None

    def close(self, timeout_s: float = 30.0) -> None:
        """Cancel a running job and wait for its thread (server shutdown). Idempotent."""
        with self._lock:
            self._closed = True
            job, thread = self._active, self._thread
            if job is not None:
                job.cancel.set()
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                logger.warning("reindex did not stop in time job_id=%s", job and job.job_id)

    # -- internals ----------------------------------------------------------------------------
    def _refuse_if_busy(self) -> None:
        if self._closed:
            raise Conflict("the service is shutting down; no new reindex is accepted")
        if self._active is not None:
            raise Conflict(
                f"reindex job {self._active.job_id} is {self._active.state}",
                hint=f"wait for it (GET /v1/admin/jobs/{self._active.job_id}) or cancel it "
                f"(DELETE /v1/admin/jobs/{self._active.job_id})",
            )
        if self._exclusive is not None:
            raise Conflict(f"the knowledge base is busy: {self._exclusive}", hint="retry shortly")

    def _run(self, job: _Job, records: list[SourceRecord]) -> None:
        with self._lock:
            job.state = "running"
            job.started_at = self._clock()
            job.started_mono = self._monotonic()
        self._persist()
        final: JobState = "succeeded"
        error: str | None = None
        try:
            for record in records:
                if job.cancel.is_set():
                    raise Cancelled(f"reindex cancelled before {record.name}")
                self._run_source(job, record)
            if job.errors:
                final = "failed"
                error = f"{len(job.errors)} of {len(records)} source(s) failed: " + "; ".join(
                    f"{name}: {message}" for name, message in job.errors.items()
                )
        except Cancelled:
            final, error = "cancelled", None
        except Exception as exc:  # a bug or an unexpected library error: keep the service up
            logger.exception("reindex failed job_id=%s", job.job_id)
            final, error = "failed", f"unexpected error: {exc}"
        with self._lock:
            job.state = final
            job.error = error
            job.current = ""
            job.finished_at = self._clock()
            status = job.snapshot(self._monotonic())
            self._history[job.job_id] = status
            while len(self._history) > self._keep:
                self._history.pop(next(iter(self._history)))
            self._active = None
        self._persist()
        logger.info(
            "reindex finished job_id=%s state=%s sources=%d errors=%d",
            job.job_id,
            final,
            len(records),
            len(job.errors),
        )

    def _run_source(self, job: _Job, record: SourceRecord) -> None:
        with self._lock:
            job.current_done = job.current_total = 0
            job.current = record.name
        try:
            if record.kind == TICKETS_KIND:
                self._run_tickets(job, record)
                return
            if record.kind != "folder":
                raise InvalidInput(f"sources of kind {record.kind!r} cannot be indexed")
            summary = self._indexer.ingest(
                Path(record.location),
                source=record.name,
                acl=record.acl,
                progress=lambda p: self._progress(job, record.name, p),
                cancel=job.cancel,
            )
        except LotseError as exc:
            logger.warning(
                "reindex source failed job_id=%s source=%s error=%s",
                job.job_id,
                record.name,
                exc.message,
            )
            with self._lock:
                job.errors[record.name] = exc.message
                self._finish_source(job)
            return
        self._manifest.mark_indexed(record.name)
        with self._lock:
            job.summary[record.name] = summary.as_dict()
            self._finish_source(job)

    def _run_tickets(self, job: _Job, record: SourceRecord) -> None:
        """Import a ticket source's export again: ``NAME`` and ``NAME-full`` are one import, run
        once per job whichever of the two it names."""
        base = base_source(record.name, self._manifest)
        if base in job.tickets_done:
            with self._lock:
                self._finish_source(job)
            return
        if self._tickets is None:
            raise InvalidInput("without a ticket store, ticket sources cannot be indexed")
        result = reimport(
            self._indexer,
            self._manifest,
            self._tickets,
            record,
            mode=self._review_mode,
            progress=lambda p: self._progress(job, base, p),
            cancel=job.cancel,
        )
        with self._lock:
            job.tickets_done.add(base)
            job.summary[base] = result.employee.as_dict()
            job.summary[base + FULL_SUFFIX] = result.agents.as_dict()
            self._finish_source(job)

    @staticmethod
    def _finish_source(job: _Job) -> None:
        job.finished_sources += 1
        job.done_before += job.current_total
        job.current_done = job.current_total = 0

    def _progress(self, job: _Job, source: str, progress: IngestProgress) -> None:
        with self._lock:
            job.current_done = progress.done
            job.current_total = progress.total
            job.current = f"{source}/{progress.current}" if progress.current else source

    def _load(self) -> dict[str, JobStatus]:
        raw = self._manifest.meta(META_KEY)
        if not raw:
            return {}
        try:
            items = json.loads(raw)
            jobs = [JobStatus.from_dict(item) for item in items]
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("stored reindex jobs unreadable, ignored error=%s", exc)
            return {}
        return {job.job_id: job for job in jobs[-self._keep :]}

    def _persist(self) -> None:
        with self._lock:
            jobs = list(self._history.values())
            if self._active is not None:
                jobs.append(self._active.snapshot(self._monotonic()))
            payload = json.dumps([j.as_dict() for j in jobs[-self._keep :]])
        try:
            self._manifest.set_meta(META_KEY, payload)
        except LotseError as exc:
            logger.warning("cannot store reindex jobs error=%s", exc)
