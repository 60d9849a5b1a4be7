"""``SafeLoader``: ``load_file`` in one long-lived worker process that can be killed.

Parsers of untrusted files can hang (pathological PDFs), exhaust memory or crash the
interpreter (C extensions). The worker is started with the ``spawn`` (or ``forkserver``) method,
never ``fork``: the parent may hold model threads whose locks a forked child would inherit.
A timeout kills and restarts the worker; a crash becomes ``UnsupportedDocument`` with a reason
and the next call gets a fresh worker. Not thread-safe across processes, but calls from several
threads are serialised.

    with SafeLoader() as loader:
        document = loader.load(path, source_id="it/vpn.md")
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from knowledge.documents import DEFAULT_ACL, Document
from knowledge.loaders.files import LoadLimits, check_size, load_file
from models.errors import LotseError, UnsupportedDocument

logger = logging.getLogger(__name__)

START_METHODS = ("spawn", "forkserver")
_JOIN_TIMEOUT_S = 5.0


class LoaderFunction(Protocol):
    """What the worker runs: ``load_file`` or a module-level function with its signature."""

    def __call__(
        self,
        path: Path,
        *,
        source_id: str,
        source: str,
        acl: tuple[str, ...],
        limits: LoadLimits,
    ) -> Document: ...


class SafeLoader:
    """Owns one worker process running ``loader`` (``load_file`` by default)."""

    def __init__(
        self,
        *,
        loader: LoaderFunction = load_file,
        start_method: str = "spawn",
        startup_timeout_s: float = 60.0,
    ) -> None:
        if start_method not in START_METHODS:
            raise ValueError(f"start_method must be one of {START_METHODS}, not {start_method!r}")
        self._loader = loader
        self._context: BaseContext = multiprocessing.get_context(start_method)
        self._startup_timeout_s = startup_timeout_s
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None
        self._ready = False
        self._lock = threading.Lock()
        self.restarts = 0

    def __enter__(self) -> SafeLoader:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def worker_pid(self) -> int | None:
        """The worker's process id (``None`` before start and after close)."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the worker if it is not running (``load`` does this on demand)."""
        if self._process is not None and self._process.is_alive():
            return
        self._discard_worker()
        parent_end, child_end = self._context.Pipe(duplex=True)
        process = self._context.Process(  # type: ignore[attr-defined]
            target=_worker_main,
            args=(child_end, self._loader),
            name="lotse-document-loader",
            daemon=True,
        )
        process.start()
        child_end.close()
        self._process, self._connection, self._ready = process, parent_end, False
        logger.debug("loader worker started pid=%s", process.pid)

    def close(self) -> None:
        """Stop the worker: politely first, then by force."""
        with self._lock:
            if self._connection is not None and self._process is not None:
                with contextlib.suppress(OSError):
                    self._connection.send(None)
                self._process.join(_JOIN_TIMEOUT_S)
            self._discard_worker()

    def load(
        self,
        path: Path,
        *,
        source_id: str,
        source: str = "default",
        acl: tuple[str, ...] = DEFAULT_ACL,
        limits: LoadLimits = LoadLimits(),  # noqa: B008 - frozen, safe to share
    ) -> Document:
        """Load ``path`` in the worker; raise ``UnsupportedDocument`` on any failure."""
        path = Path(path)
        with contextlib.suppress(OSError):  # the worker reports unreadable files with the reason
            check_size(path, path.stat().st_size, limits)
        job = (str(path), {"source_id": source_id, "source": source, "acl": acl, "limits": limits})
        with self._lock:
            connection = self._send(job)
            if not connection.poll(limits.timeout_s):
                self._restart(f"timeout path={path.name}")
                raise UnsupportedDocument(str(path), f"timed out after {limits.timeout_s:g} s")
            try:
                status, value = connection.recv()
            except (EOFError, OSError):
                reason = self._crash_reason()
                self._restart(f"crash path={path.name}")
                raise UnsupportedDocument(str(path), reason) from None
            if status == "ok" and isinstance(value, Document):
                return value
            if status == "fatal":
                self._restart(f"fatal path={path.name}")
            raise UnsupportedDocument(str(path), str(value))

    def _send(self, job: tuple[str, dict[str, Any]]) -> Connection:
        for attempt in (1, 2):
            self.start()
            connection = self._wait_ready()
            try:
                connection.send(job)
                return connection
            except OSError as exc:
                if attempt == 2:
                    reason = "the loader process is not reachable"
                    raise UnsupportedDocument(job[0], reason) from exc
                self._restart("broken pipe")
        raise AssertionError("unreachable")

    def _wait_ready(self) -> Connection:
        assert self._connection is not None
        if self._ready:
            return self._connection
        started = time.monotonic()
        try:
            if self._connection.poll(self._startup_timeout_s):
                message = self._connection.recv()
                if message == ("ready", None):
                    self._ready = True
                    logger.debug("loader worker ready ms=%d", (time.monotonic() - started) * 1000)
                    return self._connection
        except (EOFError, OSError):
            pass
        reason = self._crash_reason()
        self._discard_worker()
        raise LotseError(
            f"the document loader process did not start: {reason}",
            hint="check that the lotse package is importable by a fresh Python interpreter",
        )

    def _crash_reason(self) -> str:
        process = self._process
        if process is None:
            return "the loader process is gone"
        process.join(_JOIN_TIMEOUT_S)
        code = process.exitcode
        if code is None:
            return "the loader process stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            return f"the loader crashed ({name})"
        return f"the loader process exited unexpectedly (exit code {code})"

    def _restart(self, why: str) -> None:
        logger.warning("loader worker restarted reason=%s", why)
        self.restarts += 1
        self._discard_worker()
        self.start()

    def _discard_worker(self) -> None:
        process, connection = self._process, self._connection
        self._process, self._connection, self._ready = None, None, False
        if process is not None:
            if process.is_alive():
                process.kill()
            process.join(_JOIN_TIMEOUT_S)
            process.close()
        if connection is not None:
            connection.close()


def _worker_main(connection: Connection, loader: LoaderFunction) -> None:
    """The worker loop: receive ``(path, kwargs)``, reply ``(status, Document | reason)``."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged-PDF chatter is not news here
    connection.send(("ready", None))
    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError):
            return  # the parent went away
        if job is None:
            return
        path, kwargs = job
        reply: tuple[str, object]
        try:
            reply = ("ok", loader(Path(path), **kwargs))
        except UnsupportedDocument as exc:
            reply = ("unsupported", exc.reason)
        except MemoryError:
            reply = ("fatal", "ran out of memory while reading the file")
        except Exception as exc:  # a custom loader's bug must not kill the worker loop
            reply = ("unsupported", f"loader failed ({type(exc).__name__}: {exc})"[:300])
        try:
            connection.send(reply)
        except OSError:
            return
        if reply[0] == "fatal":
            return
