"""A document loader that holds one file back, so a reindex job is really running while a test
does something else (asks questions, cancels the job, removes its source)."""

from __future__ import annotations

import threading
from pathlib import Path

from knowledge.documents import Document
from knowledge.indexer import InProcessLoader
from knowledge.loaders import LoadLimits


class GateLoader(InProcessLoader):
    """Loads in-process; the file named ``block_on`` waits until ``release`` is set (at most
    ``hold_s``); ``entered`` is set once it waits."""

    def __init__(self, block_on: str | None = None, *, hold_s: float = 20.0) -> None:
        self.block_on = block_on
        self.hold_s = hold_s
        self.entered = threading.Event()
        self.release = threading.Event()

    def load(
        self, path: Path, *, source_id: str, source: str, acl: tuple[str, ...], limits: LoadLimits
    ) -> Document:
        if source_id == self.block_on:
            self.entered.set()
            assert self.release.wait(self.hold_s), "the test never released the loader"
        return super().load(path, source_id=source_id, source=source, acl=acl, limits=limits)
