"""One process owns the stores (DESIGN decision 4): an advisory lock file in the data directory.

The lock is an ``flock`` on ``<data_dir>/lotse.lock``; the kernel drops it when the owner dies,
even by ``kill -9``, so a crash never leaves a stale lock behind. The file's text names the owner
so the refusal can say who holds it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from models.errors import StoreLocked


class DataDirLock:
    def __init__(self, data_dir: Path, purpose: str) -> None:
        self.path = data_dir / "lotse.lock"
        self.data_dir = data_dir
        self.purpose = purpose
        self._fd: int | None = None

    def acquire(self) -> DataDirLock:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise StoreLocked(str(self.data_dir), owner) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"`{self.purpose}` (pid {os.getpid()})".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
